package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
)

// The full figures are -reads.patients=10000 -reads.days=30
// (docs/PERFORMANCE.md); the defaults keep a run that proves the
// benchmark works short.
var (
	readsBenchPatients = flag.Int("reads.patients", 300, "patients in the store reads benchmark")
	readsBenchDays     = flag.Int("reads.days", 2, "days of readings per patient in the store reads benchmark")
)

// readsTeam is the care team whose dashboard the benchmark loads.
const readsTeam = 200

// readingsOfDay appends a patient's readings of one UTC day up to now: a
// watch's heart rate, a patch's respiratory rate and a ring's SpO2 every
// 20 minutes (three an hour each), a temperature every 4 hours, a blood
// pressure at 08:00 and 20:00, a weight at 07:00. Patients are staggered
// by their index so that not all measure at the same second.
func readingsOfDay(out []vitals.Reading, i int, p string, day, now time.Time) []vitals.Reading {
	add := func(dev string, typ vitals.Type, at time.Time, v, v2 float64) {
		if !at.Before(now) {
			return
		}
		spec, _ := vitals.Lookup(typ)
		out = append(out, vitals.Reading{Device: dev + p, Patient: p, Type: typ, Time: at, Value: v, Diastolic: v2, Unit: spec.Canonical})
	}
	stagger := time.Duration(i%1200) * time.Second
	for k := 0; k < 72; k++ {
		at := day.Add(time.Duration(k)*20*time.Minute + stagger)
		add("w-", vitals.HeartRate, at, float64(60+(i+k)%25), 0)
		add("p-", vitals.RespiratoryRate, at.Add(time.Second), float64(12+(i+k)%6), 0)
		add("r-", vitals.SpO2, at.Add(2*time.Second), float64(94+(i+k)%5), 0)
	}
	for h := 0; h < 24; h += 4 {
		add("t-", vitals.BodyTemperature, day.Add(time.Duration(h)*time.Hour+stagger), 36.5+float64(i%8)/10, 0)
	}
	add("c-", vitals.BloodPressure, day.Add(8*time.Hour+stagger), float64(115+i%20), 75)
	add("c-", vitals.BloodPressure, day.Add(20*time.Hour+stagger), float64(118+i%20), 77)
	add("s-", vitals.BodyWeight, day.Add(7*time.Hour+stagger), 70+float64(i%30), 0)
	return out
}

// seedReads writes n patients' readings over the last days, in batches of
// 50,000 from four writers (seeding is not timed), and charts the first
// readsTeam patients in the care team of the clinician "doc".
func seedReads(b *testing.B, f *fixture, store vitals.Store, n, days int, now time.Time) []string {
	ctx := context.Background()
	start := time.Now()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("rb-%05d", i)
	}
	if err := f.d.Chart.AddTeam(ctx, "reads", "Reads"); err != nil {
		b.Fatal(err)
	}
	if err := f.d.Chart.AddMember(ctx, "reads", "clinician", "doc"); err != nil {
		b.Fatal(err)
	}
	for _, p := range ids[:min(readsTeam, n)] {
		if _, err := f.d.Chart.AddPatient(ctx, chart.Patient{ID: p, MRN: "M" + p, Name: "Bench " + p, BirthDate: "1950-01-01"}); err != nil {
			b.Fatal(err)
		}
		if err := f.d.Chart.AddMember(ctx, "reads", "patient", p); err != nil {
			b.Fatal(err)
		}
	}
	batches := make(chan []vitals.Reading, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var written int
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for batch := range batches {
				var err error
				// A store busy compacting may refuse for a moment.
				for try := 0; try < 30; try++ {
					if err = store.Write(ctx, batch); err == nil || !errors.Is(err, vitals.ErrUnavailable) {
						break
					}
					time.Sleep(time.Second)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				written += len(batch)
				mu.Unlock()
			}
		})
	}
	// The baseline days the live path would have closed and kept, as the
	// readings arrived: computed by the same code, saved to the records.
	rules := alerts.DefaultRules()
	base := alerts.NewBaselines()
	records := alerts.NewStore(f.records)
	keep := func() {
		if err := records.SaveBaselineDays(ctx, base.TakeClosed(), 0); err != nil {
			b.Fatal(err)
		}
	}
	first := now.Truncate(24*time.Hour).AddDate(0, 0, -days+1)
	batch := make([]vitals.Reading, 0, 51000)
	for i, p := range ids {
		for d := 0; d < days; d++ {
			from := len(batch)
			batch = readingsOfDay(batch, i, p, first.AddDate(0, 0, d), now)
			for _, r := range batch[from:] {
				base.Observe(r, rules, nil)
			}
			if len(batch) >= 50000 {
				batches <- batch
				batch = make([]vitals.Reading, 0, 51000)
			}
		}
		if i%1000 == 999 {
			keep()
		}
	}
	keep()
	batches <- batch
	close(batches)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.Logf("seeded %d readings of %d patients x %d days in %s", written, n, days, time.Since(start).Round(time.Second))
	return ids
}

