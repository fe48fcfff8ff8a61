package ops

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// docs/DEPLOY.md's compose step 3 on this machine: mosquitto-config, run
// with the compose configuration and the flags the doc gives, writes the
// files that the compose mosquitto.conf includes; real Mosquitto starts on
// them, serves devices over TLS, and lets the ingester's account in on the
// service listener.
func TestComposeMosquittoStartsOnTheGeneratedFiles(t *testing.T) {
	t.Parallel()
	dir := root(t)
	work := t.TempDir()
	devPort, svcPort := testenv.FreePort(t), testenv.FreePort(t)
	code, _, errOut := runBin(t, "dev-cert", "--out", filepath.Join(work, "tls"), "--host", "localhost,127.0.0.1")
	require.Equal(t, 0, code, errOut)

	// The data volume the running Vitalwire made (step 3 starts it first).
	require.NoError(t, os.MkdirAll(filepath.Join(work, "data"), 0o700))
	out := filepath.Join(work, "mosquitto-vitalwire")
	const password = "ingester-password-for-compose-test"
	cmd := exec.Command(harness.Binary(t), "mosquitto-config", "--config", filepath.Join(dir, "deploy/compose/vitalwire.yaml"),
		"--data-dir", filepath.Join(work, "data"), "--out", out,
		"--device-listener", fmt.Sprintf("127.0.0.1:%d", devPort), "--service-listener", fmt.Sprintf("127.0.0.1:%d", svcPort),
		"--cert-file", filepath.Join(work, "tls/server.pem"), "--key-file", filepath.Join(work, "tls/server-key.pem"))
	cmd.Env = append(os.Environ(), "VITALWIRE_MQTT_PASSWORD="+password, "VITALWIRE_STORE_INFLUX_TOKEN=unused-here")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)

	conf, err := os.ReadFile(filepath.Join(dir, "deploy/compose/mosquitto.conf"))
	require.NoError(t, err)
	// The persistence folder is the test's (StartMosquittoConf sets it);
	// everything else is the compose file's, with the include's path.
	require.Contains(t, string(conf), "persistence_location /mosquitto/data/\n")
	local := strings.NewReplacer("persistence_location /mosquitto/data/\n", "",
		"/mosquitto/config/vitalwire", out).Replace(string(conf))
	m := testenv.StartMosquittoConf(t, local, fmt.Sprintf("127.0.0.1:%d", svcPort))

	// The ingester's account, as compose's vitalwire.yaml names it.
	ingest := harness.Connect(t, fmt.Sprintf("tcp://127.0.0.1:%d", svcPort), "vitalwire-ingest", password)
	require.True(t, ingest.Client.IsConnected(), m.Log())
	// Devices reach a TLS listener with the configured certificate.
	tc := tlsClient(t, filepath.Join(work, "tls/ca.pem")).Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.ServerName = "localhost"
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", devPort), tc)
	require.NoError(t, err, "the device listener serves TLS with the dev CA's certificate: %s", m.Log())
	conn.Close()
}
