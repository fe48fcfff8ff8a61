package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTheClinicsTimeZoneIsSetByEnvironmentAndCheckedByName(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	require.Equal(t, "UTC", cfg.RPM.TimeZone)
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_RPM_TIME_ZONE=America/Chicago"}))
	require.Equal(t, "America/Chicago", cfg.RPM.TimeZone)
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_RPM_TIME_ZONE=Mars/Olympus"}))
	require.ErrorContains(t, cfg.Validate(), "rpm.time_zone")
}
