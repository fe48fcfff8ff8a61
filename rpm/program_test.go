package rpm_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

func TestEpisodesAndTimeEntriesRefuseWhatWouldRewriteTheRecord(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	ch, err := chart.Open(ctx, db)
	require.NoError(t, err)
	_, err = ch.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	require.NoError(t, err)
	p := rpm.New(db, rpm.DefaultConfig())
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p.SetClock(func() time.Time { return now })

	ep, err := p.Enrol(ctx, "p1", "doc", rpm.Enrolment{Start: "2026-11-01", OrderingClinician: "doc", Diagnoses: []string{"I10"}})
	require.NoError(t, err)
	t.Run("episodes of one patient do not overlap", func(t *testing.T) {
		_, err := p.Enrol(ctx, "p1", "doc", rpm.Enrolment{Start: "2026-11-10", OrderingClinician: "doc", Diagnoses: []string{"I10"}})
		require.ErrorIs(t, err, rpm.ErrConflict)
		_, err = p.Enrol(ctx, "nobody", "doc", rpm.Enrolment{Start: "2026-11-10", OrderingClinician: "doc", Diagnoses: []string{"I10"}})
		require.ErrorIs(t, err, rpm.ErrNotFound)
	})
	t.Run("an end and a set-up are recorded once, within the episode, not in the future", func(t *testing.T) {
		_, err := p.Change(ctx, "p1", ep.ID, "doc", rpm.EpisodeChange{SetupDate: "2026-12-25"})
		require.ErrorIs(t, err, rpm.ErrInvalid)
		_, err = p.Change(ctx, "p1", ep.ID, "doc", rpm.EpisodeChange{End: "2026-10-01"})
		require.ErrorIs(t, err, rpm.ErrInvalid)
		got, err := p.Change(ctx, "p1", ep.ID, "doc", rpm.EpisodeChange{SetupDate: "2026-11-02", End: "2026-11-15"})
		require.NoError(t, err)
		require.Equal(t, "2026-11-02", got.SetupDate)
		require.Equal(t, "doc", got.SetupBy)
		_, err = p.Change(ctx, "p1", ep.ID, "doc", rpm.EpisodeChange{End: "2026-11-16"})
		require.ErrorIs(t, err, rpm.ErrConflict)
		_, err = p.Change(ctx, "p2", ep.ID, "doc", rpm.EpisodeChange{End: "2026-11-16"})
		require.ErrorIs(t, err, rpm.ErrNotFound, "another patient's episode")
		_, err = p.Enrol(ctx, "p1", "doc", rpm.Enrolment{Start: "2026-11-16", OrderingClinician: "doc", Diagnoses: []string{"E11.9"}})
		require.NoError(t, err, "after the end, a new episode")
	})
	t.Run("entries are bounded, and a void correction withdraws one", func(t *testing.T) {
		for _, bad := range []rpm.NewTimeEntry{
			{Start: now.Add(-time.Hour), Seconds: 0, Kind: "phone_call"},
			{Start: now.Add(-time.Hour), Seconds: 4*3600 + 1, Kind: "phone_call"},
			{Start: now.Add(time.Hour), Seconds: 60, Kind: "phone_call"},
			{Start: now.AddDate(-1, 0, 0), Seconds: 60, Kind: "phone_call"},
			{Start: now.Add(-time.Hour), Seconds: 60, Kind: "coffee"},
			{Start: now.Add(-time.Hour), Seconds: 60, Kind: "phone_call", Void: true},
		} {
			_, err := p.Record(ctx, "p1", "doc", bad)
			require.ErrorIs(t, err, rpm.ErrInvalid, "%+v", bad)
		}
		e, err := p.Record(ctx, "p1", "doc", rpm.NewTimeEntry{Start: now.Add(-time.Hour), Seconds: 600, Kind: "phone_call"})
		require.NoError(t, err)
		require.True(t, e.Interactive)
		v, err := p.Record(ctx, "p1", "doc", rpm.NewTimeEntry{Supersedes: e.ID, Void: true, Note: "recorded on the wrong patient"})
		require.NoError(t, err)
		require.Equal(t, 0, v.Seconds)
		_, err = p.Record(ctx, "p1", "doc", rpm.NewTimeEntry{Start: now.Add(-time.Hour), Seconds: 60, Kind: "phone_call", Supersedes: 999})
		require.ErrorIs(t, err, rpm.ErrNotFound)
		es, err := p.Entries(ctx, "p1", now.AddDate(0, -1, 0), now.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, es, 2)
	})
}

func TestAReportOverALongEpisodeStaysWithinTheStoresBoundAcrossDaylightSavingTime(t *testing.T) {
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
	_, err = ch.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01", TimeZone: "America/Chicago"})
	require.NoError(t, err)
	p := rpm.New(db, rpm.DefaultConfig())
	p.SetClock(func() time.Time { return time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC) })
	_, err = p.Enrol(ctx, "p1", "doc", rpm.Enrolment{Start: "2024-06-01", OrderingClinician: "doc", Diagnoses: []string{"I10"}, SetupDate: "2024-06-01"})
	require.NoError(t, err)
	for _, month := range []string{"2026-03", "2026-11"} { // a look-back starting in summer time, ending in winter time, and back
		rep, err := p.Report(ctx, rpm.Sources{Days: store, Roster: ch}, rpm.Request{Month: month})
		require.NoError(t, err, month)
		require.Len(t, rep.Patients, 1)
		require.Equal(t, "99453", rep.Patients[0].Lines[0].Code)
		require.False(t, rep.Patients[0].Lines[0].Met)
	}
}
