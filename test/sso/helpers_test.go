package sso

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// nodeDir is the test tool directory of the provider and the JOSE client.
func nodeDir(t testing.TB) string {
	return testenv.NodePackages(t, filepath.Join("..", "node", "oidc"))
}

type user struct {
	Password string         `json:"password"`
	Claims   map[string]any `json:"claims"`
	Mint     string         `json:"mint,omitempty"`
}

const (
	clientID     = "vitalwire"
	clientSecret = "test-client-secret-of-32-characters"
)

// startProvider runs the OpenID provider for a Vitalwire at base and
// returns its issuer.
func startProvider(t testing.TB, base string, users map[string]user, scopes ...string) string {
	t.Helper()
	dir := nodeDir(t)
	cfg, err := json.Marshal(map[string]any{"client_id": clientID, "client_secret": clientSecret,
		"redirect_uri": base + "/auth/oidc/callback", "post_logout_redirect_uri": base + "/", "users": users, "scopes": scopes})
	require.NoError(t, err)
	cmd := exec.Command(testenv.NodeBinary(), "provider.mjs", string(cfg))
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		require.True(t, ok, "the provider exited: %s", stderr.String())
		var ready struct{ Issuer string }
		require.NoError(t, json.Unmarshal([]byte(l), &ready), l)
		return ready.Issuer
	case <-time.After(2 * time.Minute): // generous: only a starved machine takes more than a second or two
		t.Fatalf("the provider did not start: %s", stderr.String())
	}
	return ""
}

// withSSO configures single sign-on at issuer for a service at addr.
func withSSO(cfg *auth.OIDCConfig, issuer string) {
	*cfg = auth.OIDCConfig{Issuer: issuer, Name: "Test Hospital", ClientID: clientID, ClientSecret: clientSecret,
		Scopes: []string{"profile", "email"}, RolesClaim: "roles", AdminRoles: []string{"vitalwire-admin"},
		ClinicianRoles: []string{"vitalwire-clinician"}, CareTeamsClaim: "care_teams"}
}

// freeAddr is a loopback address on a free port: the provider must know
// Vitalwire's redirect URL before Vitalwire starts.
func freeAddr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }

// signInOverHTTP goes through the sign-in as a browser does (redirects,
// the provider's login form) with an HTTP client, and returns the client,
// its cookies and the URL it ended on.
func signInOverHTTP(t testing.TB, base, login, password string) (*http.Client, *cookiejar.Jar, *url.URL) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	res, err := c.Get(base + "/auth/oidc/login")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the provider's login page: %s", body)
	require.Contains(t, string(body), `name="login"`, "the provider's login page")
	form := res.Request.URL.ResolveReference(&url.URL{Path: res.Request.URL.Path + "/login"})
	res, err = c.PostForm(form.String(), url.Values{"login": {login}, "password": {password}})
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return c, jar, res.Request.URL
}

// hasSession reports whether jar holds a Vitalwire session for base.
func hasSession(jar *cookiejar.Jar, base string) bool {
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "vw_session" && ck.Value != "" {
			return true
		}
	}
	return false
}

// auditEvents exports the audit log as an admin.
func auditEvents(t testing.TB, s *harness.Service) []auth.Event {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL()+"/api/v1/audit", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Admin())
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var out []auth.Event
	dec := json.NewDecoder(res.Body)
	for dec.More() {
		var e auth.Event
		require.NoError(t, dec.Decode(&e))
		out = append(out, e)
	}
	return out
}

// findEvent returns the events with action and actor.
func findEvents(evs []auth.Event, action, actor string) []auth.Event {
	var out []auth.Event
	for _, e := range evs {
		if e.Action == action && (actor == "" || e.Actor == actor) {
			out = append(out, e)
		}
	}
	return out
}
