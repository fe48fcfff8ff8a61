package alerts_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

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
	var fires []alertscore.Fire
	var events []simulators.Emission
	var msg ingest.Message
	require.NoError(t, sim.Advance(sim.End(), func(e simulators.Emission) {
		events = append(events, e)
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
					fires = append(fires, alertscore.Fire{Patient: tr.Patient, Rule: tr.Rule.ID, At: tr.At})
				}
			}
		}
	}))
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	for _, e := range events {
		gt.Measure(e, patientOf)
	}
	res := gt.Score(fires)
	res.Log(t.Logf, len(fires))
	require.NotZero(t, res.Episodes, "the scenario produces conditions")
	// Measured 2026-11-26 (truth from what the devices measure): precision
	// 1.000, recall 0.931 over 29 observable and clear episodes, worst delay
	// 5 min 15 s (docs/ALERTS.md). The rules issue asks for 1.0 on both;
	// these floors keep the engine from getting worse meanwhile.
	require.GreaterOrEqual(t, res.Precision, 0.95, "alerts that match an episode")
	require.GreaterOrEqual(t, res.Recall, 0.85, "episodes detected")
}
