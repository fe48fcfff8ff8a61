package security

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: a full disk. Every access to patient data writes an audit event
// first, so a disk that fills up (by a flood, or by nothing but time)
// refuses every clinician every record. The operator must hear of it
// before: the free space of the data folder is a metric, and past the
// configured threshold the service says so on its metrics and readiness
// answer (and in its log).

func readyz(t *testing.T, s *harness.Service) map[string]any {
	resp, err := http.Get(s.URL() + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func TestLowDiskSpaceRaisesTheAlarmBeforeTheDiskIsFull(t *testing.T) {
	t.Run("above the threshold, all is well and the free space is measured", func(t *testing.T) {
		cfg := harness.Config(t)
		require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_DISK_WARN_FREE_BYTES=1", "VITALWIRE_DISK_CHECK_EVERY=100ms"}))
		s := harness.Start(t, cfg)
		m := s.Metrics(t)
		require.Contains(t, m, "vitalwire_data_free_bytes")
		require.Positive(t, m["vitalwire_data_free_bytes"])
		require.Equal(t, 0.0, m["vitalwire_data_disk_low"])
		require.NotContains(t, readyz(t, s), "disk")
	})
	t.Run("below the threshold, the metric and readiness answer say the disk is low", func(t *testing.T) {
		cfg := harness.Config(t)
		// More than any disk this test runs on has free.
		require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_DISK_WARN_FREE_BYTES=9000000000000000000", "VITALWIRE_DISK_CHECK_EVERY=100ms"}))
		s := harness.Start(t, cfg)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			require.Equal(ct, 1.0, s.Metrics(t)["vitalwire_data_disk_low"])
		}, 5*time.Second, 50*time.Millisecond)
		rz := readyz(t, s)
		require.Contains(t, rz, "disk")
		require.Contains(t, rz["disk"], "low")
	})
}
