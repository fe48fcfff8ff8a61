package alerts_test

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

// ruleFor maps the simulator's ground-truth conditions to the default rules.
var ruleFor = map[string]string{
	"heart_rate_above_130_for_2m": "heart_rate_high", "heart_rate_below_40_for_2m": "heart_rate_low",
	"spo2_below_90_for_2m": "spo2_low", "spo2_below_85_for_2m": "spo2_low_scale2", "systolic_below_90": "systolic_low",
	"temperature_39_1_or_above": "temperature_high", "glucose_below_54": "glucose_very_low",
	"glucose_below_70_for_15m": "glucose_low", "news2_5_or_more": "news2_medium", "news2_7_or_more": "news2_high",
	"news2_single_3": "news2_single_3",
}

type episode struct {
	patient, rule string
	start, end    time.Time
	counts        bool
}

// margins are how far past a threshold the truth must go for an episode to
// be clear of sensor noise.
var margins = map[string]struct {
	vital  vitals.Type
	level  float64
	below  bool
	margin float64
	get    func(simulators.Vitals) float64
}{
	"heart_rate_high":  {vitals.HeartRate, 130, false, 5, func(v simulators.Vitals) float64 { return v.HeartRate }},
	"heart_rate_low":   {vitals.HeartRate, 40, true, 5, func(v simulators.Vitals) float64 { return v.HeartRate }},
	"spo2_low":         {vitals.SpO2, 90, true, 1.5, func(v simulators.Vitals) float64 { return v.SpO2 }},
	"spo2_low_scale2":  {vitals.SpO2, 85, true, 1.5, func(v simulators.Vitals) float64 { return v.SpO2 }},
	"systolic_low":     {vitals.BloodPressure, 90, true, 5, func(v simulators.Vitals) float64 { return v.Systolic }},
	"temperature_high": {vitals.BodyTemperature, 39.1, false, 0.3, func(v simulators.Vitals) float64 { return v.Temperature }},
	"glucose_very_low": {vitals.BloodGlucose, 54, true, 5, func(v simulators.Vitals) float64 { return v.Glucose }},
	"glucose_low":      {vitals.BloodGlucose, 70, true, 5, func(v simulators.Vitals) float64 { return v.Glucose }},
}

// nearThreshold reports whether, within ten minutes of an alert, the true
// value (or NEWS2 score) came within the noise margin of the rule's level.
func nearThreshold(f alerts.Transition, rows []simulators.TruthRow) bool {
	m, threshold := margins[f.Rule.ID]
	for _, r := range rows {
		if r.Time.Sub(f.At) > 10*time.Minute || f.At.Sub(r.Time) > 10*time.Minute {
			continue
		}
		if !threshold {
			level := map[string]int{"news2_medium": 5, "news2_high": 7}[f.Rule.ID]
			if level > 0 && r.NEWS2 >= level-1 {
				return true
			}
			continue
		}
		v := m.get(r.Vitals)
		if (m.below && v < m.level+m.margin) || (!m.below && v > m.level-m.margin) {
			return true
		}
	}
	return false
}

func countable(e *episode, end time.Time, rows []simulators.TruthRow, measured map[string][]time.Time) bool {
	until := e.end
	if until.IsZero() {
		until = end
	}
	m, threshold := margins[e.rule]
	if !threshold {
		// NEWS2: clear when the true score passes the level by a point.
		need := map[string]int{"news2_medium": 6, "news2_high": 8}[e.rule]
		if need == 0 {
			return true
		}
		for _, r := range rows {
			if !r.Time.Before(e.start) && !r.Time.After(until) && r.NEWS2 >= need {
				return true
			}
		}
		return false
	}
	n := 0
	for _, t := range measured[e.patient+"/"+string(m.vital)] {
		if !t.Before(e.start.Add(-2*time.Minute)) && !t.After(until) {
			n++
		}
	}
	if n < 2 {
		return false
	}
	for _, r := range rows {
		if r.Time.Before(e.start) || r.Time.After(until) {
			continue
		}
		v := m.get(r.Vitals)
		if (m.below && v < m.level-m.margin) || (!m.below && v > m.level+m.margin) {
			return true
		}
	}
	return false
}

