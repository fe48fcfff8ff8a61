package alerts_test

import (
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestRestingHeartRateAboveThePatientsOwnBaselineForThreeNightsAcrossARestart(t *testing.T) {
	t.Parallel()
	// Thirteen nights at once: the service's clock follows the nights,
	// and the watch sends each night's readings as it ends.
	var clock atomic.Int64
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	day0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-14 * 24 * time.Hour)
	clock.Store(day0.UnixNano())
	cfg := harness.Config(t)
	svc := harness.StartWith(t, cfg, app.Options{Clock: now})
	chartWard(t, svc, "p1", "doc")
	secret := svc.AddDeviceFrom(t, "watch-1", "watch", "p1", day0.Add(-time.Hour))
	watch := harness.Connect(t, svc.BrokerURL(), "watch-1", secret)

	night := func(d int, rate float64) {
		start := day0.Add(time.Duration(d) * 24 * time.Hour)
		var rs []string
		for m := 0; m <= 6*60; m += 5 {
			v := rate + 2*math.Sin(float64(m)) // the night's own variation
			if m == 120 {
				v = 160 // an artifact
			}
			rs = append(rs, harness.Reading(vitals.HeartRate, math.Round(v), "/min", start.Add(time.Duration(m)*time.Minute)))
		}
		clock.Store(start.Add(6*time.Hour + time.Minute).UnixNano())
		watch.Publish(harness.Batch(2*d+1, rs...))
		// A daytime reading: the night is over.
		clock.Store(start.Add(12*time.Hour + time.Minute).UnixNano())
		watch.Publish(harness.Batch(2*d+2, harness.Reading(vitals.HeartRate, 78, "/min", start.Add(12*time.Hour))))
	}
	for d := range 9 {
		night(d, 58)
	}
	require.Empty(t, svc.Alerts(t, "p1", true), "ordinary nights raise nothing")

	// A restart: the nights learnt are rebuilt from the store.
	svc.Stop()
	svc = harness.StartWith(t, cfg, app.Options{Clock: now})
	watch = harness.Connect(t, svc.BrokerURL(), "watch-1", secret)
	night(9, 58)
	night(10, 66)
	night(11, 66)
	require.Empty(t, svc.Alerts(t, "p1", true), "two nights above the baseline are not three")
	night(12, 66)
	open := svc.Alerts(t, "p1", false)
	require.Len(t, open, 1, "66 at rest is within every population limit, but 8 above her own 58")
	a := open[0]
	require.Equal(t, "resting_heart_rate_above_baseline", a.Rule)
	require.Equal(t, alerts.Medium, a.Severity)
	require.Equal(t, day0.Add(12*24*time.Hour+6*time.Hour), a.FiredAt, "when the third night's hours ended")
	require.NotNil(t, a.Baseline, "explained")
	require.InDelta(t, 58, a.Baseline.Baseline, 1)
	require.InDelta(t, 66, a.Baseline.Recent, 1)
	require.InDelta(t, 8, a.Baseline.Deviation, 1.5)
	require.Equal(t, 3, a.Baseline.Days)
	require.Equal(t, 10, a.Baseline.Learnt, "nights before the restart count")
	require.Equal(t, day0.Add(10*24*time.Hour), a.Baseline.From)
	require.Equal(t, "0-6", a.Baseline.Hours)

	// A night back at her own rate resolves it.
	night(13, 58)
	require.Empty(t, svc.Alerts(t, "p1", false))
}

func TestAClinicianSetsAHeartFailurePatientsDryWeightAndLevelsThroughTheOverridesAPI(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	day0 := time.Now().UTC().Truncate(24 * time.Hour).Add(-5 * 24 * time.Hour)
	clock.Store(day0.UnixNano())
	cfg := harness.Config(t)
	svc := harness.StartWith(t, cfg, app.Options{Clock: now})
	chartWard(t, svc, "p1", "doc")
	doc := svc.Clinician("doc")
	secret := svc.AddDeviceFrom(t, "scale-1", "scale", "p1", day0.Add(-time.Hour))
	scale := harness.Connect(t, svc.BrokerURL(), "scale-1", secret)

	// Bounded: a rise rule stays one, at most four times its 2 kg, days
	// 1-7, a plausible weight, and
	// each kind of rule takes its own levels only.
	for _, bad := range []string{
		`{"rule":"weight_above_baseline","deviation":-1}`,
		`{"rule":"weight_above_baseline","deviation":9}`,
		`{"rule":"weight_above_baseline","days":9}`,
		`{"rule":"weight_above_baseline","baseline":900}`,
		`{"rule":"weight_above_baseline","level":80}`,
		`{"rule":"weight_above_baseline"}`,
		`{"rule":"heart_rate_high","level":150,"deviation":5}`,
	} {
		require.Equal(t, http.StatusBadRequest, svc.Call(t, "POST", "/api/v1/patients/p1/overrides", doc, bad, nil), bad)
	}
	// Her dry weight is 80 kg; the program acts on 1.5 kg over it on two
	// days in a row. No learning: the baseline is the clinician's.
	require.Equal(t, http.StatusNoContent, svc.Call(t, "POST", "/api/v1/patients/p1/overrides", doc,
		`{"rule":"weight_above_baseline","baseline":80,"deviation":1.5,"days":2}`, nil))
	// They are stored: a restart keeps them.
	svc.Stop()
	svc = harness.StartWith(t, cfg, app.Options{Clock: now})
	scale = harness.Connect(t, svc.BrokerURL(), "scale-1", secret)

	weigh := func(d int, kg float64) {
		at := day0.Add(time.Duration(d)*24*time.Hour + 7*time.Hour + 30*time.Minute)
		clock.Store(at.Add(time.Second).UnixNano())
		scale.Publish(harness.Batch(d+1, harness.Reading(vitals.BodyWeight, kg, "kg", at)))
	}
	weigh(0, 81.6)
	weigh(1, 81.7)
	require.Empty(t, svc.Alerts(t, "p1", true), "one day over her dry weight is not two")
	// The second day is judged when it ends on the service's clock, not
	// when the next morning's weighing comes.
	clock.Store(day0.Add(2*24*time.Hour + time.Minute).UnixNano())
	var open []alerts.Alert
	require.Eventually(t, func() bool { open = svc.Alerts(t, "p1", false); return len(open) > 0 }, 15*time.Second, 100*time.Millisecond,
		"1.6 and 1.7 kg over the dry weight her clinician set, on two days")
	require.Len(t, open, 1)
	a := open[0]
	require.Equal(t, "weight_above_baseline", a.Rule)
	require.Equal(t, day0.Add(2*24*time.Hour), a.FiredAt, "when the second day ended")
	require.NotNil(t, a.Baseline, "explained")
	require.Equal(t, 80.0, a.Baseline.Baseline)
	require.True(t, a.Baseline.Set, "the baseline is the clinician's, not learnt")
	require.True(t, a.Baseline.Own, "the levels are the patient's own")
	require.Zero(t, a.Baseline.Learnt)
	require.Equal(t, 1.5, a.Baseline.Level)
	require.Equal(t, 2, a.Baseline.Days)
	require.InDelta(t, 1.65, a.Baseline.Deviation, 0.05)
	require.Equal(t, day0, a.Baseline.From)
}
