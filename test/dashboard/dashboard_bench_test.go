package dashboard_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// BenchmarkDashboard200Patients measures the dashboard in headless
// Chromium while 200 patients' watches each publish a heart rate a second
// through the embedded broker: the lag from a reading's time to the frame
// that shows it (p50/p95/p99), and the main thread's long tasks (over
// 50 ms). Run it once:
//
//	go test ./test/dashboard -run '^$' -bench Dashboard200 -benchtime 1x
func BenchmarkDashboard200Patients(b *testing.B) {
	const patients = 200
	duration := 30 * time.Second
	s := harness.Start(b, harness.Config(b))
	s.AddTeam(b, "big", "Big ward")
	s.AddMember(b, "big", "clinician", "doc")
	devs := make([]*harness.Device, patients)
	for i := range patients {
		id := fmt.Sprintf("p%03d", i)
		s.AddPatient(b, chart.Patient{ID: id, MRN: "M" + id, Name: "Patient " + id, BirthDate: "1950-01-01", SpO2Scale: 1})
		s.AddMember(b, "big", "patient", id)
		secret := s.AddDeviceFrom(b, "w-"+id, "watch", id, time.Now().Add(-time.Hour))
		devs[i] = harness.Connect(b, s.BrokerURL(), "w-"+id, secret)
	}
	browser := testenv.StartBrowser(b)
	tab := browser.Tab(b)
	tab.Go(s.SignInLink("doc", auth.RoleClinician, time.Minute))
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
					d.Publish(harness.Batch(sec, harness.Reading(vitals.HeartRate, float64(60+(sec+i)%40), "/min", time.Now())))
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
