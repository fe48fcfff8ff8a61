package rpm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// countingDays counts the report's store queries.
type countingDays struct {
	rpm.DayCounter
	calls int
}

func (c *countingDays) DaysWithData(ctx context.Context, q vitals.DaysQuery) (map[string][]vitals.Day, error) {
	c.calls++
	return c.DayCounter.DaysWithData(ctx, q)
}

func TestEpisodesStartedOnManyDaysShareAFewStoreQueriesAndReportAsEachAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "vitals.db"))
	require.NoError(t, err)
	defer store.Close()
	ch, err := chart.Open(ctx, db)
	require.NoError(t, err)
	p := rpm.New(db, rpm.DefaultConfig())
	p.SetClock(func() time.Time { return time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) })
	// 60 patients, episodes (with their set-up) started every 5 days
	// back from 1 November 2026 over 295 days; readings on the 20 first
	// days of each episode (its first period bills 99454, so 99453 goes
	// with it) and on 16 days of November.
	spec, _ := vitals.Lookup(vitals.HeartRate)
	var batch []vitals.Reading
	nov := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const n = 60
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("p%02d", i)
		_, err := ch.AddPatient(ctx, chart.Patient{ID: id, MRN: "M" + id, Name: "N", BirthDate: "1950-01-01"})
		require.NoError(t, err)
		start := nov.AddDate(0, 0, -5*i)
		_, err = p.Enrol(ctx, id, "doc", rpm.Enrolment{Start: start.Format(time.DateOnly), OrderingClinician: "doc", Diagnoses: []string{"I10"},
			SetupDate: start.Format(time.DateOnly)})
		require.NoError(t, err)
		for d := 0; d < 20; d++ {
			batch = append(batch, vitals.Reading{Device: "w" + id, Patient: id, Type: vitals.HeartRate, Unit: spec.Canonical, Time: start.AddDate(0, 0, d), Value: 70})
		}
		for d := 0; d < 16; d++ {
			batch = append(batch, vitals.Reading{Device: "w" + id, Patient: id, Type: vitals.HeartRate, Unit: spec.Canonical, Time: nov.AddDate(0, 0, 2*d).Add(time.Hour), Value: 70})
		}
	}
	require.NoError(t, store.Write(ctx, batch))

	days := &countingDays{DayCounter: store}
	all, err := p.Report(ctx, rpm.Sources{Days: days, Roster: ch}, rpm.Request{Month: "2026-11"})
	require.NoError(t, err)
	require.Len(t, all.Patients, n)
	// The first dates round back to 30-day steps within the 395 days of
	// look-back: at most 14 groups, not one per start date.
	require.LessOrEqual(t, days.calls, 14, "store queries for %d episodes started on %d days", n, n)
	for i, pr := range all.Patients {
		// 99453 goes with the episode's first period, start to start +
		// 29, every day of it with readings counted (the 20 first days
		// and those of November's readings that fall in it); met in
		// November when the period ends there.
		start := nov.AddDate(0, 0, -5*i)
		want := map[string]bool{}
		for d := 0; d < 20; d++ {
			want[start.AddDate(0, 0, d).Format(time.DateOnly)] = true
		}
		for d := 0; d < 16; d++ {
			if day := nov.AddDate(0, 0, 2*d); day.Before(start.AddDate(0, 0, 30)) {
				want[day.Format(time.DateOnly)] = true
			}
		}
		l := pr.Lines[0]
		require.Equal(t, "99453", l.Code, pr.Patient)
		require.Equal(t, start.Format(time.DateOnly)+"/"+start.AddDate(0, 0, 29).Format(time.DateOnly), l.Period, pr.Patient)
		require.Equal(t, len(want), l.DaysWithData, pr.Patient)
		require.Equal(t, start.AddDate(0, 0, 29).Month() == time.November, l.Met, pr.Patient)
		alone, err := p.Report(ctx, rpm.Sources{Days: store, Roster: ch}, rpm.Request{Month: "2026-11", Include: func(id string) bool { return id == pr.Patient }})
		require.NoError(t, err)
		require.Len(t, alone.Patients, 1)
		require.Equal(t, alone.Patients[0], pr, pr.Patient)
	}
	// p00 started on 1 November: its first period (1-30 November, 16
	// days) bills 99454 and 99453 this month.
	require.Equal(t, "99453", all.Patients[0].Lines[0].Code)
	require.True(t, all.Patients[0].Lines[0].Met, "%+v", all.Patients[0].Lines[0])
}
