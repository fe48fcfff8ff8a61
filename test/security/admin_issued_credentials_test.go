package security

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: an admin reads patient data as a clinician without break-glass,
// by issuing a credential in the clinician's name (a sign-in link, or a
// password) and using it. A credential an admin issues for another person
// opens a session that can do nothing but set the person's own password;
// who issued what for whom is recorded and listed for review, and every
// access in such a session names the issuer in the audit log.

// auditRows reads the audit export as plain JSON objects.
func auditRows(t *testing.T, s *harness.Service, patient string) []map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL()+"/api/v1/audit?patient="+patient, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Admin())
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		out = append(out, m)
	}
	return out
}

// mustSetPassword requires the answer of a session that must first set
// its password: 403 with the code the UI acts on.
func mustSetPassword(t *testing.T, st int, body string) {
	t.Helper()
	require.Equal(t, http.StatusForbidden, st, body)
	require.Contains(t, body, `"code":"password_change_required"`)
}

func TestAnAdminCannotReadPatientDataThroughASignInLinkItIssued(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	link := s.SignInLinkFor(t, s.Admin(), "doc1", "clinician")

	b := s.NewBrowserClient(t)
	st, body := b.SignInWithCode(harness.LinkCode(t, link.URL))
	require.Equal(t, http.StatusOK, st, body)
	require.Contains(t, body, `"must_set_password":true`)

	for _, path := range []string{"/api/v1/patients/p1", "/api/v1/patients/p1/readings", "/api/v1/dashboard", "/api/v1/me/patients",
		"/fhir/r4/Patient/p1"} {
		st, body := b.Do("GET", path, "")
		mustSetPassword(t, st, body)
	}
	_, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/live", b.SocketHeader())
	require.Error(t, err, "no live socket before the password is set")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	st, _ = b.Do("GET", "/api/v1/session", "")
	require.Equal(t, http.StatusOK, st, "the page may ask who is signed in")

	st, body = b.Do("POST", "/api/v1/session/password", `{"username":"doc1.login","password":"short"}`)
	require.Equal(t, http.StatusBadRequest, st, body)
	st, body = b.Do("POST", "/api/v1/session/password", `{"username":"doc1.login","password":"a passphrase of my own"}`)
	require.Equal(t, http.StatusNoContent, st, body)
	st, _ = b.Do("GET", "/api/v1/patients/p1", "")
	require.Equal(t, http.StatusOK, st, "after setting a password the session is ordinary")

	t.Run("every access in the session names the admin who issued the link", func(t *testing.T) {
		var flagged, reads int
		for _, e := range auditRows(t, s, "p1") {
			if e["actor"] == "doc1" && e["action"] == "GET /api/v1/patients/{id}" {
				reads++
				require.Equal(t, "root", e["issued_by"], "access in a session opened by root's link: %v", e)
				if e["outcome"] == "allowed" {
					flagged++
				}
			}
		}
		require.Equal(t, 1, flagged, "one allowed read, after the password was set")
		require.Equal(t, 2, reads, "the refused read before it is audited too")
	})

	t.Run("the issuance is listed for review, for admins only", func(t *testing.T) {
		var issued []map[string]any
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/issued-credentials", s.Admin(), nil, &issued)
		require.Len(t, issued, 1)
		require.Equal(t, "signin-link", issued[0]["kind"])
		require.Equal(t, "root", issued[0]["issued_by"])
		require.Equal(t, "doc1", issued[0]["subject"])
		require.NotEmpty(t, issued[0]["used_at"])
		require.NotEmpty(t, issued[0]["password_set_at"])
		s.MustCall(t, http.StatusForbidden, "GET", "/api/v1/issued-credentials", s.Clinician("doc1"), nil, nil)
	})

	t.Run("the password the person set signs in to an ordinary session", func(t *testing.T) {
		c := s.NewBrowserClient(t)
		st, body := c.Do("POST", "/api/v1/session", `{"username":"doc1.login","password":"a passphrase of my own"}`)
		require.Equal(t, http.StatusOK, st, body)
		require.NotContains(t, body, "must_set_password")
		st, _ = c.Do("GET", "/api/v1/patients/p2", "")
		require.Equal(t, http.StatusOK, st)
		for _, e := range auditRows(t, s, "p2") {
			if e["actor"] == "doc1" {
				require.Empty(t, e["issued_by"], "a session of the person's own password is not flagged")
			}
		}
	})
}

func TestAPasswordAnAdminSetMustBeReplacedAtFirstSignIn(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/users", s.Admin(),
		`{"username":"doc2.login","subject":"doc2","role":"clinician","password":"admin chose this one"}`, nil)

	b := s.NewBrowserClient(t)
	st, body := b.Do("POST", "/api/v1/session", `{"username":"doc2.login","password":"admin chose this one"}`)
	require.Equal(t, http.StatusOK, st, body)
	require.Contains(t, body, `"must_set_password":true`)
	st, body = b.Do("GET", "/api/v1/patients/p1", "")
	mustSetPassword(t, st, body)
	st, body = b.Do("POST", "/api/v1/patients/p1/break-glass", `{"reason":"just looking around here"}`)
	mustSetPassword(t, st, body)

	st, body = b.Do("POST", "/api/v1/session/password", `{"password":"doc2 picked this herself"}`)
	require.Equal(t, http.StatusNoContent, st, body)
	st, _ = b.Do("GET", "/api/v1/patients/p1", "")
	require.Equal(t, http.StatusOK, st)

	st, _ = s.NewBrowserClient(t).Do("POST", "/api/v1/session", `{"username":"doc2.login","password":"admin chose this one"}`)
	require.Equal(t, http.StatusUnauthorized, st, "the admin's password no longer signs in")

	var issued []map[string]any
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/issued-credentials", s.Admin(), nil, &issued)
	require.Len(t, issued, 1)
	require.Equal(t, "password", issued[0]["kind"])
	require.Equal(t, "doc2", issued[0]["subject"])
	require.Equal(t, "doc2.login", issued[0]["username"])
	require.NotEmpty(t, issued[0]["password_set_at"])
}

func TestTheUIAsksForANewPasswordAfterAnAdminIssuedSignIn(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	browser := testenv.StartBrowser(t)
	link := s.SignInLinkFor(t, s.Admin(), "doc1", "clinician")

	tab := browser.Tab(t)
	tab.Go(link.URL)
	tab.Wait(`document.querySelector('#set-password-form')`, 15*time.Second)
	require.Empty(t, harness.Axe(t, tab), "serious accessibility violations on the set-password page")
	t.Logf("screenshot: %s", tab.Screenshot("set-password"))
	testenv.Eval[bool](tab, `(document.querySelector('#new-username').value = 'doc1.login', true)`)
	testenv.Eval[bool](tab, `(document.querySelector('#new-password').value = 'a passphrase of my own', true)`)
	testenv.Eval[bool](tab, `(document.querySelector('#new-password-again').value = 'a passphrase of my own', true)`)
	testenv.Eval[bool](tab, `document.querySelector('#set-password-form button[type=submit]').click() || true`)
	tab.Wait(`document.querySelector('#who') && document.querySelector('#who').textContent.includes('Signed in as doc1')`, 15*time.Second)
	tab.Wait(`!document.querySelector('#set-password-form') && location.hash === '#/'`, 15*time.Second)
	require.False(t, strings.Contains(testenv.Eval[string](tab, `document.body.textContent`), "password_change_required"))
	t.Logf("screenshot: %s", tab.Screenshot("after-set-password"))
}
