package dashboard_test

import (
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestTheTrendShowsThePatientsOwnBaselineAndTheNightsJudged(t *testing.T) {
	t.Parallel()
	// Thirteen nights at once: the service's clock follows them, then
	// comes back to now for the browser.
	var clock atomic.Int64
	day0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-14 * 24 * time.Hour)
	clock.Store(day0.UnixNano())
	s := harness.StartWith(t, harness.Config(t), app.Options{Clock: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "MRN-001", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1})
	s.AddTeam(t, "ward", "Ward")
	s.AddMember(t, "ward", "clinician", "doc1")
	s.AddMember(t, "ward", "patient", "p1")
	watch := harness.Connect(t, s.BrokerURL(), "watch-1", s.AddDeviceFrom(t, "watch-1", "watch", "p1", day0.Add(-time.Hour)))
	for d := range 13 {
		rate := 58.0
		if d >= 10 {
			rate = 67
		}
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		var rs []string
		for m := 0; m <= 6*60; m += 5 {
			rs = append(rs, harness.Reading(vitals.HeartRate, math.Round(rate+2*math.Sin(float64(m))), "/min", start.Add(time.Duration(m)*time.Minute)))
		}
		clock.Store(start.Add(6*time.Hour + time.Minute).UnixNano())
		watch.Publish(harness.Batch(2*d+1, rs...))
		clock.Store(start.Add(12*time.Hour + time.Minute).UnixNano())
		watch.Publish(harness.Batch(2*d+2, harness.Reading(vitals.HeartRate, 78, "/min", start.Add(12*time.Hour))))
	}
	clock.Store(time.Now().UnixNano())

	browser := testenv.StartBrowser(t)
	doc := s.SignIn(t, browser, "doc1", auth.RoleClinician)
	doc.Go(s.URL() + "/#/patients/p1")
	doc.Wait(`document.querySelector('.toolbar button')`, 10*time.Second)
	testenv.Eval[bool](doc, `[...document.querySelectorAll('.toolbar button')].find(b => b.textContent === '30d').click() || true`)
	fig := `document.querySelector('figure[data-vital="heart_rate"]')`
	doc.Wait(fig+` && `+fig+`.querySelector('.levels.baseline')`, 10*time.Second)
	text := testenv.Eval[string](doc, fig+`.textContent`)
	require.Contains(t, text, "own baseline 58", "the patient's own baseline is drawn and named")
	require.Contains(t, text, "+9 over 3 days", "with the deviation and the nights judged")
	require.Equal(t, "1", testenv.Eval[string](doc, fig+`.dataset.alerts`), "the alert is marked")
	doc.Screenshot("baseline-trend")
	require.Empty(t, harness.Axe(t, doc), "serious accessibility violations on the patient page")
}

func TestTheTrendNamesADryWeightAClinicianSetAndThePatientsOwnLevels(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	day0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-4 * 24 * time.Hour)
	clock.Store(day0.UnixNano())
	s := harness.StartWith(t, harness.Config(t), app.Options{Clock: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "MRN-001", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1})
	s.AddTeam(t, "ward", "Ward")
	s.AddMember(t, "ward", "clinician", "doc1")
	s.AddMember(t, "ward", "patient", "p1")
	s.MustCall(t, 204, "POST", "/api/v1/patients/p1/overrides", s.Clinician("doc1"),
		`{"rule":"weight_above_baseline","baseline":80,"deviation":1.5,"days":2}`, nil)
	scale := harness.Connect(t, s.BrokerURL(), "scale-1", s.AddDeviceFrom(t, "scale-1", "scale", "p1", day0.Add(-time.Hour)))
	for d, kg := range []float64{81.6, 81.7} {
		at := day0.Add(time.Duration(d)*24*time.Hour + 7*time.Hour + 30*time.Minute)
		clock.Store(at.Add(time.Second).UnixNano())
		scale.Publish(harness.Batch(d+1, harness.Reading(vitals.BodyWeight, kg, "kg", at)))
	}
	clock.Store(day0.Add(2*24*time.Hour + time.Minute).UnixNano())
	require.Eventually(t, func() bool { return len(s.Alerts(t, "p1", false)) == 1 }, 15*time.Second, 100*time.Millisecond, "the second day judged")
	clock.Store(time.Now().UnixNano())

	browser := testenv.StartBrowser(t)
	doc := s.SignIn(t, browser, "doc1", auth.RoleClinician)
	doc.Go(s.URL() + "/#/patients/p1")
	doc.Wait(`document.querySelector('.toolbar button')`, 10*time.Second)
	testenv.Eval[bool](doc, `[...document.querySelectorAll('.toolbar button')].find(b => b.textContent === '7d').click() || true`)
	fig := `document.querySelector('figure[data-vital="body_weight"]')`
	doc.Wait(fig+` && `+fig+`.querySelector('.levels.baseline')`, 10*time.Second)
	text := testenv.Eval[string](doc, fig+`.textContent`)
	require.Contains(t, text, "baseline set by a clinician 80", "the dry weight is the clinician's, not learnt")
	require.Contains(t, text, "the patient's own level: +1.5 on 2 days")
}
