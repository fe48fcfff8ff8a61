//go:build scored

package alerts_test

import (
	"bytes"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/test/harness"
)

// TestHypertensionAndAChargerDayEndToEndOneProblemEach plays two of the
// multi-day scenarios' episodes through the embedded broker, every device
// with its own credentials, with the service's clock following the
// simulation: hypertensive urgency (the cuff's reading of 196 repeated two
// minutes later) and a watch left on its charger for a day, beside a
// healthy patient. The alerts read through the API are scored against the
// ground truth, and each episode is one problem in the API's problems view
// (what the care team sees as one notification).
func TestHypertensionAndAChargerDayEndToEndOneProblemEach(t *testing.T) {
	sc, err := simulators.ParseScenario([]byte(`start: 2026-03-02T00:00:00Z
duration: 30h
seed: 2026
patients:
  - id: hypertension
    devices: [watch, cuff]
    events: [{kind: hypertension, at: 6h, for: 10h, ramp: 1h}]
  - id: charger
    devices: [watch, cuff]
    events: [{kind: device_removal, device: watch, at: 2h, for: 24h}]
  - id: healthy
    devices: [watch, patch, cuff]
`))
	require.NoError(t, err)
	var simNow atomic.Int64
	simNow.Store(sc.Start.UnixNano())
	counter := &readingCounter{}
	svc := harness.StartWith(t, harness.Config(t), app.Options{Clock: func() time.Time { return time.Unix(0, simNow.Load()).UTC() }, Sink: counter,
		// The silent watch is judged on the service's tick: a replay of a
		// day takes seconds, so the tick must come many times a second to
		// fall within the simulated hours of the silence.
		AlertsEvery: 5 * time.Millisecond})
	var truth bytes.Buffer
	sim := simulators.NewSimulation(sc, &truth)
	for _, p := range sc.Patients {
		svc.AddPatient(t, chart.Patient{ID: p.ID, MRN: "MRN-" + p.ID, Name: p.ID, BirthDate: "1950-01-01", SpO2Scale: 1})
	}
	replayThroughBroker(t, svc, sc, sim, counter, &simNow)

	var fires []alertscore.Fire
	for _, p := range sc.Patients {
		for _, a := range svc.Alerts(t, p.ID, true) {
			fires = append(fires, alertscore.Fire{Patient: a.Patient, Rule: a.Rule, At: a.FiredAt, Until: a.ResolvedAt})
		}
	}
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	scored, others := alertscore.Split(fires)
	res := gt.Score(scored)
	res.Log(t.Logf, len(scored))
	require.Empty(t, others, "every alert is of a rule the truth has")
	require.Empty(t, res.False)
	require.Empty(t, res.Missed)
	require.Len(t, res.RuleDelays["hypertension_systolic"], 1, "the urgency was evident")
	require.Len(t, res.RuleDelays["no_data_heart_rate"], 1, "the silent watch was evident")

	problems := func(patient string) []alerts.Problem {
		var out []alerts.Problem
		q := url.Values{"patient": {patient}, "all": {"1"}, "view": {"problems"}}
		svc.MustCall(t, http.StatusOK, "GET", "/api/v1/alerts?"+q.Encode(), svc.Patient(patient), nil, &out)
		return out
	}
	ps := problems("hypertension")
	require.Len(t, ps, 1, "one notification for the day's urgency")
	require.Equal(t, "deterioration", ps[0].Problem)
	require.Equal(t, "hypertension_systolic", ps[0].Lead.Rule)
	require.InDelta(t, 196, ps[0].Lead.Value, 8)
	ps = problems("charger")
	require.Len(t, ps, 1, "one notification for the day on the charger")
	require.Equal(t, "no_data:heart_rate", ps[0].Problem)
	require.Equal(t, alerts.Resolved, ps[0].State, "resolved when the watch sent again")
	require.Empty(t, problems("healthy"))
}
