package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

// SignIn opens a one-time sign-in link in a fresh browser context and
// waits until the page says who is signed in.
func (s *Service) SignIn(t testing.TB, b *testenv.Browser, subject string, role auth.Role) *testenv.Tab {
	t.Helper()
	tab := b.Tab(t)
	tab.Go(s.SignInLink(subject, role, 5*time.Minute))
	tab.Wait(`document.querySelector('#who') && document.querySelector('#who').textContent.includes('Signed in as `+subject+`')`, 15*time.Second)
	return tab
}

// Axe runs axe-core in the page and returns the serious and critical
// violations (the others are logged).
func Axe(t testing.TB, tab *testenv.Tab) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "web", "testdata", "axe", "axe.min.js"))
	require.NoError(t, err)
	testenv.Eval[bool](tab, string(src)+";true")
	res := testenv.Eval[string](tab, `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify({passes: r.passes.length,
		violations: r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))}))`)
	var out struct {
		Passes     int
		Violations []struct {
			ID, Impact string
			Nodes      []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(res), &out))
	require.Greater(t, out.Passes, 10, "axe checked the page")
	var bad []string
	for _, v := range out.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, fmt.Sprintf("%s (%s) at %v", v.ID, v.Impact, v.Nodes))
		} else {
			t.Logf("axe, %s: %s at %v", v.Impact, v.ID, v.Nodes)
		}
	}
	return bad
}

// moduleRoot is the folder of go.mod above the test's working directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's folder")
		dir = parent
	}
}

// TabTo presses Tab until the focused element matches the selector and
// returns how many presses it took: the page is usable without a mouse.
func TabTo(t testing.TB, tab *testenv.Tab, selector string) int {
	t.Helper()
	for i := 1; i <= 150; i++ {
		tab.Key("\t")
		if testenv.Eval[bool](tab, `document.activeElement && document.activeElement.matches(`+JSString(selector)+`)`) {
			return i
		}
	}
	tab.Screenshot("tab-not-found")
	t.Fatalf("Tab never reached %s", selector)
	return 0
}

// BrowserClient is an HTTP client with its own cookie jar that sends the
// headers a browser sends for a same-origin request.
type BrowserClient struct {
	t      testing.TB
	base   string
	jar    *jar
	client *http.Client
}

// NewBrowserClient is a browser without a session yet.
func (s *Service) NewBrowserClient(t testing.TB) *BrowserClient {
	j := &jar{c: map[string]*http.Cookie{}}
	return &BrowserClient{t: t, base: s.URL(), jar: j, client: &http.Client{Jar: j}}
}

// Do sends a request; headers are extra header pairs, set over the
// browser's own. It returns the status and the body.
func (b *BrowserClient) Do(method, path, body string, headers ...string) (int, string) {
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

// SignInWithLink redeems a one-time sign-in link.
func (b *BrowserClient) SignInWithLink(link string) (int, string) {
	b.t.Helper()
	u, err := url.Parse(link)
	require.NoError(b.t, err)
	code := strings.TrimPrefix(u.Fragment, "/signin?code=")
	body, _ := json.Marshal(map[string]string{"code": code})
	return b.Do("POST", "/api/v1/session", string(body))
}

// SocketHeader is what the browser sends opening a WebSocket from one of
// the service's pages: its Origin and its cookies.
func (b *BrowserClient) SocketHeader() http.Header {
	hdr := http.Header{"Origin": {b.base}}
	for _, c := range b.jar.Cookies(nil) {
		hdr.Add("Cookie", c.Name+"="+c.Value)
	}
	return hdr
}

type jar struct {
	mu sync.Mutex
	c  map[string]*http.Cookie
}

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
