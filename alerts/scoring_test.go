package alerts_test

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

// TestScoringAgainstTheSimulatorsGroundTruth plays the scored scenario
// (100 patients for a simulated day, a third with a scripted event)
// through the decoder and the engine in simulated time, and scores the
// alerts against the ground truth: every evident episode detected within
// 10 s of becoming evident, no alert without a condition, none on healthy
// patients' ordinary days. app's TestAlertsEndToEndScriptedDay plays the same day
// through a broker and a store. VITALWIRE_SCORING_SEED picks another seed.
func TestScoringAgainstTheSimulatorsGroundTruth(t *testing.T) {
	seed := 2026
	if s := os.Getenv("VITALWIRE_SCORING_SEED"); s != "" {
		var err error
		seed, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	sc, _, err := alertscore.ScriptedDay(seed, 100)
	require.NoError(t, err)
	scale := map[string]int{}
	for _, p := range sc.Patients {
		scale[p.ID] = 1
		if p.Profile.Scale2() {
			scale[p.ID] = 2
		}
	}
	var truth bytes.Buffer
	sim := simulators.NewSimulation(sc, &truth)
	info := func(p string) alerts.PatientInfo {
		return alerts.PatientInfo{Scale: scale[p], OnOxygen: scale[p] == 2}
	}
	engine := alerts.NewEngine(alerts.DefaultRules(), info)
	// The reference sorts every window it reads: the engine's sorted
	// windows must decide the day exactly as it does.
	reference := alerts.NewReferenceEngine(alerts.DefaultRules(), info)
	var differ []string
	patientOf := map[string]string{}
	for _, d := range sim.Devices() {
		patientOf[d.ID] = d.Patient
	}
	var fires []alertscore.Fire
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
			trs := engine.Observe(r, e.At)
			if want := reference.Observe(r, e.At); (len(want) > 0 || len(trs) > 0) && !reflect.DeepEqual(want, trs) && len(differ) < 5 {
				differ = append(differ, fmt.Sprintf("%s: %v, the reference %v", r.Time.Format(time.RFC3339Nano), trs, want))
			}
			for _, tr := range trs {
				if tr.Firing {
					fires = append(fires, alertscore.Fire{Patient: tr.Patient, Rule: tr.Rule.ID, At: tr.At, By: tr.By})
					continue
				}
				for i := len(fires) - 1; i >= 0; i-- {
					if fires[i].Patient == tr.Patient && fires[i].Rule == tr.Rule.ID {
						fires[i].Until = tr.At
						break
					}
				}
			}
		}
	}))
	require.Empty(t, differ, "the engine and the reference decided differently")
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	all := fires
	fires, others := alertscore.Split(fires)
	t.Logf("alerts of rules the day has no ground truth of (not scored): %v; on healthy profiles' ordinary days: %v",
		others, alertscore.HealthyDayAlerts(sc, all))
	res := gt.Score(fires)
	res.Log(t.Logf, len(fires))
	alertscore.RequireTargets(t, res, alertscore.HealthyDayAlerts(sc, all)) // every rule, scored or not, stays silent on a healthy day
}
