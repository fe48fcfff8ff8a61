package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/vitals"
)

// A year of weeks with the adherence window before the first is more
// than one days query of the store may span (400 days): the days are read
// in parts, and the readings of both ends are counted.
func TestMeasuresOverAYearOfWeeksCountTheDaysOfBothEnds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixtureOptions{})
	f.addPatient(t, "p1")
	require.NoError(t, f.d.Chart.AddTeam(ctx, "ward", "Ward"))
	require.NoError(t, f.d.Chart.AddMember(ctx, "ward", "patient", "p1"))
	require.NoError(t, f.d.Chart.AddMember(ctx, "ward", "clinician", "doc1"))
	// from: a Sunday (UTC, the clinic's zone by default) over 400 days
	// ago; to: 366 days later, a Monday's end. The weeks run from the
	// Monday before from to the Monday after to's day: 54 weeks, read
	// with the 30 days ending on the first week's Sunday (from - 29 to
	// from + 371: 401 days).
	d := time.Now().UTC().AddDate(0, 0, -400)
	from := time.Date(d.Year(), d.Month(), d.Day()-int(d.Weekday()), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 366)
	_, err := f.d.Program.Enrol(ctx, "p1", "doc1", rpm.Enrolment{Start: from.AddDate(0, 0, -60).Format(time.DateOnly), OrderingClinician: "doc1", Diagnoses: []string{"I10"}})
	require.NoError(t, err)
	spec, _ := vitals.Lookup(vitals.HeartRate)
	var rs []vitals.Reading
	for k := 0; k < 16; k++ { // the 16 days ending on the first week's Sunday, and on the last week's
		for _, day := range []time.Time{from.AddDate(0, 0, -k), from.AddDate(0, 0, 371-k)} {
			rs = append(rs, vitals.Reading{Device: "w1", Patient: "p1", Type: vitals.HeartRate, Unit: spec.Canonical, Time: day.Add(9 * time.Hour), Value: 70})
		}
	}
	require.NoError(t, f.d.Store.Write(ctx, rs))

	req := httptest.NewRequest("GET", "/api/v1/reports/measures?period=week&from="+from.Format(time.DateOnly)+"&to="+to.Format(time.DateOnly), nil)
	req.Header.Set("Authorization", "Bearer "+f.mint("doc1", auth.RoleClinician))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var rep MeasuresReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	require.Len(t, rep.Periods, 54)
	n := len(rep.Periods)
	require.Equal(t, from.AddDate(0, 0, 371).Format(time.DateOnly), rep.Periods[n-1].Adherence.WindowEnd)
	require.Equal(t, 1, rep.Periods[0].Adherence.Adherent, "the first week: 16 days of readings ending on its Sunday")
	require.Equal(t, 0, rep.Periods[3].Adherence.Adherent)
	require.Equal(t, 1, rep.Periods[n-1].Adherence.Adherent, "the last week")
}
