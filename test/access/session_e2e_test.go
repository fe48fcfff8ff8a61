package access

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestBrowserSessions(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Auth.SessionIdle = 10 * time.Second
	s := harness.Start(t, cfg)
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "Ada", BirthDate: "1950-01-01", SpO2Scale: 1})
	s.AddTeam(t, "ward", "Ward")
	s.AddMember(t, "ward", "clinician", "doc")
	s.AddMember(t, "ward", "patient", "p1")
	wsURL := s.WSURL() + "/ws/v1/live"

	t.Run("the UI is served from the binary under a strict content policy", func(t *testing.T) {
		for _, path := range []string{"/", "/app.js", "/visit.js", "/app.css"} {
			resp, err := http.Get(s.URL() + path)
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
		link := s.SignInLink("doc", auth.RoleClinician, time.Minute)
		b := s.NewBrowserClient(t)
		req, _ := http.NewRequest("POST", s.URL()+"/api/v1/session", strings.NewReader(`{"code":"`+signInCode(t, link)+`"}`))
		req.Header.Set("Origin", s.URL())
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		sc := resp.Header.Get("Set-Cookie")
		require.Contains(t, sc, "HttpOnly")
		require.Contains(t, sc, "SameSite=Strict")
		code, body := b.SignInWithLink(link)
		require.Equal(t, http.StatusUnauthorized, code)
		require.Contains(t, body, "used before")
	})

	t.Run("a sign-in link is not a bearer token, nor a token a sign-in link", func(t *testing.T) {
		code, err := url.QueryUnescape(signInCode(t, s.SignInLink("doc", auth.RoleClinician, time.Minute)))
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, s.Call(t, "GET", "/api/v1/me/patients", code, nil, nil))
		tok, _ := s.Token("doc", auth.RoleClinician, time.Hour)
		b := s.NewBrowserClient(t)
		st, _ := b.Do("POST", "/api/v1/session", `{"code":"`+tok+`"}`)
		require.Equal(t, http.StatusUnauthorized, st)
	})

	b := s.NewBrowserClient(t)
	st, _ := b.SignInWithLink(s.SignInLink("doc", auth.RoleClinician, time.Minute))
	require.Equal(t, http.StatusOK, st)

	t.Run("the cookie reaches the care team's patients and no one else's", func(t *testing.T) {
		st, body := b.Do("GET", "/api/v1/dashboard", "")
		require.Equal(t, http.StatusOK, st)
		require.Contains(t, body, `"id":"p1"`)
		st, _ = b.Do("GET", "/api/v1/patients/p1", "")
		require.Equal(t, http.StatusOK, st)
		st, _ = b.Do("GET", "/api/v1/devices", "")
		require.Equal(t, http.StatusForbidden, st, "a clinician is not an admin")
	})

	t.Run("a cross-site request with the cookie is refused", func(t *testing.T) {
		st, _ := b.Do("POST", "/api/v1/session/activity", "", "Origin", "http://evil.example", "Sec-Fetch-Site", "")
		require.Equal(t, http.StatusForbidden, st)
		st, _ = b.Do("POST", "/api/v1/session/activity", "", "Sec-Fetch-Site", "cross-site")
		require.Equal(t, http.StatusForbidden, st)
		st, _ = b.Do("POST", "/api/v1/session/activity", "")
		require.Equal(t, http.StatusNoContent, st)
		// A WebSocket opened by another site's page with the cookie.
		hdr := b.SocketHeader()
		hdr.Set("Origin", "http://evil.example")
		_, resp, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		hdr.Set("Origin", s.URL())
		conn, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		require.NoError(t, err)
		conn.Close()
	})

	t.Run("passwords: hashed, checked, locked after five failures", func(t *testing.T) {
		admin := s.Admin()
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/users", admin,
			`{"username":"nurse.kim","subject":"kim","role":"clinician","password":"short"}`, nil))
		require.Equal(t, http.StatusNoContent, s.Call(t, "POST", "/api/v1/users", admin,
			`{"username":"nurse.kim","subject":"kim","role":"clinician","password":"correct horse battery"}`, nil))
		var users []auth.User
		require.Equal(t, http.StatusOK, s.Call(t, "GET", "/api/v1/users", admin, nil, &users))
		require.Len(t, users, 1)
		k := s.NewBrowserClient(t)
		st, _ := k.Do("POST", "/api/v1/session", `{"username":"nurse.kim","password":"correct horse battery"}`)
		require.Equal(t, http.StatusOK, st)
		st, body := k.Do("GET", "/api/v1/session", "")
		require.Equal(t, http.StatusOK, st)
		var who httpapi.SessionInfo
		require.NoError(t, json.Unmarshal([]byte(body), &who), body)
		require.Equal(t, "kim", who.Subject)
		m := s.NewBrowserClient(t)
		for i := 0; i < 5; i++ {
			st, _ := m.Do("POST", "/api/v1/session", `{"username":"nurse.kim","password":"wrong guess number"}`)
			require.Equal(t, http.StatusUnauthorized, st)
		}
		st, body = m.Do("POST", "/api/v1/session", `{"username":"nurse.kim","password":"correct horse battery"}`)
		require.Equal(t, http.StatusUnauthorized, st)
		require.Contains(t, body, "too many failed sign-ins")
	})

	t.Run("sessions log off after the idle time unless there is activity", func(t *testing.T) {
		idle := s.NewBrowserClient(t)
		st, _ := idle.SignInWithLink(s.SignInLink("doc", auth.RoleClinician, time.Minute))
		require.Equal(t, http.StatusOK, st)
		busy := s.NewBrowserClient(t)
		st, _ = busy.SignInWithLink(s.SignInLink("doc", auth.RoleClinician, time.Minute))
		require.Equal(t, http.StatusOK, st)
		for i := 0; i < 2; i++ {
			time.Sleep(4 * time.Second)
			// background refreshes do not count as activity
			st, _ = idle.Do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
			require.Equal(t, http.StatusOK, st, "still signed in after %d s", (i+1)*4)
			st, _ = busy.Do("POST", "/api/v1/session/activity", "")
			require.Equal(t, http.StatusNoContent, st)
		}
		time.Sleep(3 * time.Second) // 11 s after sign-in, 3 s after the busy one's last activity
		st, _ = idle.Do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
		require.Equal(t, http.StatusUnauthorized, st, "idle session logged off")
		st, _ = busy.Do("GET", "/api/v1/dashboard", "")
		require.Equal(t, http.StatusOK, st, "active session kept")
	})

	t.Run("signing out ends the session and closes its live socket", func(t *testing.T) {
		b := s.NewBrowserClient(t) // the first session has been idle past its time
		st, _ := b.SignInWithLink(s.SignInLink("doc", auth.RoleClinician, time.Minute))
		require.Equal(t, http.StatusOK, st)
		conn, _, err := websocket.DefaultDialer.Dial(wsURL, b.SocketHeader())
		require.NoError(t, err)
		defer conn.Close()
		st, _ = b.Do("DELETE", "/api/v1/session", "")
		require.Equal(t, http.StatusNoContent, st)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err = conn.ReadMessage()
		require.Error(t, err)
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
		st, _ = b.Do("GET", "/api/v1/dashboard", "")
		require.Equal(t, http.StatusUnauthorized, st)
	})
}
