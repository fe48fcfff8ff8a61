package rpm_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// The full figure is -rpm.patients=10000 (docs/PERFORMANCE.md); the
// default keeps a run that proves the benchmark works short.
var benchPatients = flag.Int("rpm.patients", 200, "patients in the report benchmark")

// seed fills the records (patients, an episode each with its set-up,
// started 10 days before the month or a whole number of 30-day periods
// before that, up to 11, as a program's episodes start on many days; two
// time entries each) and the store (two readings a day on the 30 days
// from 10 days before the month; every tenth patient misses 15 days),
// with direct writes.
func seed(b *testing.B, records *sql.DB, store vitals.Store, n int, month time.Time) {
	ctx := context.Background()
	start := month.AddDate(0, 0, -10)
	tx, err := records.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("bp-%05d", i)
		exec := func(q string, args ...any) {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				b.Fatal(err)
			}
		}
		exec(`INSERT INTO patients (id, mrn, name, birth_date, created_at) VALUES (?,?,?,?,?)`, p, "M"+p, "Bench "+p, "1950-01-01", 0)
		began := start.AddDate(0, 0, -30*(i%12)).Format(time.DateOnly)
		exec(`INSERT INTO monitoring_episodes (id, patient, start_date, ordering_clinician, diagnoses, setup_date, created_by, created_at)
			VALUES (?,?,?,?,?,?,?,0)`, "ep-"+p, p, began, "doc", "I50.9,I10", began, "doc")
		for k, kind := range []string{"phone_call", "data_review"} {
			exec(`INSERT INTO time_entries (patient, started_at, seconds, clinician, kind, interactive, recorded_by, recorded_at)
				VALUES (?,?,?,?,?,?,?,0)`, p, month.AddDate(0, 0, 3+k).UnixMilli(), 600+i%900, "doc", kind, k == 0, "doc")
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	batch := make([]vitals.Reading, 0, 10000)
	spec, _ := vitals.Lookup(vitals.HeartRate)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("bp-%05d", i)
		for d := 0; d < 30; d++ {
			if i%10 == 0 && d%2 == 1 {
				continue
			}
			for _, hour := range []int{8, 20} {
				batch = append(batch, vitals.Reading{Device: "w-" + p, Patient: p, Type: vitals.HeartRate, Unit: spec.Canonical,
					Time: start.AddDate(0, 0, d).Add(time.Duration(hour) * time.Hour), Value: 70})
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

func benchReport(b *testing.B, store vitals.Store) {
	ctx := context.Background()
	records, err := sqldb.OpenRecords(ctx, filepath.Join(b.TempDir(), "records.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer records.Close()
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	seed(b, records, store, *benchPatients, month)
	ch, err := chart.Open(ctx, records)
	if err != nil {
		b.Fatal(err)
	}
	prog := rpm.New(records, rpm.DefaultConfig())
	src := rpm.Sources{Days: store, Visits: telehealth.NewVisits(records), Roster: ch}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := prog.Report(ctx, src, rpm.Request{Month: "2026-11"})
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Patients) != *benchPatients {
			b.Fatalf("%d patients in the report, want %d", len(rep.Patients), *benchPatients)
		}
		if l := rep.Patients[1].Lines[1]; l.Code != "99454" || !l.Met || l.DaysWithData != 30 {
			b.Fatalf("patient 1's 99454: %+v", l)
		}
		if l := rep.Patients[0].Lines[1]; l.Code != "99454" || l.Met || l.DaysWithData != 15 {
			b.Fatalf("patient 0's 99454: %+v", l)
		}
	}
	b.ReportMetric(float64(*benchPatients), "patients")
}

// BenchmarkReportSQLite builds the month's report over the SQLite store.
func BenchmarkReportSQLite(b *testing.B) {
	store, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "vitals.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	benchReport(b, store)
}

// BenchmarkReportInfluxDB builds the month's report over a real InfluxDB.
func BenchmarkReportInfluxDB(b *testing.B) {
	in := testenv.StartInflux(b)
	store, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: in.Bucket, Token: in.Token})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	benchReport(b, store)
}
