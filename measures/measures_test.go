package measures_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/measures"
)

func TestPeriodsAreWholeWeeksAndMonthsInTheClinicsZone(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	require.NoError(t, err)
	t.Run("weeks run Monday to Monday, local midnight, across a clock change", func(t *testing.T) {
		// 2026-11-01 is the end of daylight saving time in Chicago.
		ps, err := measures.Periods(measures.Week, time.Date(2026, 10, 28, 15, 0, 0, 0, chicago), time.Date(2026, 11, 3, 0, 0, 0, 0, chicago), chicago)
		require.NoError(t, err)
		require.Len(t, ps, 2)
		require.Equal(t, time.Date(2026, 10, 26, 0, 0, 0, 0, chicago), ps[0].From)
		require.Equal(t, time.Date(2026, 11, 2, 0, 0, 0, 0, chicago), ps[0].To)
		require.Equal(t, 7*24*time.Hour+time.Hour, ps[0].To.Sub(ps[0].From), "the week with the clock change is an hour longer")
	})
	t.Run("months start on the 1st", func(t *testing.T) {
		ps, err := measures.Periods(measures.Month, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.UTC)
		require.NoError(t, err)
		require.Len(t, ps, 2)
		require.Equal(t, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), ps[1].From)
		require.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ps[1].To)
	})
	t.Run("a bad period or range is refused", func(t *testing.T) {
		_, err := measures.Periods("day", time.Now(), time.Now().Add(time.Hour), time.UTC)
		require.ErrorIs(t, err, measures.ErrPeriod)
		_, err = measures.Periods(measures.Week, time.Now(), time.Now().AddDate(2, 0, 0), time.UTC)
		require.ErrorIs(t, err, measures.ErrRange)
	})
}

func TestAdherenceCountsLocalDaysAndTheSixteenthDayIsTheEdge(t *testing.T) {
	zone := time.UTC
	ps, err := measures.Periods(measures.Month, time.Date(2026, 6, 1, 0, 0, 0, 0, zone), time.Date(2026, 7, 1, 0, 0, 0, 0, zone), zone)
	require.NoError(t, err)
	days := func(from, n int) map[measures.Date]bool {
		m := map[measures.Date]bool{}
		for d := 0; d < n; d++ {
			m[measures.Date{Y: 2026, M: 6, D: from + d}] = true
		}
		return m
	}
	enrolled := []measures.Span{{From: time.Date(2026, 1, 1, 0, 0, 0, 0, zone)}}
	rows := measures.Compute(measures.Input{Zone: zone, Period: measures.Month, Periods: ps, Now: time.Date(2026, 8, 1, 0, 0, 0, 0, zone),
		Patients: []measures.Patient{
			{ID: "sixteen", Monitored: enrolled, DataDays: days(1, 16)},
			{ID: "fifteen", Monitored: enrolled, DataDays: days(1, 15)},
			{ID: "not enrolled", DataDays: days(1, 30)},
		}})
	require.Len(t, rows, 1)
	a := rows[0].Adherence
	require.Equal(t, "2026-06-01", a.WindowStart)
	require.Equal(t, "2026-06-30", a.WindowEnd)
	require.Equal(t, 2, a.Patients, "a patient not enrolled in monitoring is not counted")
	require.Equal(t, 1, a.Adherent, "16 days is adherent, 15 is not")
	// Last readings on June 16 and 15: 14 and 15 days before June 30.
	require.Equal(t, 14.5, *a.DaysSinceLastMedian)
	require.Equal(t, 15, *a.DaysSinceLastMax)
	require.Equal(t, 60, rows[0].Burden.PatientDays)
}

