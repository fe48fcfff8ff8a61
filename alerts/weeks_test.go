//go:build scored

package alerts_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

// TestOrdinaryFortnightsRaiseNoBaselineAlert plays the simulator's
// patients, of every profile, through two ordinary weeks (no scripted
// event) in simulated time, through the engine and the personal
// baselines: no baseline rule may fire, and no rule at all on a healthy
// profile. Behind the build tag "scored" (minutes of simulated data).
func TestOrdinaryFortnightsRaiseNoBaselineAlert(t *testing.T) {
	sc, err := simulators.ParseScenario([]byte("start: 2026-03-02T00:00:00Z\nduration: 336h\nseed: 2026\ngenerate: 8\n"))
	require.NoError(t, err)
	scale := map[string]int{}
	for _, p := range sc.Patients {
		scale[p.ID] = 1
		if p.Profile.Scale2() {
			scale[p.ID] = 2
		}
	}
	sim := simulators.NewSimulation(sc, io.Discard)
	set := alerts.DefaultRules()
	engine := alerts.NewEngine(set, func(p string) alerts.PatientInfo {
		return alerts.PatientInfo{Scale: scale[p], OnOxygen: scale[p] == 2}
	})
	baselines := alerts.NewBaselines()
	patientOf := map[string]string{}
	for _, d := range sim.Devices() {
		patientOf[d.ID] = d.Patient
	}
	var fires []alertscore.Fire
	byRule := map[string]int{}
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
			trs := append(engine.Observe(r, e.At), baselines.Observe(r, set, nil)...)
			for _, tr := range trs {
				if tr.Firing {
					fires = append(fires, alertscore.Fire{Patient: tr.Patient, Rule: tr.Rule.ID, At: tr.At, By: tr.By})
					byRule[tr.Rule.ID]++
				}
			}
		}
	}))
	t.Logf("alerts by rule over %d patients' fortnights: %v", len(sc.Patients), byRule)
	for _, f := range fires {
		for _, r := range set.Rules {
			if r.ID == f.Rule && r.Kind == alerts.KindBaseline {
				t.Errorf("a baseline alert on an ordinary fortnight: %s", f)
			}
		}
	}
	require.Empty(t, alertscore.HealthyDayAlerts(sc, fires), "alerts on healthy patients' ordinary days")
}
