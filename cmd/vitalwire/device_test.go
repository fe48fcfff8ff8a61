package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

func TestDeviceCommandsEnrolAFleetAndRefuseUnknownKinds(t *testing.T) {
	s := harness.Start(t, harness.Config(t))
	dir := t.TempDir()
	client := []string{"--server", s.URL(), "--token", s.Admin(), "--data-dir", dir}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}

	t.Run("--kind toaster is refused, naming the kinds", func(t *testing.T) {
		code, _, stderr := runCLI(t, append([]string{"device", "add", "t-1", "--kind", "toaster"}, client...)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, `unknown device kind "toaster": one of watch, ring`)
	})

	t.Run("a CSV with a bad row enrols nothing and names the line", func(t *testing.T) {
		f := write("bad.csv", "id,kind,serial\nw-1,watch,S1\nw-2,toaster,S2\nw-3,cuff,S1\n")
		code, _, stderr := runCLI(t, append([]string{"device", "enrol", f}, client...)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, f+":3 (w-2): unknown device kind")
		require.Contains(t, stderr, f+":4 (w-3): serial S1")
		require.Contains(t, stderr, "nothing was enrolled: 2 bad rows")
		code, stdout, _ := runCLI(t, append([]string{"device", "list"}, client...)...)
		require.Equal(t, 0, code)
		require.NotContains(t, stdout, "w-1")
	})

	t.Run("a good CSV enrols every device; the secrets go to a new 0600 file", func(t *testing.T) {
		f := write("good.csv", "id,kind,serial,model\nw-1,watch,S1,Acme W2\nc-1,cuff,S2,Omron X7\n")
		out := filepath.Join(dir, "secrets.csv")
		code, stdout, stderr := runCLI(t, append([]string{"device", "enrol", f, "--secrets", out}, client...)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "enrolled 2 devices")
		fi, err := os.Stat(out)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		b, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Equal(t, "id,secret", lines[0])
		require.Len(t, lines, 3)

		code, stdout, _ = runCLI(t, append([]string{"device", "list", "--search", "omron"}, client...)...)
		require.Equal(t, 0, code)
		require.Regexp(t, `c-1\s+cuff\s+-\s+never seen\s+-\s+-\s+-\s+S2\s+Omron X7`, stdout)
		require.NotContains(t, stdout, "w-1")
	})
}
