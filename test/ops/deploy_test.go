package ops

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// docs/DEPLOY.md "With systemd", step by step, in a folder standing in for
// the machine's root: the unit's configuration installed, certificates
// made, the binary started as the unit starts it (its ExecStart, its
// UMask), the first admin bootstrapped, signed in over TLS, the admin's
// own password set; then a stop drains and the audit trail verifies.
func TestDeployWithSystemdStepByStep(t *testing.T) {
	t.Parallel()
	dir := root(t)
	bin := harness.Binary(t)
	sys := t.TempDir() // "/"
	at := func(p string) string { return filepath.Join(sys, p) }
	httpPort, mqttPort := testenv.FreePort(t), testenv.FreePort(t)

	// Step 2: the configuration, as shipped, with this machine's names.
	// (Here the paths move under the stand-in root and the listeners to
	// free loopback ports; nothing else changes.)
	shipped, err := os.ReadFile(filepath.Join(dir, "deploy/systemd/vitalwire.yaml"))
	require.NoError(t, err)
	conf := strings.NewReplacer(
		"/etc/vitalwire", at("etc/vitalwire"), "/var/lib/", at("var/lib")+"/",
		"0.0.0.0:8443", fmt.Sprintf("127.0.0.1:%d", httpPort), "0.0.0.0:8883", fmt.Sprintf("127.0.0.1:%d", mqttPort),
		"https://vitalwire.example.org:8443", fmt.Sprintf("https://localhost:%d", httpPort),
	).Replace(string(shipped))
	require.NoError(t, os.MkdirAll(at("etc/vitalwire"), 0o750))
	config := at("etc/vitalwire/vitalwire.yaml")
	require.NoError(t, os.WriteFile(config, []byte(conf), 0o640))
	// systemd makes the StateDirectory folders (0700) before the start.
	for _, d := range []string{"var/lib/vitalwire", "var/lib/vitalwire-audit"} {
		require.NoError(t, os.MkdirAll(at(d), 0o700))
	}

	// Step 3: certificates (a hospital's own, or dev-cert's for a trial).
	code, out, errOut := runBin(t, "dev-cert", "--out", at("etc/vitalwire/tls"), "--host", "localhost,127.0.0.1")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "server.pem")
	ca := at("etc/vitalwire/tls/ca.pem")

	// Step 4: start it as the unit does.
	s := unitSettings(t, filepath.Join(dir, "deploy/systemd/vitalwire.service"))
	exe := strings.Fields(strings.NewReplacer("/usr/local/bin/vitalwire", bin, "/etc/vitalwire", at("etc/vitalwire")).Replace(s["ExecStart"][0]))
	cmd := exec.Command("sh", "-c", `umask "$1"; shift; exec "$@"`, "sh", s["UMask"][0])
	cmd.Args = append(cmd.Args, exe...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	base := fmt.Sprintf("https://127.0.0.1:%d", httpPort)
	client := tlsClient(t, ca)
	require.Eventually(t, func() bool {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the service is ready over TLS: %s", &logs)
	if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)); err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP gets only Go's \"HTTP request to an HTTPS server\"")
	}

	// Step 5: the first admin.
	code, out, errOut = runBin(t, "bootstrap-admin", "--config", config, "--cacert", ca, "--username", "it.admin")
	require.Equal(t, 0, code, errOut)
	m := initialPassword.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Contains(t, out, fmt.Sprintf("https://localhost:%d/#/signin", httpPort), "the sign-in address is the external URL")

	// Step 6: sign in over TLS, set one's own password, sign in with it.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: client.Transport, Timeout: 10 * time.Second}
	call := func(method, path string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequest(method, base+path, strings.NewReader(string(b)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := browser.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(rb)
	}
	status, body := call("POST", "/api/v1/session", httpapi.SignInRequest{Username: "it.admin", Password: m[1]})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"must_set_password":true`)
	const own = "correct horse battery staple 42"
	status, body = call("POST", "/api/v1/session/password", httpapi.SetPasswordRequest{Password: own})
	require.Less(t, status, 300, body)
	call("DELETE", "/api/v1/session", nil)
	status, body = call("POST", "/api/v1/session", httpapi.SignInRequest{Username: "it.admin", Password: m[1]})
	require.Equal(t, http.StatusUnauthorized, status, "the initial password stopped working: %s", body)
	status, body = call("POST", "/api/v1/session", httpapi.SignInRequest{Username: "it.admin", Password: own})
	require.Equal(t, http.StatusOK, status, body)
	require.NotContains(t, body, "must_set_password")
	status, body = call("GET", "/api/v1/devices", nil)
	require.Equal(t, http.StatusOK, status, "signed in as the admin: %s", body)

	// The unit's UMask: nothing it wrote is readable by others.
	require.NoError(t, filepath.WalkDir(at("var/lib"), func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := d.Info()
		require.NoError(t, err)
		require.Zero(t, fi.Mode().Perm()&0o077, "%s is %s", p, fi.Mode().Perm())
		return nil
	}))
	require.FileExists(t, at("var/lib/vitalwire/records.db"))
	require.FileExists(t, at("var/lib/vitalwire-audit/audit-chain.key"))

	// systemctl stop: SIGTERM, drained well within TimeoutStopSec.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, "a clean stop: %s", &logs)
		done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("not stopped within TimeoutStopSec")
	}
	code, out, errOut = runBin(t, "audit", "verify", "--config", config)
	require.Equal(t, 0, code, out+errOut)
	require.Contains(t, out, "audit chain intact")
}

func tlsClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}
