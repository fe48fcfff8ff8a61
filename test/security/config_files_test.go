package security

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: another account on the server's machine (a shared host, a
// compromised service, a backup job) reads what Vitalwire writes: the
// records and readings databases (PHI), the token signing key (whoever
// holds it mints admin tokens), TLS and CA keys, the broker's password
// hashes. Everything private is the service user's alone: files 0600,
// folders 0700, whatever the umask.

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// requirePrivate requires that group and others have no access to path.
func requirePrivate(t *testing.T, path string) {
	t.Helper()
	require.Zero(t, mode(t, path)&0o077, "%s is %v: group or others may read it", path, mode(t, path))
}

func TestTheServiceKeepsItsDatabasesKeysAndSpoolToItself(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	svc := harness.Start(t, cfg)
	svc.AddDevice(t, "watch-perm", "patient-perm") // the records are written to
	c := svc.Config()
	// While running, SQLite's WAL and shared-memory files exist too.
	for _, p := range []string{c.DataDir, c.Records.Path, c.Records.Path + "-wal", c.Records.Path + "-shm",
		c.Store.SQLitePath, c.Store.SQLitePath + "-wal", c.Auth.SigningKeyFile, c.Ingest.SpoolDir} {
		requirePrivate(t, p)
	}
}

func TestDatabasesLeftReadableByAnEarlierVersionAreClosedAtStart(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	first := harness.Start(t, cfg)
	first.AddDevice(t, "watch-old", "patient-old")
	first.Stop()
	c := first.Config()
	// What the versions before issue 13 left behind (umask 022).
	for _, p := range []string{c.Records.Path, c.Store.SQLitePath} {
		require.NoError(t, os.Chmod(p, 0o644))
	}
	second := harness.Start(t, cfg)
	second.AddDevice(t, "watch-new", "patient-new")
	for _, p := range []string{c.Records.Path, c.Records.Path + "-wal", c.Store.SQLitePath} {
		requirePrivate(t, p)
	}
}

func TestASigningKeyOthersCanReadStopsTheServiceAndTheTokenCommand(t *testing.T) {
	t.Parallel()
	bin := harness.Binary(t)
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(dir, "signing.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600))
	require.NoError(t, os.Chmod(keyFile, 0o644)) // copied with cp -p from a shared folder, say

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, args := range map[string][]string{
		"serve": {"serve", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--broker-addr", "127.0.0.1:0", "--log-level", "warn"},
		"token": {"token", "create", "--data-dir", dir, "--sub", "root", "--role", "admin"},
	} {
		t.Run(name+" refuses to run", func(t *testing.T) {
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			require.NoError(t, ctx.Err(), "%s kept running with a key others can read:\n%s", name, out)
			require.Error(t, err, "%s ran with a key others can read:\n%s", name, out)
			require.Contains(t, string(out), keyFile, "the error names the file")
			require.Contains(t, string(out), "chmod 600", "the error says what to do")
		})
	}
}

func TestDevCertKeepsItsKeysInAPrivateFolderEvenOverOldFiles(t *testing.T) {
	t.Parallel()
	bin := harness.Binary(t)
	out := filepath.Join(t.TempDir(), "tls")
	run := func() {
		b, err := exec.Command(bin, "dev-cert", "--out", out).CombinedOutput()
		require.NoError(t, err, string(b))
	}
	run()
	requirePrivate(t, out)
	for _, k := range []string{"ca-key.pem", "server-key.pem"} {
		requirePrivate(t, filepath.Join(out, k))
		require.NoError(t, os.Chmod(filepath.Join(out, k), 0o644)) // someone opened them up
	}
	run() // made again over the old files
	for _, k := range []string{"ca-key.pem", "server-key.pem"} {
		requirePrivate(t, filepath.Join(out, k))
	}
}

func TestMosquittoConfigWritesTheBrokersFilesPrivately(t *testing.T) {
	t.Parallel()
	bin := harness.Binary(t)
	cfg := harness.Config(t)
	svc := harness.Start(t, cfg)
	svc.AddDevice(t, "watch-mq", "patient-mq")
	svc.Stop()
	out := filepath.Join(t.TempDir(), "mosquitto")
	for range 2 { // the second run replaces the files
		cmd := exec.Command(bin, "mosquitto-config", "--data-dir", cfg.DataDir, "--out", out)
		cmd.Env = append(harness.RecordsEnv(cfg), "VITALWIRE_MQTT_PASSWORD=service-secret-for-test")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, string(b))
		require.NotContains(t, string(b), "service-secret-for-test")
		requirePrivate(t, out)
		requirePrivate(t, filepath.Join(out, "passwd"))
		passwd, err := os.ReadFile(filepath.Join(out, "passwd"))
		require.NoError(t, err)
		require.NotContains(t, string(passwd), "service-secret-for-test", "hashes only")
		require.NoError(t, os.Chmod(filepath.Join(out, "passwd"), 0o644))
		require.True(t, strings.Contains(string(passwd), "watch-mq:"))
	}
}
