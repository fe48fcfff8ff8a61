package harness

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// AuditVerify runs `vitalwire audit verify` on the service's files, as an
// operator (or an auditor) does on the server's machine, and returns its
// exit status and what it printed. Stop the service first to check the
// trail as it was left at shutdown.
func (s *Service) AuditVerify(t testing.TB) (int, string) {
	t.Helper()
	a := s.cfg.Auth.Audit
	cmd := exec.Command(Binary(t), "audit", "verify", "--data-dir", s.cfg.DataDir,
		"--chain-key", a.ChainKeyFile, "--checkpoint-key", a.CheckpointKeyFile, "--checkpoints", a.CheckpointFile)
	cmd.Env = RecordsEnv(s.cfg)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err, "run vitalwire audit verify")
	return 0, string(out)
}
