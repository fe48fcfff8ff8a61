package simulators

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// truthEvents plays a scenario and returns its condition events and the
// blood-pressure readings sent.
func truthEvents(t *testing.T, yaml string) (evs []TruthEvent, bp []time.Time) {
	t.Helper()
	sc, err := ParseScenario([]byte(yaml))
	require.NoError(t, err)
	var truth bytes.Buffer
	sim := NewSimulation(sc, &truth)
	require.NoError(t, sim.Advance(sim.End(), func(e Emission) {
		if strings.HasSuffix(e.Device, "-cuff") && e.Readings > 0 {
			bp = append(bp, e.At)
		}
	}))
	for _, line := range bytes.Split(truth.Bytes(), []byte("\n")) {
		var ev TruthEvent
		if len(line) > 0 && json.Unmarshal(line, &ev) == nil && ev.State != "" {
			evs = append(evs, ev)
		}
	}
	return evs, bp
}

func evidentAt(evs []TruthEvent, cond string) []time.Time {
	var out []time.Time
	for _, e := range evs {
		if e.Condition == cond && e.State == "evident" {
			out = append(out, e.Time)
		}
	}
	return out
}

func TestHypertensiveUrgencyIsConfirmedByTheCuffsRepeatReading(t *testing.T) {
	evs, bp := truthEvents(t, `start: 2026-03-02T00:00:00Z
duration: 24h
patients:
  - {id: p1, devices: [cuff], events: [{kind: hypertension, at: 6h, for: 10h, ramp: 1h}]}
`)
	// 08:00 and 14:00 are high, each repeated two minutes later; 20:00,
	// after the event, is not.
	require.Len(t, bp, 5, "three readings and two repeats: %v", bp)
	require.Equal(t, 2*time.Minute, bp[1].Sub(bp[0]))
	require.Equal(t, 2*time.Minute, bp[3].Sub(bp[2]))
	ev := evidentAt(evs, "systolic_180_or_above_confirmed")
	require.Equal(t, []time.Time{bp[1], bp[3]}, ev, "evident at each repeat")
	require.Empty(t, evidentAt(evs, "diastolic_120_or_above_confirmed"), "104 diastolic is not a crisis")
}

func TestAWatchOnItsChargerIsSilentAfterSixHours(t *testing.T) {
	evs, _ := truthEvents(t, `start: 2026-03-02T00:00:00Z
duration: 12h
patients:
  - {id: p1, devices: [watch], events: [{kind: device_removal, device: watch, at: 1h, for: 24h}]}
`)
	ev := evidentAt(evs, "heart_rate_silent_6h")
	require.Len(t, ev, 1)
	require.WithinDuration(t, time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC), ev[0], 10*time.Second, "six hours after its last reading")
}

func TestTheMultiDayEventsRaiseTheirConditionsAndOrdinaryDaysDoNot(t *testing.T) {
	evs, _ := truthEvents(t, `start: 2026-03-02T00:00:00Z
duration: 384h
seed: 7
patients:
  - {id: hf, profile: heart_failure, devices: [patch, scale], events: [{kind: hf_decompensation, at: 240h, ramp: 120h}]}
  - {id: inf, devices: [patch], events: [{kind: infection, at: 276h, ramp: 36h}]}
  - {id: calm, profile: heart_failure, devices: [patch, scale]}
`)
	evident := map[string][]string{}
	for _, e := range evs {
		if e.State == "evident" && (strings.Contains(e.Condition, "baseline") || strings.Contains(e.Condition, "weight")) {
			evident[e.Patient] = append(evident[e.Patient], e.Condition)
		}
	}
	require.Contains(t, evident["hf"], "weight_gain_2kg_in_3_days")
	require.Contains(t, evident["hf"], "weight_2kg_above_baseline_3_days")
	require.NotContains(t, evident["hf"], "resting_heart_rate_7_above_baseline_3_nights", "the heart works a little harder, under the baseline's change")
	require.Equal(t, []string{"resting_heart_rate_7_above_baseline_3_nights"}, evident["inf"])
	require.Empty(t, evident["calm"], "an ordinary fortnight has no condition over days")
}

func TestAHeartFailureDecompensationNeedsItsDaysOfGain(t *testing.T) {
	for _, ramp := range []string{"0s", "12h", "400h"} {
		_, err := ParseScenario([]byte("patients: [{id: p1, events: [{kind: hf_decompensation, at: 1h, ramp: " + ramp + "}]}]"))
		require.ErrorContains(t, err, "patients[0].events[0].ramp", ramp)
	}
}
