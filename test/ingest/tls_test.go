package ingest_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/devcert"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestHTTPSAndMQTTOverTLSWithDevCertCertificates(t *testing.T) {
	t.Parallel()
	files, err := devcert.Write(t.TempDir(), []string{"localhost", "127.0.0.1"})
	require.NoError(t, err)
	cfg := harness.Config(t)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = files.Cert, files.Key
	svc := harness.Start(t, cfg)
	require.True(t, strings.HasPrefix(svc.URL(), "https://"))
	pemCA, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemCA))
	trusting := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// The API calls below trust the dev CA, as a client given it does.
	svc.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: trusting}}

	t.Run("HTTPS verifies with the dev CA and not without it", func(t *testing.T) {
		resp, err := svc.HTTP.Get(svc.URL() + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err = http.Get(svc.URL() + "/healthz")
		require.ErrorContains(t, err, "certificate")
	})

	secret := svc.AddDevice(t, "tls-watch", "patient-tls")
	brokerURL := "ssl://" + svc.BrokerAddr()
	t.Run("a Go MQTT client verifies the broker and publishes", func(t *testing.T) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("tls-watch").
			SetUsername("tls-watch").SetPassword(secret).SetTLSConfig(trusting))
		tok := c.Connect()
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
		defer c.Disconnect(100)
		now := time.Now().UTC()
		p := c.Publish("vitalwire/v1/devices/tls-watch/readings", 1, false, harness.Reading(vitals.HeartRate, 64, "/min", now))
		require.True(t, p.WaitTimeout(10*time.Second))
		require.NoError(t, p.Error())
		n, _ := svc.Stats(t, "patient-tls", vitals.HeartRate, now.Add(-time.Minute), now.Add(time.Minute))
		require.EqualValues(t, 1, n)

		untrusting := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("tls-watch").
			SetUsername("tls-watch").SetPassword(secret).SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
		tok = untrusting.Connect()
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.Error(t, tok.Error(), "an unknown CA is refused")
	})
	t.Run("mosquitto_pub with --cafile publishes", func(t *testing.T) {
		pub, err := exec.LookPath("mosquitto_pub")
		if err != nil {
			testenv.Missing(t, "mosquitto_pub not found")
		}
		host, port, _ := strings.Cut(svc.BrokerAddr(), ":")
		now := time.Now().UTC()
		out, err := exec.Command(pub, "--cafile", files.CA, "-h", host, "-p", port, "-u", "tls-watch", "-P", secret,
			"-i", "tls-watch", "-q", "1", "-t", "vitalwire/v1/devices/tls-watch/readings",
			"-m", harness.Reading(vitals.SpO2, 97, "%", now)).CombinedOutput()
		require.NoError(t, err, string(out))
		n, _ := svc.Stats(t, "patient-tls", vitals.SpO2, now.Add(-time.Minute), now.Add(time.Minute))
		require.EqualValues(t, 1, n)
		out, err = exec.Command(pub, "-h", host, "-p", port, "-u", "tls-watch", "-P", secret, "-q", "1",
			"-t", "vitalwire/v1/devices/tls-watch/readings", "-m", "{}").CombinedOutput()
		require.Error(t, err, "plain MQTT to the TLS listener fails: %s", out)
	})
}

func TestPlaintextOnAPublicAddressIsRefusedUnlessSaidExplicitly(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.Addr = fmt.Sprintf("0.0.0.0:%d", testenv.FreePort(t))
	cfg.Broker.Addr = "0.0.0.0:0"
	cfg.Finish()
	err := cfg.Validate()
	require.ErrorContains(t, err, "http.addr")
	require.ErrorContains(t, err, "broker.addr")
	require.ErrorContains(t, err, "allow_plaintext")
	cfg.HTTP.AllowPlaintext, cfg.Broker.AllowPlaintext = true, true
	require.NoError(t, cfg.Validate())
}
