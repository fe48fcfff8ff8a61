package chart_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
)

// encounter is a visit's chart entry with a bit of everything in it.
func encounter(visit, patient string, start time.Time) chart.Encounter {
	dia := 82.0
	return chart.Encounter{
		ID: visit, Patient: patient,
		Start: start, End: start.Add(20 * time.Minute), WindowStart: start.Add(-time.Hour),
		Participants: []chart.EncounterParticipant{
			{Subject: patient, Role: "patient", Start: start, End: start.Add(20 * time.Minute)},
			{Subject: "dr-a", Role: "clinician", Start: start.Add(time.Minute), End: start.Add(19 * time.Minute)},
		},
		Summaries: []chart.VitalSummary{
			{Type: "heart_rate", Unit: "/min", Count: 80, Min: 61, Max: 97, Mean: 74.25, Last: 72, LastTime: start.Add(19 * time.Minute)},
			{Type: "blood_pressure", Unit: "mm[Hg]", Count: 2, Min: 128, Max: 141, Mean: 134.5, Last: 128, LastDia: &dia, LastTime: start.Add(5 * time.Minute)},
		},
		Alerts: []chart.EncounterAlert{
			{ID: 7, Rule: "hr_high", Severity: "warning", FiredAt: start.Add(-10 * time.Minute), Value: 131, State: "resolved"},
		},
		Note:       "Ankles less swollen; continue furosemide.",
		AttachedAt: start.Add(21 * time.Minute), UpdatedAt: start.Add(21 * time.Minute), Version: 1,
	}
}

func TestAnEncounterAttachedEarlyIsAmendedUntilFinished(t *testing.T) {
	ctx := context.Background()
	encs := chart.NewEncounters(openRecords(t))
	t0 := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	planned := encounter("v9", "p1", t0)
	planned.Status, planned.End, planned.Note = chart.EncounterPlanned, time.Time{}, "ahead of the visit"
	got, changed, err := encs.Attach(ctx, planned)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, 1, got.Version)

	again := planned
	again.AttachedAt, again.UpdatedAt = t0.Add(time.Minute), t0.Add(time.Minute)
	got, changed, err = encs.Attach(ctx, again)
	require.NoError(t, err)
	require.False(t, changed, "the same content is no new version")
	require.Equal(t, 1, got.Version)

	done := encounter("v9", "p1", t0)
	done.Status, done.AttachedAt, done.UpdatedAt, done.Version = chart.EncounterFinished, t0.Add(30*time.Minute), t0.Add(30*time.Minute), 0
	got, changed, err = encs.Attach(ctx, done)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, 2, got.Version)
	require.Equal(t, planned.AttachedAt, got.AttachedAt, "first attached when it was")
	require.Equal(t, done.Note, got.Note)

	later := done
	later.Note = "changed after the end"
	got, changed, err = encs.Attach(ctx, later)
	require.NoError(t, err)
	require.False(t, changed, "a finished Encounter stays")
	require.Equal(t, done.Note, got.Note)

	h, err := encs.History(ctx, "v9")
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, []int{2, 1}, []int{h[0].Version, h[1].Version})
	require.Equal(t, "ahead of the visit", h[1].Note)
	v1, err := encs.Version(ctx, "v9", 1)
	require.NoError(t, err)
	require.Equal(t, chart.EncounterPlanned, v1.Status)
	_, err = encs.Version(ctx, "v9", 3)
	require.ErrorIs(t, err, chart.ErrNotFound)
	_, err = encs.History(ctx, "nope")
	require.ErrorIs(t, err, chart.ErrNotFound)
}

func TestEncounters(t *testing.T) {
	ctx := context.Background()
	db := openRecords(t)
	encs := chart.NewEncounters(db)
	t0 := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	first := encounter("v1", "p1", t0)

	t.Run("an unknown visit has no encounter", func(t *testing.T) {
		_, err := encs.Get(ctx, "v1")
		require.ErrorIs(t, err, chart.ErrNotFound)
	})
	t.Run("the first attach stores the encounter as given", func(t *testing.T) {
		got, stored, err := encs.Attach(ctx, first)
		require.NoError(t, err)
		require.True(t, stored)
		require.Equal(t, first, got)

		again, err := encs.Get(ctx, "v1")
		require.NoError(t, err)
		require.Equal(t, first, again)
		require.NotNil(t, again.Summaries[1].LastDia)
		require.Equal(t, 82.0, *again.Summaries[1].LastDia)
	})
	t.Run("attaching the visit again changes nothing", func(t *testing.T) {
		later := encounter("v1", "p1", t0)
		later.Note = "a different note"
		later.Summaries = nil
		later.AttachedAt = t0.Add(time.Hour)

		got, stored, err := encs.Attach(ctx, later)
		require.NoError(t, err)
		require.False(t, stored)
		require.Equal(t, first, got, "the stored encounter is returned")

		again, err := encs.Get(ctx, "v1")
		require.NoError(t, err)
		require.Equal(t, first, again)
		list, err := encs.ForPatient(ctx, "p1")
		require.NoError(t, err)
		require.Len(t, list, 1)
	})
	t.Run("a patient's encounters are listed newest first, and only theirs", func(t *testing.T) {
		third := encounter("v3", "p1", t0.Add(48*time.Hour))
		second := encounter("v2", "p1", t0.Add(24*time.Hour))
		other := encounter("v4", "p2", t0.Add(36*time.Hour))
		for _, e := range []chart.Encounter{third, other, second} {
			_, stored, err := encs.Attach(ctx, e)
			require.NoError(t, err)
			require.True(t, stored)
		}
		list, err := encs.ForPatient(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, []chart.Encounter{third, second, first}, list)
	})
	t.Run("a patient without encounters has an empty list", func(t *testing.T) {
		list, err := encs.ForPatient(ctx, "p9")
		require.NoError(t, err)
		require.NotNil(t, list)
		require.Empty(t, list)
	})
	t.Run("encounters outlive the store value", func(t *testing.T) {
		got, err := chart.NewEncounters(db).Get(ctx, "v1")
		require.NoError(t, err)
		require.Equal(t, first, got)
	})
}
