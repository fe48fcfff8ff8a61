package alerts

import (
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func TestAPatientsUrgencyFollowsTheirOpenAlertsInMemory(t *testing.T) {
	s := NewService(NewEngine(DefaultRules(), func(string) PatientInfo { return PatientInfo{Scale: 1} }), nil, nil, zerolog.Nop(), nil)
	require.Equal(t, 0, s.PatientUrgency("p1"), "no alert, no readings")

	s.changed("alert.firing", Alert{ID: 1, Patient: "p1", Severity: "medium", State: Firing})
	require.Equal(t, 250, s.PatientUrgency("p1"), "a firing medium alert")
	s.changed("alert.firing", Alert{ID: 2, Patient: "p1", Severity: "high", State: Firing})
	require.Equal(t, 350, s.PatientUrgency("p1"), "the worst open alert counts")
	s.changed("alert.acknowledged", Alert{ID: 2, Patient: "p1", Severity: "high", State: Acknowledged})
	require.Equal(t, 300, s.PatientUrgency("p1"), "acknowledged ranks below firing")
	s.changed("alert.resolved", Alert{ID: 2, Patient: "p1", Severity: "high", State: Resolved})
	require.Equal(t, 250, s.PatientUrgency("p1"), "a resolved alert no longer counts")
	require.Equal(t, 0, s.PatientUrgency("p2"), "another patient's alerts do not count")
	s.changed("alert.resolved", Alert{ID: 1, Patient: "p1", Severity: "medium", State: Resolved})
	require.Equal(t, 0, s.PatientUrgency("p1"))
}
