package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/devcert"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: someone on the network path between a browser, a wearable's
// hub or the service and its broker or store. They downgrade TLS to weak
// suites, strip it (a browser that once used HTTPS is sent to HTTP),
// frame the pages, read cached answers, or read health data and
// credentials sent in the clear to an external broker or InfluxDB.

func startTLS(t *testing.T) (*harness.Service, *x509.CertPool) {
	t.Helper()
	files, err := devcert.Write(t.TempDir(), []string{"localhost", "127.0.0.1"})
	require.NoError(t, err)
	cfg := harness.Config(t)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = files.Cert, files.Key
	svc := harness.Start(t, cfg)
	ca, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	svc.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return svc, pool
}

func TestTLSOffersOnlyModernVersionsAndForwardSecretAEADSuites(t *testing.T) {
	t.Parallel()
	svc, pool := startTLS(t)
	httpsAddr := strings.TrimPrefix(svc.URL(), "https://")
	for _, addr := range []string{httpsAddr, svc.BrokerAddr()} {
		handshake := func(c *tls.Config) error {
			c.RootCAs, c.ServerName = pool, "127.0.0.1"
			conn, err := tls.Dial("tcp", addr, c)
			if err == nil {
				conn.Close()
			}
			return err
		}
		t.Run(addr+": TLS 1.3 and 1.2 with ECDHE and AES-GCM or ChaCha20 are taken", func(t *testing.T) {
			require.NoError(t, handshake(&tls.Config{MinVersion: tls.VersionTLS13}))
			require.NoError(t, handshake(&tls.Config{MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}))
			require.NoError(t, handshake(&tls.Config{MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}))
		})
		t.Run(addr+": TLS 1.1 is refused", func(t *testing.T) {
			require.Error(t, handshake(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}))
		})
		for _, suite := range []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		} {
			t.Run(addr+": TLS 1.2 with "+tls.CipherSuiteName(suite)+" is refused", func(t *testing.T) {
				require.Error(t, handshake(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}}))
			})
		}
	}
}

func TestUnderTLSEveryAnswerTellsBrowsersToStayOnHTTPSAndTheCookieIsSecure(t *testing.T) {
	t.Parallel()
	svc, _ := startTLS(t)
	svc.MustCall(t, http.StatusNoContent, "POST", "/api/v1/users", svc.Admin(),
		httpapi.UserRequest{Username: "nurse-tls", Subject: "nurse-tls", Role: auth.RoleClinician, Password: "correct horse battery"}, nil)
	for _, path := range []string{"/", "/app.js", "/healthz", "/api/v1/patients/p-1/readings", "/no/such/route"} {
		resp, err := svc.HTTP.Get(svc.URL() + path)
		require.NoError(t, err)
		resp.Body.Close()
		hsts := resp.Header.Get("Strict-Transport-Security")
		require.Contains(t, hsts, "max-age=", "GET %s (%d)", path, resp.StatusCode)
		require.NotContains(t, hsts, "max-age=0", "GET %s", path)
	}
	body := `{"username":"nurse-tls","password":"correct horse battery"}`
	resp, err := svc.HTTP.Post(svc.URL()+"/api/v1/session", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Cookies())
	for _, c := range resp.Cookies() {
		require.True(t, c.Secure && c.HttpOnly, "cookie %s: Secure and HttpOnly", c.Name)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite, "cookie %s", c.Name)
	}
}

func TestEveryAnswerCarriesTheSecurityHeadersErrorsAndStaticFilesToo(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	cases := []struct{ method, path, token string }{
		{"GET", "/", ""},                                    // the UI
		{"GET", "/app.js", ""},                              // a static file
		{"GET", "/healthz", ""},                             // public
		{"GET", "/api/v1/patients/p-1/readings", ""},        // 401
		{"GET", "/api/v1/devices", svc.Patient("p-1")},      // 403
		{"GET", "/no/such/route", ""},                       // 404
		{"DELETE", "/healthz", ""},                          // 405
		{"POST", "/api/v1/session", ""},                     // 400
		{"GET", "/fhir/r4/Patient/p-1", svc.Admin()},        // 403 without break-glass
		{"GET", "/api/v1/patients/p-1", svc.Clinician("c")}, // 403
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, svc.URL()+c.path, nil)
		require.NoError(t, err)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := svc.HTTP.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		what := fmt.Sprintf("%s %s (%d)", c.method, c.path, resp.StatusCode)
		h := resp.Header
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), what)
		require.Equal(t, "no-referrer", h.Get("Referrer-Policy"), what)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), what)
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", what)
		if c.path != "/no/such/route" {
			// net/http's file server drops Cache-Control from its own
			// error pages (a fixed "404 page not found").
			require.Contains(t, h.Get("Cache-Control"), "no-store", what)
		}
		require.Empty(t, h.Get("Strict-Transport-Security"), "%s: no HSTS over plain HTTP (loopback)", what)
	}
}

