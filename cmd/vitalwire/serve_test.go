package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A start-up error is said plainly, with a non-zero exit, and leaves
// nothing half open (the listeners of the steps before it are closed).
func TestAStartUpErrorIsPrintedPlainlyAndExitsNonZero(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	badRules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(badRules, []byte("rules:\n  - id: x\n    kind: nonsense\n"), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"the HTTP port is taken", []string{"--http-addr", busy.Addr().String()}, "address already in use"},
		{"the rules file is invalid", []string{"--config", writeConfig(t, "alerts:\n  rules_file: "+badRules+"\n")}, "alerts.rules_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--broker-addr", "127.0.0.1:0", "--log-level", "error"}, tc.args...)
			if tc.name != "the HTTP port is taken" {
				args = append(args, "--http-addr", "127.0.0.1:0")
			}
			code := run(context.Background(), args, &stdout, &stderr)
			require.Equal(t, 1, code)
			require.Contains(t, stderr.String(), tc.want)
			require.NotContains(t, stderr.String(), "panic")
			require.NotContains(t, stderr.String(), "nil pointer")
		})
	}
}

func writeConfig(t *testing.T, content string) string {
	path := filepath.Join(t.TempDir(), "vitalwire.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// A configuration file that holds a secret and that others can read is
// said at start (the service still starts: the file is the operator's).
func TestAConfigurationFileOthersCanReadThatHoldsSecretsIsWarnedAbout(t *testing.T) {
	const webhook = "alerts:\n  webhooks:\n    - {url: \"http://127.0.0.1:9/hook\", secret: \"a-webhook-secret-of-24ch\"}\n"
	const oidc = "auth:\n  oidc: {issuer: \"https://idp.hospital.example\", client_id: vw, client_secret: \"a-webhook-secret-of-24ch\", roles_claim: roles, clinician_roles: [c]}\n"
	for _, tc := range []struct {
		name   string
		config string
		mode   os.FileMode
		warns  bool
	}{{"0644", webhook, 0o644, true}, {"0600", webhook, 0o600, false}, {"0644 with an OIDC client secret", oidc, 0o644, true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.config)
			require.NoError(t, os.Chmod(path, tc.mode))
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, []string{"serve", "--config", path, "--data-dir", t.TempDir(), "--broker-addr", "127.0.0.1:0",
				"--http-addr", "127.0.0.1:0", "--log-level", "warn"}, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			require.Equal(t, tc.warns, strings.Contains(stderr.String(), "holds secrets and others can read it"), stderr.String())
			require.NotContains(t, stderr.String(), "a-webhook-secret-of-24ch")
		})
	}
}
