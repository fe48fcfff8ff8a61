// Package harness runs Vitalwire for the whole-service tests under test/:
// it starts the service on free loopback ports and talks to it only as its
// users and operators do: the HTTP API, MQTT, the WebSocket, tokens minted
// with the server's signing key file (what `vitalwire token create` does on
// the server's machine), and the store and records files opened as an
// independent observer.
package harness

import (
	"context"
	"crypto/tls"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
)

// Config is a one-machine configuration on free loopback ports with its
// own data folder and no simulated patients.
func Config(t testing.TB) app.Config {
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Broker.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	// The audit keys and checkpoints on "another volume", as production
	// keeps them.
	vol := t.TempDir()
	cfg.Auth.Audit.ChainKeyFile = filepath.Join(vol, "audit-chain.key")
	cfg.Auth.Audit.CheckpointKeyFile = filepath.Join(vol, "audit-checkpoint.key")
	cfg.Auth.Audit.CheckpointFile = filepath.Join(vol, "audit-checkpoints.log")
	if os.Getenv(testenv.RecordsEnv) == "postgres" {
		UsePostgres(t, &cfg)
	}
	return cfg
}

// UseInflux points cfg at a fresh real InfluxDB.
func UseInflux(t testing.TB, cfg *app.Config) *testenv.Influx {
	t.Helper()
	in := testenv.StartInflux(t)
	cfg.Store.Kind = "influx"
	cfg.Store.Influx = influxstore.Config{URL: in.URL, Org: in.Org, Bucket: in.Bucket}
	return in
}

// UseMosquitto points the ingester at a fresh real Mosquitto with
// anonymous access (tests of ingestion; the device-auth tests use the
// generated password and ACL files).
func UseMosquitto(t testing.TB, cfg *app.Config) *testenv.Mosquitto {
	t.Helper()
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	cfg.Broker.Embedded = false
	cfg.MQTT = app.MQTTConfig{Broker: m.URL(), ClientID: "vitalwire-test-ingest"}
	return m
}

// Service is a running Vitalwire.
type Service struct {
	// HTTP is the client the helpers call the API with. Under TLS it
	// trusts nothing extra: a TLS test sets one that trusts its CA.
	HTTP *http.Client

	cfg        app.Config
	url        string
	brokerAddr string
	signer     *auth.Signer
	admin      string

	stopOnce sync.Once
	stop     func()
}

// Start builds and runs the service until the test ends (or Stop).
func Start(t testing.TB, cfg app.Config) *Service {
	t.Helper()
	return StartWith(t, cfg, app.Options{})
}

// StartWith is Start with options (a clock, an extra sink).
func StartWith(t testing.TB, cfg app.Config, opts app.Options) *Service {
	t.Helper()
	return startLogging(t, cfg, opts, zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel))
}

// startLogging builds and runs the service with log until the test ends.
func startLogging(t testing.TB, cfg app.Config, opts app.Options, log zerolog.Logger) *Service {
	t.Helper()
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	a, err := app.New(context.Background(), cfg, log, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	s := &Service{HTTP: &http.Client{}, cfg: cfg, url: a.URL(), brokerAddr: a.BrokerAddr()}
	s.stop = func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "the service stops cleanly")
		case <-time.After(30 * time.Second):
			t.Error("the service did not stop within 30 s")
		}
	}
	t.Cleanup(s.Stop)
	// New has created the signing key file if there was none.
	s.signer = Signer(t, cfg)
	s.admin, _ = s.signer.Mint("root", auth.RoleAdmin, 12*time.Hour)
	waitReady(t, s.url)
	return s
}

// Attach is a Service for a server running elsewhere (a child process)
// with configuration cfg at url: the same helpers, tokens minted with its
// signing key file. Stop does nothing; the server's owner stops it.
func Attach(t testing.TB, cfg app.Config, url string) *Service {
	t.Helper()
	cfg.Finish()
	s := &Service{HTTP: &http.Client{}, cfg: cfg, url: url, brokerAddr: cfg.Broker.Addr, stop: func() {}}
	s.signer = Signer(t, cfg)
	s.admin, _ = s.signer.Mint("root", auth.RoleAdmin, 12*time.Hour)
	return s
}

// Stop shuts the service down and waits for it; later calls do nothing.
func (s *Service) Stop() { s.stopOnce.Do(s.stop) }

// waitReady waits for /readyz: with an external broker, until the
// ingester holds its subscription (a device publishing earlier would be
// heard by no one).
func waitReady(t testing.TB, base string) {
	t.Helper()
	// Readiness only: the TLS tests check the certificate themselves.
	client := &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	require.Eventually(t, func() bool {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "the service becomes ready")
}

// Config is the service's configuration, finished (paths filled in).
func (s *Service) Config() app.Config { return s.cfg }

// URL is the base URL of the HTTP API.
func (s *Service) URL() string { return s.url }

// WSURL is the base URL of the WebSockets (ws:// or wss://).
func (s *Service) WSURL() string { return "ws" + strings.TrimPrefix(s.url, "http") }

// BrokerAddr is the embedded broker's TCP address, or "".
func (s *Service) BrokerAddr() string {
	if !s.cfg.Broker.Embedded {
		return ""
	}
	return s.brokerAddr
}

// BrokerURL is the broker devices connect to: the embedded one's, or the
// external one the service is configured with.
func (s *Service) BrokerURL() string {
	if s.cfg.Broker.Embedded && s.cfg.TLS.Enabled() {
		return "ssl://" + s.brokerAddr
	}
	if s.cfg.Broker.Embedded {
		return "tcp://" + s.brokerAddr
	}
	return s.cfg.MQTT.Broker
}

// UsePostgres points cfg's records at a new database of the test
// process's PostgreSQL cluster, its password in a file as production
// keeps it.
func UsePostgres(t testing.TB, cfg *app.Config) {
	t.Helper()
	pg := testenv.PostgresDB(t)
	pw := filepath.Join(t.TempDir(), "records-password")
	require.NoError(t, os.WriteFile(pw, []byte(pg.Password+"\n"), 0o600))
	cfg.Records.Kind, cfg.Records.DSN, cfg.Records.PasswordFile = "postgres", pg.DSN, pw
}

// RecordsEnv is the environment that gives a vitalwire command run
// beside the service (audit verify, records migrate) cfg's records
// settings.
func RecordsEnv(cfg app.Config) []string {
	env := os.Environ()
	if cfg.Records.Kind == "postgres" {
		env = append(env, "VITALWIRE_RECORDS_KIND=postgres", "VITALWIRE_RECORDS_DSN="+cfg.Records.DSN,
			"VITALWIRE_RECORDS_PASSWORD_FILE="+cfg.Records.PasswordFile)
	}
	return env
}

// OpenRecords opens cfg's records database as an independent observer
// (closed when t ends).
func OpenRecords(t testing.TB, cfg app.Config) *sql.DB {
	t.Helper()
	cfg.Finish()
	src, err := cfg.Records.Source()
	require.NoError(t, err)
	return testenv.OpenRecordsAt(t, src)
}
