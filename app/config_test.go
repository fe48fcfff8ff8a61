package app

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfig(t *testing.T) {
	t.Run("the file, then the environment, override the defaults", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vitalwire.yaml")
		require.NoError(t, os.WriteFile(path, []byte(`
store:
  kind: influx
  influx:
    url: http://127.0.0.1:8086
    bucket: vitals/autogen
ingest:
  writers: 8
`), 0o600))
		cfg := DefaultConfig()
		require.NoError(t, cfg.LoadFile(path))
		require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_STORE_INFLUX_TOKEN=secret", "VITALWIRE_INGEST_MAX_AGE=48h", "PATH=/bin"}))
		cfg.Finish()
		require.NoError(t, cfg.Validate())
		require.Equal(t, "influx", cfg.Store.Kind)
		require.Equal(t, "secret", cfg.Store.Influx.Token)
		require.Equal(t, 8, cfg.Ingest.Writers)
		require.Equal(t, 48*time.Hour, cfg.Ingest.MaxAge)
		require.Equal(t, filepath.Join("data", "spool"), cfg.Ingest.SpoolDir)
	})
	t.Run("an unknown field in the file is an error that names it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vitalwire.yaml")
		require.NoError(t, os.WriteFile(path, []byte("store:\n  knd: influx\n"), 0o600))
		cfg := DefaultConfig()
		err := cfg.LoadFile(path)
		require.ErrorContains(t, err, "knd")
	})
	t.Run("a bad environment value names the field and the variable", func(t *testing.T) {
		cfg := DefaultConfig()
		err := cfg.ApplyEnv([]string{"VITALWIRE_INGEST_WRITERS=many"})
		require.ErrorContains(t, err, "ingest.writers")
		require.ErrorContains(t, err, "VITALWIRE_INGEST_WRITERS")
	})
	t.Run("validation reports every bad field by name", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Store.Kind = "influx"
		cfg.Broker.Embedded = false
		cfg.Log.Level = "loud"
		cfg.Finish()
		err := cfg.Validate()
		for _, field := range []string{"store.influx.url", "store.influx.bucket", "mqtt.broker", "log.level"} {
			require.ErrorContains(t, err, field)
		}
	})
	t.Run("a webhook claim outside 1s-1h is refused by name", func(t *testing.T) {
		for _, d := range []time.Duration{time.Millisecond, 2 * time.Hour} {
			cfg := DefaultConfig()
			cfg.Alerts.WebhookClaim = d
			cfg.Finish()
			require.ErrorContains(t, cfg.Validate(), "alerts.webhook_claim")
		}
		cfg := DefaultConfig()
		cfg.Alerts.WebhookClaim = 30 * time.Second
		cfg.Finish()
		require.NoError(t, cfg.Validate())
	})
	t.Run("dev mode binds to loopback only", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Dev = true
		cfg.HTTP.Addr = "0.0.0.0:8080"
		cfg.Finish()
		require.ErrorContains(t, cfg.Validate(), "http.addr: --dev binds to loopback only")
		require.Equal(t, 5, cfg.Sim.Patients, "dev mode simulates patients")
	})
	t.Run("dev mode with --simulate-patients 0 simulates none", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Dev = true
		cfg.Sim.Patients = 0
		cfg.Finish()
		require.NoError(t, cfg.Validate())
		require.Equal(t, 0, cfg.Sim.Patients)
	})
	t.Run("without dev mode no patients are simulated unless asked", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Finish()
		require.Equal(t, 0, cfg.Sim.Patients)
	})
	t.Run("each component's own checks name the field by its full path", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Ingest.MaxBatch = -1
		cfg.Auth.SessionIdle = time.Second
		cfg.Telehealth.JoinLinkTTL = time.Second
		cfg.Finish()
		err := cfg.Validate()
		for _, field := range []string{"ingest.max_batch", "auth.session_idle", "telehealth.join_link_ttl"} {
			require.ErrorContains(t, err, field)
		}
	})
}

func TestTheFrontDoorLimitsAreSettingsCheckedByName(t *testing.T) {
	cfg := DefaultConfig()
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_AUTH_HASH_CONCURRENCY=0", "VITALWIRE_AUTH_LOGIN_BURST=0",
		"VITALWIRE_AUTH_REFUSAL_WINDOW=0s", "VITALWIRE_DISK_WARN_FREE_BYTES=-5"}))
	cfg.Finish()
	err := cfg.Validate()
	for _, field := range []string{"auth.hash_concurrency", "auth.login_burst", "auth.refusal_window", "disk.warn_free_bytes"} {
		require.ErrorContains(t, err, field)
	}
	def := DefaultConfig()
	def.Finish()
	require.NoError(t, def.Validate(), "the defaults are valid")
}