// TestScoringAgainstTheSimulatorsGroundTruth plays scripted scenarios
// through the decoder and the engine, in simulated time, and scores the
// alerts against the ground truth. It reports precision, recall and delay.
func TestScoringAgainstTheSimulatorsGroundTruth(t *testing.T) {
	sc, err := simulators.ParseScenario([]byte(`
start: 2026-03-02T00:00:00Z
duration: 24h
seed: 99
generate: 20
`))
	require.NoError(t, err)
	script := map[int][]simulators.Event{
		1:  {{Kind: simulators.EventSepsis, At: 4 * time.Hour, Ramp: 6 * time.Hour}},
		2:  {{Kind: simulators.EventHypoxemia, At: 2 * time.Hour, For: 40 * time.Minute, Ramp: 2 * time.Minute}},
		3:  {{Kind: simulators.EventHypoglycaemia, At: 3 * time.Hour, For: 40 * time.Minute, Ramp: 20 * time.Minute}},
		6:  {{Kind: simulators.EventTachyarrhythmia, At: 14 * time.Hour, For: 15 * time.Minute}},
		8:  {{Kind: simulators.EventHypoglycaemia, At: 15 * time.Hour, For: 50 * time.Minute, Ramp: 25 * time.Minute}},
		11: {{Kind: simulators.EventSepsis, At: 9 * time.Hour, Ramp: 5 * time.Hour}},
	}
	for i, evs := range script {
		sc.Patients[i].Events = evs
	}
	scale := map[string]int{}
	for _, p := range sc.Patients {
		scale[p.ID] = 1
		if p.Profile.Scale2() {
			scale[p.ID] = 2
		}
	}
	var truth bytes.Buffer
	sim := simulators.NewSimulation(sc, &truth)
	engine := alerts.NewEngine(alerts.DefaultRules(), func(p string) alerts.PatientInfo {
		return alerts.PatientInfo{Scale: scale[p], OnOxygen: scale[p] == 2}
	})
	patientOf := map[string]string{}
	for _, d := range sim.Devices() {
		patientOf[d.ID] = d.Patient
	}
	var fires []alerts.Transition
	var msg ingest.Message
	measured := map[string][]time.Time{} // patient/vital -> reading times
	require.NoError(t, sim.Advance(sim.End(), func(e simulators.Emission) {
		if e.Readings == 0 || ingest.Decode(e.Payload, &msg) != nil {
			return
		}
		for i := range msg.Readings {
			var r vitals.Reading
			if ingest.Normalize(&msg.Readings[i], e.Device, e.At, 5*time.Minute, 0, &r) != nil {
				continue
			}
			r.Patient = patientOf[e.Device]
			measured[r.Patient+"/"+string(r.Type)] = append(measured[r.Patient+"/"+string(r.Type)], r.Time)
			for _, tr := range engine.Observe(r, e.At) {
				if tr.Firing {
					fires = append(fires, tr)
				}
			}
		}
	}))

	// Ground-truth episodes of the conditions the rules cover.
	rows := map[string][]simulators.TruthRow{}
	for _, line := range strings.Split(strings.TrimSpace(truth.String()), "\n") {
		var row simulators.TruthRow
		if json.Unmarshal([]byte(line), &row) == nil && row.Profile != "" {
			rows[row.Patient] = append(rows[row.Patient], row)
		}
	}
	var eps []*episode
	open := map[string]*episode{}
	lastEp := map[string]*episode{}
	for _, line := range strings.Split(strings.TrimSpace(truth.String()), "\n") {
		var ev simulators.TruthEvent
		if json.Unmarshal([]byte(line), &ev) != nil || ev.State == "" {
			continue
		}
		rule, ok := ruleFor[ev.Condition]
		if !ok {
			continue
		}
		key := ev.Patient + "/" + rule
		if ev.State == "start" {
			// The truth has no hysteresis: a state wavering at a band edge
			// starts and ends many times. A gap under 15 minutes is the
			// same episode, as a clinician would see it.
			if last := lastEp[key]; last != nil && ev.Time.Sub(last.end) < 15*time.Minute {
				last.end = time.Time{}
				open[key] = last
				continue
			}
			e := &episode{patient: ev.Patient, rule: rule, start: ev.Time}
			open[key] = e
			lastEp[key] = e
			eps = append(eps, e)
		} else if e := open[key]; e != nil {
			e.end = ev.Time
			delete(open, key)
		}
	}

	// An episode counts when the patient's devices could see it (two
	// readings of the vital inside it) and it is clear (the true value went
	// past the threshold by more than the sensors' noise). The others are
	// neither required nor held against an alert that matches them.
	for _, e := range eps {
		e.counts = countable(e, sc.Start.Add(sc.Duration), rows[e.patient], measured)
	}
	const slack = 5 * time.Minute
	var tp, fp int
	var delays []time.Duration
	detected := map[*episode]bool{}
	for _, f := range fires {
		var hit *episode
		for _, e := range eps {
			end := e.end
			if end.IsZero() {
				end = sc.Start.Add(sc.Duration)
			}
			if e.patient == f.Patient && e.rule == f.Rule.ID && !f.At.Before(e.start.Add(-slack)) && !f.At.After(end.Add(slack)) {
				hit = e
				break
			}
		}
		if hit == nil && nearThreshold(f, rows[f.Patient]) {
			continue // the truth was within the sensors' noise of the level: not a false alarm
		}
		if hit == nil {
			fp++
			t.Logf("false alert: %s", f)
			continue
		}
		if !hit.counts {
			continue
		}
		tp++
		if !detected[hit] {
			detected[hit] = true
			delays = append(delays, f.At.Sub(hit.start))
			if d := f.At.Sub(hit.start); d > 10*time.Minute {
				t.Logf("late: %s by %s", f, d)
			}
		}
	}
	counted := 0
	for _, e := range eps {
		if !e.counts {
			continue
		}
		counted++
		if !detected[e] {
			t.Logf("missed: %s %s at %s", e.patient, e.rule, e.start.Format(time.RFC3339))
		}
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	precision := float64(tp) / float64(max(1, tp+fp))
	found := 0
	for e := range detected {
		if e.counts {
			found++
		}
	}
	recall := float64(found) / float64(max(1, counted))
	var worst time.Duration
	if len(delays) > 0 {
		worst = delays[len(delays)-1]
	}
	t.Logf("episodes %d (%d observable and clear), alerts %d: precision %.3f, recall %.3f, worst delay %s",
		len(eps), counted, len(fires), precision, recall, worst)
	require.NotEmpty(t, eps, "the scenario produces conditions")
	// Measured 2026-11-26: precision 1.000, recall 0.897 over 29 observable
	// and clear episodes (docs/ALERTS.md). The rules issue asks for 1.0 on
	// both; these floors keep the engine from getting worse meanwhile.
	require.GreaterOrEqual(t, precision, 0.95, "alerts that match an episode")
	require.GreaterOrEqual(t, recall, 0.85, "episodes detected")
}
