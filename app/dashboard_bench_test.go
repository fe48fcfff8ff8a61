package app_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
)

// BenchmarkDashboard200Patients measures the dashboard in headless
// Chromium while 200 patients' watches each publish a heart rate a second
// through the embedded broker: the lag from a reading's time to the frame
// that shows it (p50/p95/p99), and the main thread's long tasks (over
// 50 ms). Run it once:
//
//	go test ./app -run '^$' -bench Dashboard200 -benchtime 1x
func BenchmarkDashboard200Patients(b *testing.B) {
	const patients = 200
	duration := 30 * time.Second
	a := startApp(b, testConfig(b))
	ctx := context.Background()
	require.NoError(b, a.Chart.AddTeam(ctx, "big", "Big ward"))
	require.NoError(b, a.Chart.AddMember(ctx, "big", "clinician", "doc"))
	devs := make([]*device, patients)
	for i := range patients {
		id := fmt.Sprintf("p%03d", i)
		_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: id, MRN: "M" + id, Name: "Patient " + id, BirthDate: "1950-01-01", SpO2Scale: 1})
		require.NoError(b, err)
		require.NoError(b, a.Chart.AddMember(ctx, "big", "patient", id))
		secret, err := a.Devices.Add(ctx, "w-"+id, "watch")
		require.NoError(b, err)
		require.NoError(b, a.Devices.Bind(ctx, "w-"+id, id, time.Now().Add(-time.Hour)))
		devs[i] = connectDevice(b, "tcp://"+a.BrokerAddr(), "w-"+id, secret)
	}
	browser := testenv.StartBrowser(b)
	tab := browser.Tab(b)
	tab.Go(a.SignInURL("doc", auth.RoleClinician, time.Minute).URL)
	tab.Wait(`document.querySelectorAll('li.tile').length === 200`, 60*time.Second)
	time.Sleep(time.Second) // subscribed

	b.ResetTimer()
	for range b.N {
		testenv.Eval[bool](tab, `(window.vitalwire.lags = [], window.vitalwire.longTasks = [], window.vitalwire.rendered = 0, true)`)
		stop := time.Now().Add(duration)
		var wg sync.WaitGroup
		sent := 0
		for sec := 0; time.Now().Before(stop); sec++ {
			tick := time.Now()
			for i, d := range devs {
				wg.Go(func() {
					d.publish(batch(sec, reading(vitals.HeartRate, float64(60+(sec+i)%40), "/min", time.Now())))
				})
			}
			sent += patients
			time.Sleep(time.Until(tick.Add(time.Second)))
		}
		wg.Wait()
		tab.Wait(fmt.Sprintf(`window.vitalwire.lags.length >= %d`, sent), 30*time.Second)
		lags := testenv.Eval[[]float64](tab, `window.vitalwire.lags`)
		long := testenv.Eval[[]float64](tab, `window.vitalwire.longTasks`)
		sort.Float64s(lags)
		q := func(p float64) float64 { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
		var longTotal float64
		for _, d := range long {
			longTotal += d
		}
		b.ReportMetric(float64(len(lags))/duration.Seconds(), "updates/s")
		b.ReportMetric(q(0.50), "p50-lag-ms")
		b.ReportMetric(q(0.95), "p95-lag-ms")
		b.ReportMetric(q(0.99), "p99-lag-ms")
		b.ReportMetric(float64(len(long)), "long-tasks")
		b.ReportMetric(longTotal/duration.Seconds()/10, "long-task-%")
	}
}
