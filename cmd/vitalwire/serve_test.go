package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

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
