package devices

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/devcert"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// clientCert mints a device certificate with the CA in dir.
func clientCert(t *testing.T, dir, id string) tls.Certificate {
	t.Helper()
	certFile, keyFile, err := devcert.WriteClient(dir, id)
	require.NoError(t, err)
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	return c
}

func TestDevicesAuthenticateWithClientCertificates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, err := devcert.Write(dir, []string{"localhost", "127.0.0.1"})
	require.NoError(t, err)
	cfg := harness.Config(t)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = files.Cert, files.Key
	cfg.Broker.ClientCAFile = files.CA
	s := harness.Start(t, cfg)
	pem, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	s.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}

	since := time.Now().Add(-time.Hour)
	s.AddDeviceFrom(t, "cuff-a", "cuff", "p-a", since)
	secretB := s.AddDeviceFrom(t, "cuff-b", "cuff", "p-b", since)
	s.AddDeviceFrom(t, "cuff-c", "cuff", "p-c", since)
	certA, certB, certC := clientCert(t, dir, "cuff-a"), clientCert(t, dir, "cuff-b"), clientCert(t, dir, "cuff-c")
	ghost := clientCert(t, dir, "cuff-ghost") // signed by the CA, never registered
	other := t.TempDir()
	_, err = devcert.Write(other, []string{"localhost"})
	require.NoError(t, err)
	forged := clientCert(t, other, "cuff-a") // the right name, another CA

	withCert := func(c tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{c}}
	}
	broker := s.BrokerURL()
	at := func() time.Time { return time.Now().Add(-time.Second) }

	t.Run("a device publishes with its certificate alone, no password, for its patient", func(t *testing.T) {
		a := harness.ConnectAs(t, broker, "cuff-a", harness.DeviceLogin{ClientID: "cuff-a", TLS: withCert(certA)})
		t0 := at()
		a.Publish(harness.Reading(vitals.HeartRate, 128, "/min", t0))
		s.WaitCount(t, "p-a", vitals.HeartRate, t0, t0.Add(time.Second), 1, 10*time.Second)
	})

	t.Run("another device's certificate is refused, with or without that device's password", func(t *testing.T) {
		for name, l := range map[string]harness.DeviceLogin{
			"client id of B":                          {ClientID: "cuff-b", TLS: withCert(certA)},
			"username and client id of B":             {ClientID: "cuff-b", Username: "cuff-b", TLS: withCert(certA)},
			"B's username and B's right password":     {ClientID: "cuff-b", Username: "cuff-b", Password: secretB, TLS: withCert(certA)},
			"A's client id but B's username":          {ClientID: "cuff-a", Username: "cuff-b", TLS: withCert(certA)},
			"a certificate of another CA with A's id": {ClientID: "cuff-a", TLS: withCert(forged)},
			"a certificate of an unregistered device": {ClientID: "cuff-ghost", TLS: withCert(ghost)},
		} {
			_, err := harness.TryConnect(t, broker, l)
			require.Error(t, err, name)
		}
	})

	t.Run("with its certificate a device publishes only under its own id", func(t *testing.T) {
		a := harness.ConnectAs(t, broker, "cuff-a", harness.DeviceLogin{ClientID: "cuff-a", TLS: withCert(certA)})
		t0 := at()
		tok := a.Client.Publish("vitalwire/v1/devices/cuff-b/readings", 1, false, harness.Reading(vitals.HeartRate, 200, "/min", t0))
		tok.WaitTimeout(2 * time.Second)
		// B's own reading arrives; the one A sent under B's id never does.
		b := harness.ConnectAs(t, broker, "cuff-b", harness.DeviceLogin{ClientID: "cuff-b", TLS: withCert(certB)})
		t1 := t0.Add(time.Millisecond)
		b.Publish(harness.Reading(vitals.HeartRate, 121, "/min", t1))
		s.WaitCount(t, "p-b", vitals.HeartRate, t0.Add(-time.Minute), t1.Add(time.Second), 1, 10*time.Second)
		n, _ := s.Stats(t, "p-b", vitals.HeartRate, t0.Add(-time.Minute), t1.Add(time.Second))
		require.EqualValues(t, 1, n, "only B's own reading")
	})

	t.Run("passwords still work beside certificates", func(t *testing.T) {
		b := harness.ConnectAs(t, broker, "cuff-b", harness.DeviceLogin{ClientID: "cuff-b", Username: "cuff-b", Password: secretB,
			TLS: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
		t0 := at().Add(-time.Minute)
		b.Publish(harness.Reading(vitals.HeartRate, 119, "/min", t0))
		s.WaitCount(t, "p-b", vitals.HeartRate, t0, t0.Add(time.Second), 1, 10*time.Second)
		_, err := harness.TryConnect(t, broker, harness.DeviceLogin{ClientID: "cuff-b", Username: "cuff-b", Password: secretB + "x",
			TLS: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
		require.Error(t, err)
	})

	t.Run("a revoked device's certificate is refused from then on", func(t *testing.T) {
		_, err := harness.TryConnect(t, broker, harness.DeviceLogin{ClientID: "cuff-c", TLS: withCert(certC)})
		require.NoError(t, err)
		s.RevokeDevice(t, "cuff-c")
		_, err = harness.TryConnect(t, broker, harness.DeviceLogin{ClientID: "cuff-c", TLS: withCert(certC)})
		require.Error(t, err)
	})
}