// benchReads times the three reads of the issue on one seeded store: the
// alert warm-up at start (every patient bound), a dashboard load of a
// care team of 200, and one patient's latest values.
func benchReads(b *testing.B, store vitals.Store) {
	f := newFixture(b, fixtureOptions{store: store})
	n, days := *readsBenchPatients, *readsBenchDays
	now := time.Now().UTC()
	ids := seedReads(b, f, f.d.Store, n, days, now)
	ctx := context.Background()

	warmOnce := func(b *testing.B, rules *alerts.RuleSet) {
		engine := alerts.NewEngine(rules, func(string) alerts.PatientInfo { return alerts.PatientInfo{Scale: 1} })
		svc := alerts.NewService(engine, alerts.NewStore(f.records), nil, zerolog.Nop(), nil)
		if err := svc.Warm(ctx, f.d.Store, ids); err != nil {
			b.Fatal(err)
		}
		if _, ok := svc.Score(ids[n-1]); !ok {
			b.Fatal("the warm-up replayed nothing of the last patient")
		}
	}
	warm := func(b *testing.B, rules *alerts.RuleSet) {
		for i := 0; i < b.N; i++ {
			warmOnce(b, rules)
		}
		b.ReportMetric(float64(n), "patients")
	}
	b.Run("warm-up", func(b *testing.B) { warm(b, alerts.DefaultRules()) })
	b.Run("warm-up without baseline rules", func(b *testing.B) {
		rules := *alerts.DefaultRules()
		rules.Rules = nil
		for _, r := range alerts.DefaultRules().Rules {
			if r.Kind != alerts.KindBaseline {
				rules.Rules = append(rules.Rules, r)
			}
		}
		warm(b, &rules)
	})
	b.Run("dashboard of 200", func(b *testing.B) {
		tok := f.mint("doc", auth.RoleClinician)
		for i := 0; i < b.N; i++ {
			req := httptest.NewRequest("GET", "/api/v1/dashboard", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
			var d Dashboard
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
				b.Fatal(err)
			}
			if len(d.Tiles) != min(readsTeam, n) || len(d.Tiles[0].Latest) != 6 || len(d.Tiles[0].Spark[vitals.HeartRate]) < 2 {
				b.Fatalf("%d tiles, the first with %d latest values and %d heart-rate minutes", len(d.Tiles), len(d.Tiles[0].Latest), len(d.Tiles[0].Spark[vitals.HeartRate]))
			}
		}
		b.ReportMetric(float64(min(readsTeam, n)), "tiles")
	})
	// A first start after the upgrade to kept baseline days (or of
	// patients whose days were lost): four weeks of 5-minute means per
	// patient from the store. Slow on InfluxDB; run it on its own.
	b.Run("warm-up with no baseline days kept", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := f.records.ExecContext(ctx, `DELETE FROM baseline_days`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			warmOnce(b, alerts.DefaultRules())
		}
		b.ReportMetric(float64(n), "patients")
	})
	b.Run("latest of one patient", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rs, err := f.d.Store.Latest(ctx, ids[(i*7919)%n])
			if err != nil {
				b.Fatal(err)
			}
			if len(rs) != 6 {
				b.Fatalf("%d latest values, want 6", len(rs))
			}
		}
	})
}

// BenchmarkReadsSQLite times the warm-up, the dashboard and latest over
// the SQLite store.
func BenchmarkReadsSQLite(b *testing.B) { benchReads(b, nil) }

// BenchmarkReadsInfluxDB times them over a real InfluxDB (1.8, InfluxQL).
func BenchmarkReadsInfluxDB(b *testing.B) {
	in := testenv.StartInflux(b)
	store, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: in.Bucket, Token: in.Token, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	benchReads(b, store)
}
