package rpm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/rpm"
)

func TestEnrolledEpisodesAreInstantsOfThePatientsCalendarAndBounded(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	ch, err := chart.Open(ctx, db)
	require.NoError(t, err)
	for _, id := range []string{"tokyo", "clinic", "before", "after"} {
		_, err = ch.AddPatient(ctx, chart.Patient{ID: id, MRN: "M-" + id, Name: "N", BirthDate: "1950-01-01"})
		require.NoError(t, err)
	}
	p := rpm.New(db, rpm.Config{TimeZone: "America/Chicago"})
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p.SetClock(func() time.Time { return now })
	enrol := func(patient, start, end, zone string) {
		_, err := p.Enrol(ctx, patient, "doc", rpm.Enrolment{Start: start, End: end, OrderingClinician: "doc", Diagnoses: []string{"I10"}, TimeZone: zone})
		require.NoError(t, err)
	}
	enrol("tokyo", "2026-11-02", "2026-11-05", "Asia/Tokyo")
	enrol("clinic", "2026-11-02", "", "")
	enrol("before", "2026-10-01", "2026-10-31", "") // its last day ends at 1 November 05:00 UTC (Chicago, CDT)
	enrol("after", "2026-11-10", "", "")

	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	chicago, _ := time.LoadLocation("America/Chicago")
	// The span: 1 November 06:00 UTC to 10 November 06:00 UTC (midnight
	// in Chicago, CST).
	from, to := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 10, 6, 0, 0, 0, time.UTC)
	got, err := p.EnrolledBetween(ctx, ch, from, to, 10)
	require.NoError(t, err)
	require.Len(t, got, 2, "'before' ended before the span, 'after' starts at its end: %+v", got)
	byID := map[string]rpm.Enrolled{}
	for _, e := range got {
		byID[e.Patient] = e
	}
	require.True(t, byID["tokyo"].From.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, tokyo)), "%s", byID["tokyo"].From)
	require.True(t, byID["tokyo"].To.Equal(time.Date(2026, 11, 6, 0, 0, 0, 0, tokyo)), "midnight after the last day: %s", byID["tokyo"].To)
	require.True(t, byID["clinic"].From.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, chicago)), "the clinic's zone: %s", byID["clinic"].From)
	require.True(t, byID["clinic"].To.IsZero(), "open while it runs")

	_, err = p.EnrolledBetween(ctx, ch, from, to, 1)
	require.ErrorIs(t, err, rpm.ErrTooMany)

	// Time: a correction counts instead of the entry it corrects, a void
	// one not at all.
	first, err := p.Record(ctx, "clinic", "doc", rpm.NewTimeEntry{Start: now.Add(-time.Hour), Seconds: 600, Kind: rpm.KindPhoneCall})
	require.NoError(t, err)
	_, err = p.Record(ctx, "clinic", "doc", rpm.NewTimeEntry{Start: now.Add(-time.Hour), Seconds: 660, Kind: rpm.KindPhoneCall, Supersedes: first.ID})
	require.NoError(t, err)
	gone, err := p.Record(ctx, "tokyo", "doc", rpm.NewTimeEntry{Start: now.Add(-time.Hour), Seconds: 300, Kind: rpm.KindDataReview})
	require.NoError(t, err)
	_, err = p.Record(ctx, "tokyo", "doc", rpm.NewTimeEntry{Supersedes: gone.ID, Void: true})
	require.NoError(t, err)
	ts, err := p.TimeBetween(ctx, now.Add(-2*time.Hour), now, 10)
	require.NoError(t, err)
	require.Equal(t, []rpm.CareTime{{Patient: "clinic", Start: now.Add(-time.Hour), Seconds: 660, Interactive: true}}, ts)
	_, err = p.Record(ctx, "tokyo", "doc", rpm.NewTimeEntry{Start: now.Add(-time.Hour), Seconds: 60, Kind: rpm.KindDataReview})
	require.NoError(t, err)
	_, err = p.TimeBetween(ctx, now.Add(-2*time.Hour), now, 1)
	require.ErrorIs(t, err, rpm.ErrTooMany)
}
