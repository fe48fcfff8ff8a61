package security

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// alertWard is the ward (harness.Ward) with a rule that fires on one
// reading, and one open alert of Ada (p1): its id.
func alertWard(t *testing.T) (*harness.Service, string) {
	t.Helper()
	cfg := harness.Config(t)
	rules := filepath.Join(cfg.DataDir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("rules:\n  - {id: hr_low, kind: threshold, vital: heart_rate, below: 35, severity: high}\n"), 0o600))
	cfg.Alerts.RulesFile = rules
	s := harness.Start(t, cfg)
	devs := s.Ward(t)
	// The device's PUBACK comes once the alerts its readings raise are stored.
	devs["p1"].Publish(harness.Reading(vitals.HeartRate, 30, "/min", time.Now()))
	open := s.Alerts(t, "p1", false)
	require.Len(t, open, 1)
	return s, strconv.FormatInt(open[0].ID, 10)
}

func TestAlertActionsAreClinicalAndAlertIdsDoNotTellWhatExists(t *testing.T) {
	t.Parallel()
	s, id := alertWard(t)

	t.Run("an admin under break-glass reads the patient but cannot acknowledge, resolve or snooze", func(t *testing.T) {
		admin, _ := s.Token("it-admin", auth.RoleAdmin, time.Hour)
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/break-glass", admin,
			map[string]string{"reason": "checking a reported display fault"}, nil)
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/p1", admin, nil, nil)
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/alerts/"+id+"/ack", admin, nil, nil)
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/alerts/"+id+"/resolve", admin, map[string]string{"reason": "noise"}, nil)
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/patients/p1/snooze", admin,
			map[string]any{"rule": "hr_low", "until": time.Now().Add(time.Hour), "reason": "probe off"}, nil)
		require.Equal(t, "firing", s.Alerts(t, "p1", false)[0].State, "the alert is still for a clinician to act on")
	})

	t.Run("an alert of someone else's patient answers as one that does not exist", func(t *testing.T) {
		doc3 := s.Clinician("doc3")
		for _, path := range []string{"/api/v1/alerts/" + id + "/ack", "/api/v1/alerts/999999/ack"} {
			require.Equal(t, http.StatusNotFound, s.Call(t, "POST", path, doc3, nil, nil), path)
		}
		for _, path := range []string{"/api/v1/alerts/" + id + "/resolve", "/api/v1/alerts/999999/resolve"} {
			require.Equal(t, http.StatusNotFound, s.Call(t, "POST", path, doc3, map[string]string{"reason": "x"}, nil), path)
		}
		n := 0
		for _, e := range s.Audit(t, "p1") {
			if e.Actor == "doc3" && e.Outcome == auth.Refused {
				n++
			}
		}
		require.Equal(t, 2, n, "the refusals about p1's alert are audited")
	})

	t.Run("the care team's clinician acknowledges", func(t *testing.T) {
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/alerts/"+id+"/ack", s.Clinician("doc1"), nil, nil)
	})
}

func TestSnoozesAndPatientLevelsAreBounded(t *testing.T) {
	t.Parallel()
	s, _ := alertWard(t)
	doc1 := s.Clinician("doc1")
	snooze := func(until time.Time) int {
		return s.Call(t, "POST", "/api/v1/patients/p1/snooze", doc1,
			map[string]any{"rule": "hr_low", "until": until, "reason": "probe re-seated"}, nil)
	}
	t.Run("a snooze lasts 15 minutes to 4 hours", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, snooze(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)))
		require.Equal(t, http.StatusBadRequest, snooze(time.Now().Add(5*time.Hour)))
		require.Equal(t, http.StatusBadRequest, snooze(time.Now().Add(time.Minute)))
		// What the alerts panel sends: now plus 15 minutes or 4 hours, by
		// the browser's clock.
		require.Equal(t, http.StatusCreated, snooze(time.Now().Add(15*time.Minute)))
		require.Equal(t, http.StatusCreated, snooze(time.Now().Add(4*time.Hour)))
	})
	t.Run("a patient's own level stays within the vital's plausible range", func(t *testing.T) {
		set := func(level float64, clear *float64) int {
			body := map[string]any{"rule": "hr_low", "level": level}
			if clear != nil {
				body["clear"] = *clear
			}
			return s.Call(t, "POST", "/api/v1/patients/p1/overrides", doc1, body, nil)
		}
		huge := 1e308
		require.Equal(t, http.StatusBadRequest, set(1e308, nil))
		require.Equal(t, http.StatusBadRequest, set(-5, nil))
		require.Equal(t, http.StatusBadRequest, set(40, &huge))
		fortyFive := 45.0
		require.Equal(t, http.StatusNoContent, set(38, &fortyFive))
	})
}
