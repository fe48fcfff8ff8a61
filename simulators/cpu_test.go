package simulators

import (
	"crypto/sha256"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCPUTimeIsReadFromProcForEachProcessNamed(t *testing.T) {
	pids := map[string]int{"self": os.Getpid()}
	before, err := cpuTimes(pids)
	require.NoError(t, err)
	// Burn a quarter of a second of CPU.
	sum := sha256.Sum256(nil)
	for end := time.Now().Add(250 * time.Millisecond); time.Now().Before(end); {
		sum = sha256.Sum256(sum[:])
	}
	after, err := cpuTimes(pids)
	require.NoError(t, err)
	used := after["self"] - before["self"]
	require.Greater(t, used, 0.05, "this process's CPU time grew")
	require.Less(t, used, 5.0)

	_, err = cpuTimes(map[string]int{"gone": 1 << 30})
	require.ErrorContains(t, err, "cpu of gone")
}