func TestHealthDataIsNotSentInTheClearToARemoteBrokerOrStore(t *testing.T) {
	t.Parallel()
	bin := harness.Binary(t)
	// 192.0.2.0/24 is TEST-NET-1: no one answers; the service must refuse
	// the configuration before it tries.
	for name, section := range map[string]string{
		"mqtt.broker": "broker:\n  embedded: false\nmqtt:\n  broker: tcp://192.0.2.10:1883\n  username: ingest\n  password: in-the-clear\n",
		"store.influx.url": fmt.Sprintf("broker:\n  embedded: true\n  addr: 127.0.0.1:%d\nstore:\n  kind: influx\n  influx:\n    url: http://192.0.2.10:8086\n    bucket: vitals\n    token: in-the-clear\n",
			testenv.FreePort(t)),
	} {
		t.Run(name+" over plaintext to a remote host is refused at start", func(t *testing.T) {
			dir := t.TempDir()
			config := filepath.Join(dir, "vitalwire.yaml")
			require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf("data_dir: %s\nhttp:\n  addr: 127.0.0.1:%d\n%s",
				dir, testenv.FreePort(t), section)), 0o600))
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "serve", "--config", config).CombinedOutput()
			require.NoError(t, ctx.Err(), "the service ran with %s in the clear:\n%s", name, out)
			require.Error(t, err)
			require.Contains(t, string(out), name, "the error names the field")
			require.Contains(t, string(out), "allow_plaintext", "and the way to say a protected network carries it")
			require.NotContains(t, string(out), "in-the-clear", "no credential in the output")
		})
	}
}

func TestARefusedBrokerLoginIsLoggedWithItsReasonAndNoPasswordOrTokenAnywhere(t *testing.T) {
	t.Parallel()
	if testenv.MosquittoBinary() == "" {
		testenv.Missing(t, "mosquitto not found")
	}
	bin := harness.Binary(t)
	const password, token = "WRONG-broker-password-4f1c", "influx-token-9b7e2a"
	// A Mosquitto that knows the ingester by another password, and an
	// InfluxDB address where nothing listens: both failure paths log.
	passwd := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(passwd, []byte("vitalwire-ingest:"+auth.MosquittoHash("the-right-one")+"\n"), 0o600))
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{PasswordFile: passwd})
	dir := t.TempDir()
	port := testenv.FreePort(t)
	config := filepath.Join(dir, "vitalwire.yaml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`data_dir: %s
http:
  addr: 127.0.0.1:%d
broker:
  embedded: false
mqtt:
  broker: %s
  username: vitalwire-ingest
  password: %s
store:
  kind: influx
  influx:
    url: http://127.0.0.1:%d
    bucket: vitals
    token: %s
log:
  level: debug
`, dir, port, m.URL(), password, testenv.FreePort(t), token)), 0o600))
	var out harness.Log
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var answers strings.Builder
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		answers.WriteString(b.String())
		// Both failures have been met: the broker refused the ingester and
		// the store was found unreachable.
		return strings.Contains(b.String(), "unreachable") && strings.Contains(out.String(), "cannot connect to the broker")
	}, 20*time.Second, 200*time.Millisecond, "the store is reported unreachable and the broker's refusal logged; log:\n%s", &out)
	time.Sleep(2 * time.Second) // a few of the ingester's reconnections
	logs := out.String()
	require.Contains(t, logs, "not Authorized", "the operator sees why the ingester gets no readings")
	for _, secret := range []string{password, token} {
		require.NotContains(t, logs, secret)
		require.NotContains(t, answers.String(), secret)
	}
}