func TestTimeToAcknowledgeIsANearestRankPercentile(t *testing.T) {
	zone := time.UTC
	ps, err := measures.Periods(measures.Week, time.Date(2026, 6, 1, 0, 0, 0, 0, zone), time.Date(2026, 6, 8, 0, 0, 0, 0, zone), zone)
	require.NoError(t, err)
	fired := time.Date(2026, 6, 2, 10, 0, 0, 0, zone)
	var as []measures.Alert
	for _, s := range []int{50, 10, 40, 20, 30, 60, 70, 80, 90, 100} {
		as = append(as, measures.Alert{Patient: "p", Severity: "high", FiredAt: fired, AckedAt: fired.Add(time.Duration(s) * time.Second)})
	}
	as = append(as, measures.Alert{Patient: "p", Severity: "high", FiredAt: fired}) // never acknowledged
	as = append(as, measures.Alert{Patient: "q", Severity: "high", FiredAt: fired, AckedAt: fired.Add(time.Hour)})
	rows := measures.Compute(measures.Input{Zone: zone, Periods: ps, Patients: []measures.Patient{{ID: "p"}}, Alerts: as})
	h := rows[0].Response.BySeverity["high"]
	require.Equal(t, 11, h.Fired, "q is not in the scope")
	require.Equal(t, 10, h.Acknowledged)
	require.Equal(t, 50.0, *h.AckP50, "rank ceil(0.5 x 10) = 5")
	require.Equal(t, 90.0, *h.AckP90, "rank ceil(0.9 x 10) = 9")
	require.Nil(t, rows[0].Burden.AlertsPerPatientDay, "no patient-days: no rate, not zero")
}

func TestMonitoredPatientsAreTheEnrolledAndMinutesAddTheTimeEntries(t *testing.T) {
	zone := time.UTC
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, zone) }
	// The week of Monday 2026-06-01.
	ps, err := measures.Periods(measures.Week, at(6, 1, 0, 0), at(6, 8, 0, 0), zone)
	require.NoError(t, err)
	rows := measures.Compute(measures.Input{Zone: zone, Periods: ps, Now: at(7, 1, 0, 0),
		Patients: []measures.Patient{
			// a: enrolled since January; b: from Thursday 4 June; c:
			// an episode whose last day was 31 May.
			{ID: "a", Monitored: []measures.Span{{From: at(1, 1, 0, 0)}}},
			{ID: "b", Monitored: []measures.Span{{From: at(6, 4, 0, 0)}}},
			{ID: "c", Monitored: []measures.Span{{From: at(3, 1, 0, 0), To: at(6, 1, 0, 0)}}},
		},
		Visits: []measures.Visit{{Patient: "a", EndedAt: at(6, 2, 10, 0), InteractiveSeconds: 600},
			{Patient: "c", EndedAt: at(6, 2, 11, 0), InteractiveSeconds: 600}}, // c's episode had ended
		Time: []measures.CareTime{
			{Patient: "a", Start: at(6, 3, 9, 0), Seconds: 900, Interactive: true},  // a phone call
			{Patient: "b", Start: at(6, 5, 9, 0), Seconds: 300},                     // a data review
			{Patient: "a", Start: at(6, 7, 23, 59), Seconds: 240},                   // a plan adjustment, the week's last minute
			{Patient: "a", Start: at(6, 8, 0, 0), Seconds: 1200, Interactive: true}, // the next week
			{Patient: "c", Start: at(6, 3, 9, 0), Seconds: 1200, Interactive: true}, // not enrolled in the week
			{Patient: "x", Start: at(6, 3, 9, 0), Seconds: 1200, Interactive: true}, // not in the report's scope
		}})
	require.Len(t, rows, 1)
	r := rows[0]
	// The 30 days of adherence (9 May to 7 June) hold a, b and c's
	// episode; none of them has readings.
	require.Equal(t, 3, r.Adherence.Patients)
	require.Equal(t, 3, r.Adherence.NoReadings)
	// Patient-days: a the 7 days, b Thursday to Sunday (4), c none.
	require.Equal(t, 11, r.Burden.PatientDays)
	v := r.Visits
	require.Equal(t, 2, v.Patients, "a and b were enrolled in the week; c's episode had ended")
	require.Equal(t, 1, v.Visits)
	require.Equal(t, 10.0, v.InteractiveMinutes, "the visit's 600 s")
	require.Equal(t, 15.0, v.EntryInteractiveMinutes, "the phone call's 900 s")
	require.Equal(t, 9.0, v.EntryNonInteractiveMinutes, "300 s of review and 240 s of plan")
	require.Equal(t, 0.5, *v.VisitsPerPatient)
	require.Equal(t, 17.0, *v.MinutesPerPatient, "(10 + 15 + 9) minutes / 2 patients")
	require.Equal(t, 12.5, *v.InteractiveMinutesPerPatient, "(10 + 15) interactive minutes / 2 patients")
}
