package alerts_test

import (
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

func TestAWatchThatGoesSilentRaisesNoDataForItsHeartRateAndClearsWhenItSendsAgain(t *testing.T) {
	t.Parallel()
	// The service's clock is the test's, so that six silent hours pass at
	// once; the readings keep their own times.
	var clock atomic.Int64
	t0 := time.Now().UTC().Truncate(time.Second)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	svc := harness.StartWith(t, harness.Config(t), app.Options{Clock: now})
	chartWard(t, svc, "p1", "doc")
	doc := svc.Clinician("doc")
	watch := harness.Connect(t, svc.BrokerURL(), "watch-1", svc.AddDevice(t, "watch-1", "p1"))

	var rs []string
	for m := 10; m >= 0; m-- {
		rs = append(rs, harness.Reading(vitals.HeartRate, 72, "/min", t0.Add(-time.Duration(m)*time.Minute)))
	}
	watch.Publish(harness.Batch(1, rs...))
	require.Empty(t, svc.Alerts(t, "p1", false), "a watch that is sending raises nothing")

	// Six hours and a minute: the shipped rule's six hours are up. The
	// service checks silence every 5 seconds.
	clock.Store(t0.Add(6*time.Hour + time.Minute).UnixNano())
	var silent alerts.Alert
	require.Eventually(t, func() bool {
		for _, a := range svc.Alerts(t, "p1", false) {
			if a.Rule == "no_data_heart_rate" {
				silent = a
				return true
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "no heart rate for six hours raises no_data_heart_rate")
	require.Equal(t, alerts.Low, silent.Severity)
	require.Equal(t, alerts.Firing, silent.State)
	require.WithinDuration(t, t0.Add(6*time.Hour), silent.FiredAt, time.Second, "dated when the six hours were up")

	// It is a problem of its own, not part of a deterioration.
	var ps []alerts.Problem
	require.Equal(t, http.StatusOK, svc.Call(t, "GET", "/api/v1/alerts?view=problems&patient=p1", doc, nil, &ps))
	require.Len(t, ps, 1)
	require.Equal(t, "no_data:heart_rate", ps[0].Problem)

	// The watch is back on the wrist: the alert resolves.
	back := now()
	watch.Publish(harness.Reading(vitals.HeartRate, 74, "/min", back))
	require.Empty(t, svc.Alerts(t, "p1", false), "data is back")
	all := svc.Alerts(t, "p1", true)
	require.Len(t, all, 1)
	require.Equal(t, alerts.Resolved, all[0].State)
}
