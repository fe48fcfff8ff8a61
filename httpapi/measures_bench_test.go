package httpapi

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
)

// The full figure is -measures.patients=10000 (docs/PERFORMANCE.md); the
// default keeps a run that proves the benchmark works short.
var measuresBenchPatients = flag.Int("measures.patients", 200, "patients in the measures benchmark")

// seedMeasures fills the records (patients in one care team, an episode
// each since 40 days before the month, two time entries each) and the
// store (two readings a day on the 30 days before the month's end; every
// tenth patient misses every other day), with direct writes.
func seedMeasures(b *testing.B, f *fixture, store vitals.Store, n int, month time.Time) {
	ctx := context.Background()
	tx, err := f.records.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	exec := func(q string, args ...any) {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	exec(`INSERT INTO care_teams (id, name) VALUES ('bench', 'Bench')`)
	start := month.AddDate(0, 0, -40).Format(time.DateOnly)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("bp-%05d", i)
		exec(`INSERT INTO patients (id, mrn, name, birth_date, created_at) VALUES (?,?,?,?,?)`, p, "M"+p, "Bench "+p, "1950-01-01", 0)
		exec(`INSERT INTO care_team_members (team_id, member, kind) VALUES ('bench', ?, 'patient')`, p)
		exec(`INSERT INTO monitoring_episodes (id, patient, start_date, ordering_clinician, diagnoses, setup_date, created_by, created_at)
			VALUES (?,?,?,?,?,?,?,0)`, "ep-"+p, p, start, "doc", "I50.9", start, "doc")
		for k, kind := range []string{"phone_call", "data_review"} {
			exec(`INSERT INTO time_entries (patient, started_at, seconds, clinician, kind, interactive, recorded_by, recorded_at)
				VALUES (?,?,?,?,?,?,?,0)`, p, month.AddDate(0, 0, 3+k).UnixMilli(), 600, "doc", kind, k == 0, "doc")
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	end := month.AddDate(0, 1, 0)
	spec, _ := vitals.Lookup(vitals.HeartRate)
	batch := make([]vitals.Reading, 0, 10000)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("bp-%05d", i)
		for d := 1; d <= 30; d++ {
			if i%10 == 0 && d%2 == 1 {
				continue
			}
			for _, hour := range []int{8, 20} {
				batch = append(batch, vitals.Reading{Device: "w-" + p, Patient: p, Type: vitals.HeartRate, Unit: spec.Canonical,
					Time: end.AddDate(0, 0, -d).Add(time.Duration(hour) * time.Hour), Value: 70})
			}
		}
		if len(batch) >= 9000 || i == n-1 {
			if err := store.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// benchMeasures times GET /api/v1/reports/measures for the last whole
// month (UTC), every patient enrolled, as an admin: episodes, days with
// data from the store, alerts, visits, time entries, the audit event.
func benchMeasures(b *testing.B, store vitals.Store) {
	f := newFixture(b, fixtureOptions{store: store})
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	seedMeasures(b, f, f.d.Store, *measuresBenchPatients, month)
	tok := f.mint("root", auth.RoleAdmin)
	q := url.Values{"period": {"month"}, "from": {month.Format(time.DateOnly)}, "to": {month.AddDate(0, 1, 0).Format(time.DateOnly)}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/api/v1/reports/measures?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		var rep MeasuresReport
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
			b.Fatal(err)
		}
		n := *measuresBenchPatients
		a := rep.Periods[0].Adherence
		if len(rep.Periods) != 1 || a.Patients != n || a.Adherent != n-(n+9)/10 {
			b.Fatalf("adherence %+v, want %d patients, %d adherent", a, n, n-(n+9)/10)
		}
		if v := rep.Periods[0].Visits; v.EntryInteractiveMinutes != float64(10*n) || v.EntryNonInteractiveMinutes != float64(10*n) {
			b.Fatalf("time %+v, want %d minutes of each", v, 10*n)
		}
	}
	b.ReportMetric(float64(*measuresBenchPatients), "patients")
}

// BenchmarkMeasuresSQLite builds the program measures over the SQLite
// store.
func BenchmarkMeasuresSQLite(b *testing.B) { benchMeasures(b, nil) }

// BenchmarkMeasuresInfluxDB builds them over a real InfluxDB.
func BenchmarkMeasuresInfluxDB(b *testing.B) {
	in := testenv.StartInflux(b)
	store, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: in.Bucket, Token: in.Token})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	benchMeasures(b, store)
}
