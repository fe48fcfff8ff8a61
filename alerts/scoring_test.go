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
			for _, tr := range engine.Observe(r, e.At) {
				if tr.Firing {
					fires = append(fires, tr)
				}
			}
		}
	}))

	// Ground-truth episodes of the conditions the rules cover.
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
		if hit == nil {
			fp++
			t.Logf("false alert: %s", f)
			continue
		}
		tp++
		if !detected[hit] {
			detected[hit] = true
			delays = append(delays, f.At.Sub(hit.start))
		}
	}
	for _, e := range eps {
		if !detected[e] {
			t.Logf("missed: %s %s at %s", e.patient, e.rule, e.start.Format(time.RFC3339))
		}
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	precision := float64(tp) / float64(max(1, tp+fp))
	recall := float64(len(detected)) / float64(max(1, len(eps)))
	var worst time.Duration
	if len(delays) > 0 {
		worst = delays[len(delays)-1]
	}
	t.Logf("episodes %d, alerts %d: precision %.3f, recall %.3f, worst delay %s", len(eps), len(fires), precision, recall, worst)
	require.NotEmpty(t, eps, "the scenario produces conditions")
	// Measured 2026-11-26: precision 0.785, recall 0.608 (docs/PERFORMANCE.md).
	// The rules issue asks for 1.0 on scripted conditions; these floors
	// only keep the engine from getting worse while that work goes on.
	require.GreaterOrEqual(t, recall, 0.6, "episodes detected")
	require.GreaterOrEqual(t, precision, 0.75, "alerts that match an episode")
}
