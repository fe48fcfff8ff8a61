package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecordsOnPostgresAreConfiguredWithoutThePasswordInTheFile(t *testing.T) {
	load := func(t *testing.T, yaml string, env ...string) (Config, error) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "vitalwire.yaml")
		require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		if err := cfg.LoadFile(path); err != nil {
			return cfg, err
		}
		require.NoError(t, cfg.ApplyEnv(env))
		cfg.Finish()
		return cfg, cfg.Validate()
	}
	t.Run("SQLite is the default", func(t *testing.T) {
		cfg, err := load(t, "")
		require.NoError(t, err)
		src, err := cfg.Records.Source()
		require.NoError(t, err)
		require.Empty(t, src.Kind)
		require.Equal(t, filepath.Join(cfg.DataDir, "records.db"), src.Path)
	})
	t.Run("the password comes from the environment", func(t *testing.T) {
		cfg, err := load(t, "records: {kind: postgres, dsn: 'postgres://vw@db.example:5432/records?sslmode=verify-full'}\n",
			"VITALWIRE_RECORDS_PASSWORD=from-env")
		require.NoError(t, err)
		src, err := cfg.Records.Source()
		require.NoError(t, err)
		require.Equal(t, "postgres", src.Kind)
		require.Equal(t, "from-env", src.Postgres.Password)
	})
	t.Run("or from a file", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		require.NoError(t, os.WriteFile(pw, []byte("from-file\n"), 0o600))
		cfg, err := load(t, "records: {kind: postgres, dsn: 'host=db.example user=vw dbname=records', password_file: "+pw+"}\n")
		require.NoError(t, err)
		src, err := cfg.Records.Source()
		require.NoError(t, err)
		require.Equal(t, "from-file", src.Postgres.Password)
	})
	for _, tc := range []struct{ name, yaml, field string }{
		{"a password in the DSN is refused", "records: {kind: postgres, dsn: 'postgres://vw:hunter2@db/records'}\n", "records.password_file"},
		{"a password setting in the file is not one", "records: {kind: postgres, dsn: 'postgres://vw@db/records', password: hunter2}\n", "password"},
		{"postgres needs a DSN", "records: {kind: postgres}\n", "records.dsn"},
		{"an unknown kind is refused", "records: {kind: mysql}\n", "records.kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.field)
			require.NotContains(t, err.Error(), "hunter2", "the password is never repeated")
		})
	}
	t.Run("a file and the environment both giving a password is refused", func(t *testing.T) {
		_, err := load(t, "records: {kind: postgres, dsn: 'postgres://vw@db/records', password_file: /run/secrets/pg}\n",
			"VITALWIRE_RECORDS_PASSWORD=x")
		require.ErrorContains(t, err, "records.password_file")
	})
}
