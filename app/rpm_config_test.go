package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTheClinicsTimeZoneIsSetByEnvironmentAndCheckedByName(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Finish()
	require.Equal(t, "UTC", cfg.RPM.TimeZone)
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_RPM_TIME_ZONE=America/Chicago"}))
	require.Equal(t, "America/Chicago", cfg.RPM.TimeZone)
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_RPM_TIME_ZONE=Mars/Olympus"}))
	require.ErrorContains(t, cfg.Validate(), "rpm.time_zone")
}

// One setting for the clinic's zone: the program's calendar follows
// clinic.time_zone unless rpm.time_zone says otherwise.
func TestTheProgramsCalendarIsTheClinicsUnlessSet(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_CLINIC_TIME_ZONE=Asia/Tokyo"}))
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	require.Equal(t, "Asia/Tokyo", cfg.RPM.TimeZone)

	cfg = DefaultConfig()
	cfg.DataDir = t.TempDir()
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_CLINIC_TIME_ZONE=Asia/Tokyo", "VITALWIRE_RPM_TIME_ZONE=America/Chicago"}))
	cfg.Finish()
	require.Equal(t, "America/Chicago", cfg.RPM.TimeZone)
}
