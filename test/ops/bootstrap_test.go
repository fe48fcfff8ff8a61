package ops

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
)

// runBin runs the vitalwire binary and returns its exit status, stdout and
// stderr.
func runBin(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errb.String()
	}
	require.NoError(t, err, "run vitalwire %v", args)
	return 0, out.String(), errb.String()
}

var initialPassword = regexp.MustCompile(`(?m)^  (\S{20,})$`)

// A new install gets its first admin without the dev mode: the command
// prints an initial password, which signs in only to set the admin's own;
// a second bootstrap is refused; the creation is in the audit trail.
func TestBootstrapAdminCreatesTheFirstAdminOnce(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	data := svc.Config().DataDir

	code, out, errOut := runBin(t, "bootstrap-admin", "--username", "it.admin", "--data-dir", data, "--server", svc.URL())
	require.Equal(t, 0, code, errOut)
	m := initialPassword.FindStringSubmatch(out)
	require.NotNil(t, m, "the initial password is printed: %s", out)
	password := m[1]
	require.Contains(t, out, svc.URL()+"/#/signin")

	b := svc.NewBrowserClient(t)
	body, _ := json.Marshal(httpapi.SignInRequest{Username: "it.admin", Password: password})
	status, ans := b.Do("POST", "/api/v1/session", string(body))
	require.Equal(t, http.StatusOK, status, ans)
	var info httpapi.SessionInfo
	require.NoError(t, json.Unmarshal([]byte(ans), &info))
	require.Equal(t, "it.admin", info.Subject)
	require.Equal(t, auth.RoleAdmin, info.Role)
	require.True(t, info.MustSetPassword, "the initial password only lets the admin set their own")
	status, _ = b.Do("GET", "/api/v1/devices", "")
	require.Equal(t, http.StatusForbidden, status, "nothing else until the admin's own password is set")

	code, _, errOut = runBin(t, "bootstrap-admin", "--username", "someone.else", "--data-dir", data, "--server", svc.URL())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "an admin exists already")

	resp, err := svc.HTTP.Do(mustReq(t, "GET", svc.URL()+"/api/v1/audit", svc.Admin()))
	require.NoError(t, err)
	defer resp.Body.Close()
	var found, refusedSecond bool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var e auth.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Actor == "bootstrap" && e.Action == "POST /api/v1/users" && e.Outcome == "allowed" {
			require.False(t, found, "one user created by the bootstrap")
			found = true
		}
		refusedSecond = refusedSecond || strings.Contains(sc.Text(), "someone.else")
	}
	require.True(t, found, "the bootstrap's creation of the admin is audited")
	require.False(t, refusedSecond, "the refused second bootstrap created nothing")
	code, report := svc.AuditVerify(t)
	require.Equal(t, 0, code, report)
}

func mustReq(t testing.TB, method, url, token string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}
