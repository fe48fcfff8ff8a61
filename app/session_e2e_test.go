package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
)

// browserish is an HTTP client with its own cookie jar that sends the
// headers a browser sends for a same-origin request.
type browserish struct {
	t      *testing.T
	base   string
	jar    http.CookieJar
	client *http.Client
}

func newBrowserish(t *testing.T, a *app.App) *browserish {
	jar := newJar()
	return &browserish{t: t, base: a.URL(), jar: jar, client: &http.Client{Jar: jar}}
}

// do sends a request; headers are extra header pairs.
func (b *browserish) do(method, path, body string, headers ...string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, sb.String()
}

func (b *browserish) signInWithLink(link string) (int, string) {
	u, err := url.Parse(link)
	require.NoError(b.t, err)
	code := strings.TrimPrefix(u.Fragment, "/signin?code=")
	body, _ := json.Marshal(map[string]string{"code": code})
	return b.do("POST", "/api/v1/session", string(body))
}

type jar struct {
	mu sync.Mutex
	c  map[string]*http.Cookie
}

func newJar() *jar { return &jar{c: map[string]*http.Cookie{}} }

func (j *jar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j.c, c.Name)
		} else {
			j.c[c.Name] = c
		}
	}
}

func (j *jar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for _, c := range j.c {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

func TestBrowserSessions(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.SessionIdle = 10 * time.Second
	a := startApp(t, cfg)
	ctx := context.Background()
	_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "Ada", BirthDate: "1950-01-01", SpO2Scale: 1})
	require.NoError(t, err)
	require.NoError(t, a.Chart.AddTeam(ctx, "ward", "Ward"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "clinician", "doc"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "patient", "p1"))

	t.Run("the UI is served from the binary under a strict content policy", func(t *testing.T) {
		for _, path := range []string{"/", "/app.js", "/visit.js", "/app.css"} {
			resp, err := http.Get(a.URL() + path)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			csp := resp.Header.Get("Content-Security-Policy")
			require.Contains(t, csp, "default-src 'self'")
			require.Contains(t, csp, "script-src 'self'")
			require.Contains(t, csp, "frame-ancestors 'none'")
			require.NotContains(t, csp, "http", "no other origin is allowed")
		}
	})

	t.Run("a sign-in link works once and sets a strict HttpOnly cookie", func(t *testing.T) {
		link := a.SignInURL("doc", auth.RoleClinician, time.Minute).URL
		b := newBrowserish(t, a)
		req, _ := http.NewRequest("POST", a.URL()+"/api/v1/session", strings.NewReader(`{"code":"`+strings.TrimPrefix(mustFragment(t, link), "/signin?code=")+`"}`))
		req.Header.Set("Origin", a.URL())
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		sc := resp.Header.Get("Set-Cookie")
		require.Contains(t, sc, "HttpOnly")
		require.Contains(t, sc, "SameSite=Strict")
		code, body := b.signInWithLink(link)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "used before")
	})

	t.Run("a sign-in link is not a bearer token, nor a token a sign-in link", func(t *testing.T) {
		code := strings.TrimPrefix(mustFragment(t, a.SignInURL("doc", auth.RoleClinician, time.Minute).URL), "/signin?code=")
		code, _ = url.QueryUnescape(code)
		require.Equal(t, http.StatusUnauthorized, apiCall(t, a, "GET", "/api/v1/me/patients", code, "", nil))
		tok, _ := a.Signer.Mint("doc", auth.RoleClinician, time.Hour)
		b := newBrowserish(t, a)
		st, _ := b.do("POST", "/api/v1/session", `{"code":"`+tok+`"}`)
		require.Equal(t, http.StatusUnauthorized, st)
	})

	b := newBrowserish(t, a)
	st, _ := b.signInWithLink(a.SignInURL("doc", auth.RoleClinician, time.Minute).URL)
	require.Equal(t, http.StatusOK, st)

	t.Run("the cookie reaches the care team's patients and no one else's", func(t *testing.T) {
		st, body := b.do("GET", "/api/v1/dashboard", "")
		require.Equal(t, http.StatusOK, st)
		require.Contains(t, body, `"id":"p1"`)
		st, _ = b.do("GET", "/api/v1/patients/p1", "")
		require.Equal(t, http.StatusOK, st)
		st, _ = b.do("GET", "/api/v1/devices", "")
		require.Equal(t, http.StatusForbidden, st, "a clinician is not an admin")
	})

	t.Run("a cross-site request with the cookie is refused", func(t *testing.T) {
		st, _ := b.do("POST", "/api/v1/session/activity", "", "Origin", "http://evil.example", "Sec-Fetch-Site", "")
		require.Equal(t, http.StatusForbidden, st)
		st, _ = b.do("POST", "/api/v1/session/activity", "", "Sec-Fetch-Site", "cross-site")
		require.Equal(t, http.StatusForbidden, st)
		st, _ = b.do("POST", "/api/v1/session/activity", "")
		require.Equal(t, http.StatusNoContent, st)
		// A WebSocket opened by another site's page with the cookie.
		wsURL := strings.Replace(a.URL(), "http://", "ws://", 1) + "/ws/v1/live"
		hdr := http.Header{"Origin": {"http://evil.example"}}
		for _, c := range b.jar.Cookies(nil) {
			hdr.Add("Cookie", c.Name+"="+c.Value)
		}
		_, resp, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		hdr.Set("Origin", a.URL())
		conn, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		require.NoError(t, err)
		conn.Close()
	})

	t.Run("passwords: hashed, checked, locked after five failures", func(t *testing.T) {
		admin, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
		require.Equal(t, http.StatusBadRequest, apiCall(t, a, "POST", "/api/v1/users", admin,
			`{"username":"nurse.kim","subject":"kim","role":"clinician","password":"short"}`, nil))
		require.Equal(t, http.StatusNoContent, apiCall(t, a, "POST", "/api/v1/users", admin,
			`{"username":"nurse.kim","subject":"kim","role":"clinician","password":"correct horse battery"}`, nil))
		var users []auth.User
		require.Equal(t, http.StatusOK, apiCall(t, a, "GET", "/api/v1/users", admin, "", &users))
		require.Len(t, users, 1)
		k := newBrowserish(t, a)
		st, _ := k.do("POST", "/api/v1/session", `{"username":"nurse.kim","password":"correct horse battery"}`)
		require.Equal(t, http.StatusOK, st)
		st, body := k.do("GET", "/api/v1/session", "")
		require.Equal(t, http.StatusOK, st)
		require.Contains(t, body, `"subject":"kim"`)
		m := newBrowserish(t, a)
		for i := 0; i < 5; i++ {
			st, _ := m.do("POST", "/api/v1/session", `{"username":"nurse.kim","password":"wrong guess number"}`)
			require.Equal(t, http.StatusUnauthorized, st)
		}
		st, body = m.do("POST", "/api/v1/session", `{"username":"nurse.kim","password":"correct horse battery"}`)
		require.Equal(t, http.StatusUnauthorized, st)
		require.Contains(t, body, "too many failed sign-ins")
	})

	t.Run("sessions log off after the idle time unless there is activity", func(t *testing.T) {
		idle := newBrowserish(t, a)
		st, _ := idle.signInWithLink(a.SignInURL("doc", auth.RoleClinician, time.Minute).URL)
		require.Equal(t, http.StatusOK, st)
		busy := newBrowserish(t, a)
		st, _ = busy.signInWithLink(a.SignInURL("doc", auth.RoleClinician, time.Minute).URL)
		require.Equal(t, http.StatusOK, st)
		for i := 0; i < 2; i++ {
			time.Sleep(4 * time.Second)
			// background refreshes do not count as activity
			st, _ = idle.do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
			require.Equal(t, http.StatusOK, st, "still signed in after %d s", (i+1)*4)
			st, _ = busy.do("POST", "/api/v1/session/activity", "")
			require.Equal(t, http.StatusNoContent, st)
		}
		time.Sleep(3 * time.Second) // 11 s after sign-in, 3 s after the busy one's last activity
		st, _ = idle.do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
		require.Equal(t, http.StatusUnauthorized, st, "idle session logged off")
		st, _ = busy.do("GET", "/api/v1/dashboard", "")
		require.Equal(t, http.StatusOK, st, "active session kept")
	})

	t.Run("signing out ends the session and closes its live socket", func(t *testing.T) {
		b := newBrowserish(t, a) // the first session has been idle past its time
		st, _ := b.signInWithLink(a.SignInURL("doc", auth.RoleClinician, time.Minute).URL)
		require.Equal(t, http.StatusOK, st)
		wsURL := strings.Replace(a.URL(), "http://", "ws://", 1) + "/ws/v1/live"
		hdr := http.Header{"Origin": {a.URL()}}
		for _, c := range b.jar.Cookies(nil) {
			hdr.Add("Cookie", c.Name+"="+c.Value)
		}
		conn, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		require.NoError(t, err)
		defer conn.Close()
		st, _ = b.do("DELETE", "/api/v1/session", "")
		require.Equal(t, http.StatusNoContent, st)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err = conn.ReadMessage()
		require.Error(t, err)
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
		st, _ = b.do("GET", "/api/v1/dashboard", "")
		require.Equal(t, http.StatusUnauthorized, st)
	})
}

func mustFragment(t *testing.T, link string) string {
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Fragment
}
