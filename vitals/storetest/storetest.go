// Package storetest is the contract every vitals.Store implementation must
// keep. Each implementation's tests call Run with a fresh store per subtest.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

// base is a fixed, whole-minute time so that windows are predictable.
var base = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Reading builds a normalized reading; it is the fixture builder shared by
// store tests.
func Reading(patient, device string, typ vitals.Type, at time.Time, v float64) vitals.Reading {
	spec, _ := vitals.Lookup(typ)
	return vitals.Reading{Device: device, Patient: patient, Type: typ, Time: at, Value: v, Unit: spec.Canonical}
}

// Run runs the contract. open returns an empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) vitals.Store) {
	ctx := context.Background()

	t.Run("a written batch reads back in time order with canonical units", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		batch := []vitals.Reading{
			Reading("p1", "d1", vitals.HeartRate, base.Add(2*time.Second), 72),
			Reading("p1", "d1", vitals.HeartRate, base, 70),
			Reading("p1", "d1", vitals.HeartRate, base.Add(time.Second), 71),
			Reading("p1", "d1", vitals.SpO2, base, 97),
			Reading("p2", "d2", vitals.HeartRate, base, 90),
		}
		require.NoError(t, s.Write(ctx, batch))
		got, err := s.Range(ctx, vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, want := range []float64{70, 71, 72} {
			require.Equal(t, want, got[i].Value)
			require.Equal(t, "d1", got[i].Device)
			require.Equal(t, "p1", got[i].Patient)
			require.Equal(t, "/min", got[i].Unit)
			require.True(t, got[i].Time.Equal(base.Add(time.Duration(i)*time.Second)), "time %d: %v", i, got[i].Time)
		}
	})

	t.Run("the range is half open and other patients and types stay out", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		require.NoError(t, s.Write(ctx, []vitals.Reading{
			Reading("p1", "d1", vitals.HeartRate, base.Add(-time.Nanosecond), 1),
			Reading("p1", "d1", vitals.HeartRate, base, 2),
			Reading("p1", "d1", vitals.HeartRate, base.Add(time.Minute), 3),
			Reading("p1", "d1", vitals.RespiratoryRate, base, 14),
			Reading("p9", "d9", vitals.HeartRate, base, 4),
		}))
		got, err := s.Range(ctx, vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 2.0, got[0].Value)
	})

	t.Run("a reading written twice is stored once", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		r := Reading("p1", "d1", vitals.HeartRate, base, 70)
		require.NoError(t, s.Write(ctx, []vitals.Reading{r, r}))
		require.NoError(t, s.Write(ctx, []vitals.Reading{r}))
		got, err := s.Range(ctx, vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, got, 1)
		ws, err := s.Aggregate(ctx, vitals.AggregateQuery{Query: vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Hour)}})
		require.NoError(t, err)
		require.Len(t, ws, 1)
		require.EqualValues(t, 1, ws[0].Count)
	})

	t.Run("two devices measuring at the same time are both kept", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		require.NoError(t, s.Write(ctx, []vitals.Reading{
			Reading("p1", "watch", vitals.HeartRate, base, 70),
			Reading("p1", "patch", vitals.HeartRate, base, 71),
		}))
		got, err := s.Range(ctx, vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, got, 2)
	})

	t.Run("a range reads newest first and at most its limit", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		var batch []vitals.Reading
		for i := range 10 {
			batch = append(batch, Reading("p1", "watch", vitals.HeartRate, base.Add(time.Duration(i)*time.Second), float64(60+i)))
		}
		require.NoError(t, s.Write(ctx, batch))
		q := vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Hour), Limit: 3}
		got, err := s.Range(ctx, q)
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Equal(t, []float64{60, 61, 62}, []float64{got[0].Value, got[1].Value, got[2].Value}, "the oldest three")
		q.Newest = true
		got, err = s.Range(ctx, q)
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Equal(t, []float64{69, 68, 67}, []float64{got[0].Value, got[1].Value, got[2].Value}, "the newest three")
		q.Limit = 0
		got, err = s.Range(ctx, q)
		require.NoError(t, err)
		require.Len(t, got, 10, "no limit")
		require.Equal(t, 69.0, got[0].Value)
	})

	t.Run("blood pressure keeps both values and the received-time flag survives", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		bp := Reading("p1", "cuff", vitals.BloodPressure, base, 121)
		bp.Diastolic = 79
		bp.ReceivedTime = true
		require.NoError(t, s.Write(ctx, []vitals.Reading{bp}))
		got, err := s.Range(ctx, vitals.Query{Patient: "p1", Type: vitals.BloodPressure, From: base, To: base.Add(time.Hour)})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 121.0, got[0].Value)
		require.Equal(t, 79.0, got[0].Diastolic)
		require.True(t, got[0].ReceivedTime)
		require.Equal(t, "mm[Hg]", got[0].Unit)
	})

	t.Run("latest returns the newest reading of each type", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		bp := Reading("p1", "cuff", vitals.BloodPressure, base.Add(time.Minute), 130)
		bp.Diastolic = 85
		require.NoError(t, s.Write(ctx, []vitals.Reading{
			Reading("p1", "w", vitals.HeartRate, base, 60),
			Reading("p1", "w", vitals.HeartRate, base.Add(2*time.Minute), 62),
			Reading("p1", "patch", vitals.HeartRate, base.Add(time.Minute), 61),
			Reading("p1", "w", vitals.SpO2, base, 95),
			bp,
			Reading("p2", "x", vitals.HeartRate, base.Add(time.Hour), 99),
		}))
		got, err := s.Latest(ctx, "p1")
		require.NoError(t, err)
		byType := map[vitals.Type]vitals.Reading{}
		for _, r := range got {
			byType[r.Type] = r
		}
		require.Len(t, byType, 3)
		require.Equal(t, 62.0, byType[vitals.HeartRate].Value)
		require.Equal(t, 95.0, byType[vitals.SpO2].Value)
		require.Equal(t, 130.0, byType[vitals.BloodPressure].Value)
		require.Equal(t, 85.0, byType[vitals.BloodPressure].Diastolic)
		none, err := s.Latest(ctx, "nobody")
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("aggregates give min max mean and count per window", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		var batch []vitals.Reading
		// Minute 0: 60..69; minute 1: nothing; minute 2: 100, 110.
		for i := 0; i < 10; i++ {
			batch = append(batch, Reading("p1", "w", vitals.HeartRate, base.Add(time.Duration(i)*5*time.Second), float64(60+i)))
		}
		batch = append(batch,
			Reading("p1", "w", vitals.HeartRate, base.Add(2*time.Minute), 100),
			Reading("p1", "w", vitals.HeartRate, base.Add(2*time.Minute+30*time.Second), 110))
		require.NoError(t, s.Write(ctx, batch))
		q := vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(3 * time.Minute)}
		ws, err := s.Aggregate(ctx, vitals.AggregateQuery{Query: q, Every: time.Minute})
		require.NoError(t, err)
		require.Len(t, ws, 2, fmt.Sprint(ws))
		require.True(t, ws[0].Start.Equal(base), "%v", ws[0].Start)
		require.Equal(t, vitals.Window{Start: ws[0].Start, Min: 60, Max: 69, Mean: 64.5, Count: 10}, ws[0])
		require.True(t, ws[1].Start.Equal(base.Add(2*time.Minute)), "%v", ws[1].Start)
		require.Equal(t, 100.0, ws[1].Min)
		require.Equal(t, 110.0, ws[1].Max)
		require.Equal(t, 105.0, ws[1].Mean)
		require.EqualValues(t, 2, ws[1].Count)

		all, err := s.Aggregate(ctx, vitals.AggregateQuery{Query: q})
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.EqualValues(t, 12, all[0].Count)
		require.Equal(t, 60.0, all[0].Min)
		require.Equal(t, 110.0, all[0].Max)

		empty, err := s.Aggregate(ctx, vitals.AggregateQuery{Query: vitals.Query{Patient: "p1", Type: vitals.SpO2, From: base, To: base.Add(time.Hour)}})
		require.NoError(t, err)
		require.Empty(t, empty)
	})

	t.Run("days with data are counted per local day across a daylight saving change, for the asked patients only", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, ny) }
		// New York leaves daylight saving time on 2026-11-01 at 02:00.
		from, to := at(2026, 10, 31, 0, 0), at(2026, 11, 3, 0, 0)
		bp := Reading("p1", "cuff", vitals.BloodPressure, at(2026, 11, 1, 23, 30), 120)
		bp.Diastolic = 80
		require.NoError(t, s.Write(ctx, []vitals.Reading{
			Reading("p1", "w1", vitals.HeartRate, from.Add(-time.Minute), 70), // before the range
			Reading("p1", "w1", vitals.HeartRate, from, 70),                   // first instant: counts
			Reading("p1", "w1", vitals.HeartRate, at(2026, 10, 31, 23, 30), 71),
			Reading("p1", "w1", vitals.HeartRate, at(2026, 11, 1, 0, 30), 72), // EDT
			Reading("p1", "w2", vitals.SpO2, at(2026, 11, 1, 0, 30), 97),      // a second device, same day
			bp, // EST, late evening: still 1 November locally, 2 November in UTC
			Reading("p1", "w1", vitals.HeartRate, to, 73), // the end is open
			Reading("p2", "w9", vitals.HeartRate, at(2026, 11, 1, 12, 0), 80),
		}))
		days, err := s.DaysWithData(ctx, vitals.DaysQuery{Patients: []string{"p1", "p3"}, From: from, To: to, Location: ny})
		require.NoError(t, err)
		require.Equal(t, map[string][]vitals.Day{"p1": {{Date: "2026-10-31", Count: 2}, {Date: "2026-11-01", Count: 3}}}, days)

		utc, err := s.DaysWithData(ctx, vitals.DaysQuery{Patients: []string{"p1"}, From: from, To: to})
		require.NoError(t, err)
		require.Equal(t, []vitals.Day{{Date: "2026-10-31", Count: 1}, {Date: "2026-11-01", Count: 3}, {Date: "2026-11-02", Count: 1}}, utc["p1"],
			"without a location the days are UTC days")

		_, err = s.DaysWithData(ctx, vitals.DaysQuery{Patients: []string{"p1"}, From: to, To: from})
		require.ErrorIs(t, err, vitals.ErrBadDaysQuery)
		_, err = s.DaysWithData(ctx, vitals.DaysQuery{Patients: []string{"p1"}, From: from, To: from.AddDate(2, 0, 0)})
		require.ErrorIs(t, err, vitals.ErrBadDaysQuery)
	})

	t.Run("days with data of many patients at once are those of each patient alone", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		// 620 patients: more than a store's chunk of patients in one
		// query. Patient i has, on local day k of 6 (New York enters
		// daylight saving time on the third, 2026-03-08), a heart rate
		// at 00:30 and an SpO2 at 23:30 when (i+k) % 3 != 0; every
		// tenth patient has none; "other" is not asked.
		const n, days = 620, 6
		first := time.Date(2026, 3, 6, 0, 0, 0, 0, ny)
		id := func(i int) string { return fmt.Sprintf("pt-%03d", i) }
		var batch []vitals.Reading
		want := map[string][]vitals.Day{}
		for i := 0; i < n; i++ {
			if i%10 == 0 {
				continue
			}
			for k := 0; k < days; k++ {
				if (i+k)%3 == 0 {
					continue
				}
				day := time.Date(2026, 3, 6+k, 0, 0, 0, 0, ny)
				batch = append(batch,
					Reading(id(i), "w-"+id(i), vitals.HeartRate, day.Add(30*time.Minute), 70),
					Reading(id(i), "o-"+id(i), vitals.SpO2, time.Date(2026, 3, 6+k, 23, 30, 0, 0, ny), 97))
				want[id(i)] = append(want[id(i)], vitals.Day{Date: day.Format(time.DateOnly), Count: 2})
			}
		}
		batch = append(batch, Reading("other", "w-other", vitals.HeartRate, first.Add(time.Hour), 60))
		require.NoError(t, s.Write(ctx, batch))
		q := vitals.DaysQuery{From: first, To: time.Date(2026, 3, 6+days, 0, 0, 0, 0, ny), Location: ny}
		for i := n - 1; i >= 0; i-- { // not in order: nothing may depend on it
			q.Patients = append(q.Patients, id(i))
		}
		all, err := s.DaysWithData(ctx, q)
		require.NoError(t, err)
		require.Len(t, all, n-n/10, "every asked patient with readings, and no other")
		require.Equal(t, want, all)
		// Each alone, at the edges of any chunk size and a sample.
		for i := 1; i < n; i += 7 {
			alone := q
			alone.Patients = []string{id(i)}
			one, err := s.DaysWithData(ctx, alone)
			require.NoError(t, err)
			mine := map[string][]vitals.Day{}
			if ds, ok := all[id(i)]; ok {
				mine[id(i)] = ds
			}
			require.Equal(t, mine, one, id(i))
		}
	})

	t.Run("latest finds each type however far back, for many patients at once, as for each alone", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		now := time.Now().UTC().Truncate(time.Second)
		bp := Reading("p1", "cuff", vitals.BloodPressure, now.Add(-50*24*time.Hour), 118)
		bp.Diastolic = 76
		require.NoError(t, s.Write(ctx, []vitals.Reading{
			Reading("p1", "w", vitals.HeartRate, now.Add(-2*time.Hour), 61),
			Reading("p1", "w", vitals.HeartRate, now.Add(-time.Hour), 62),
			Reading("p1", "patch", vitals.HeartRate, now.Add(-90*time.Minute), 63),
			Reading("p1", "w", vitals.HeartRate, now.Add(-3*24*time.Hour), 64),
			Reading("p1", "scale", vitals.BodyWeight, now.Add(-10*24*time.Hour), 80.5), // past the first step
			Reading("p1", "scale", vitals.BodyWeight, now.Add(-11*24*time.Hour), 80.1),
			bp, // past the second
			Reading("p1", "thermo", vitals.BodyTemperature, now.Add(-2*365*24*time.Hour), 36.9), // past the third
			Reading("p1", "w", vitals.SpO2, now.Add(12*time.Hour), 96),                          // a clock ahead
			Reading("p2", "w2", vitals.SpO2, now.Add(-40*24*time.Hour), 93),                     // nothing near now
			Reading("p2", "w2", vitals.SpO2, now.Add(-45*24*time.Hour), 94),
			// Two devices at the same time: the greater device id.
			Reading("p3", "a", vitals.RespiratoryRate, now.Add(-time.Minute), 14),
			Reading("p3", "b", vitals.RespiratoryRate, now.Add(-time.Minute), 15),
		}))
		all, err := s.LatestOf(ctx, []string{"p3", "nobody", "p1", "p2"})
		require.NoError(t, err)
		values := func(rs []vitals.Reading) map[vitals.Type]float64 {
			m := map[vitals.Type]float64{}
			for _, r := range rs {
				m[r.Type] = r.Value
			}
			return m
		}
		require.Equal(t, map[vitals.Type]float64{vitals.HeartRate: 62, vitals.BodyWeight: 80.5, vitals.BloodPressure: 118,
			vitals.BodyTemperature: 36.9, vitals.SpO2: 96}, values(all["p1"]))
		require.Equal(t, map[vitals.Type]float64{vitals.SpO2: 93}, values(all["p2"]))
		require.Equal(t, map[vitals.Type]float64{vitals.RespiratoryRate: 15}, values(all["p3"]))
		require.Len(t, all, 3, "a patient without readings is left out")
		for _, r := range all["p1"] {
			if r.Type == vitals.BloodPressure {
				require.Equal(t, 76.0, r.Diastolic)
				require.Equal(t, "cuff", r.Device)
				require.Equal(t, "mm[Hg]", r.Unit)
			}
		}
		for _, p := range []string{"p1", "p2", "p3"} {
			one, err := s.Latest(ctx, p)
			require.NoError(t, err)
			require.Equal(t, all[p], one, p)
			for i := 1; i < len(one); i++ {
				require.Less(t, one[i-1].Type, one[i].Type, "in type order")
			}
		}
	})

	t.Run("readings of many patients in a range are those of each patient's own ranges", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		const n = 260 // past a chunk of patients of either store
		id := func(i int) string { return fmt.Sprintf("rp-%03d", i) }
		var batch []vitals.Reading
		for i := 0; i < n; i++ {
			for k := -2; k < 8; k++ {
				at := base.Add(time.Duration(k) * 7 * time.Minute)
				batch = append(batch, Reading(id(i), "w-"+id(i), vitals.HeartRate, at, float64(60+i%30+k)))
				if k%2 == 0 {
					bp := Reading(id(i), "c-"+id(i), vitals.BloodPressure, at, float64(110+k))
					bp.Diastolic = 70
					bp.ReceivedTime = k == 4
					batch = append(batch, bp)
				}
				if i%3 == 0 {
					batch = append(batch, Reading(id(i), "o-"+id(i), vitals.SpO2, at, 97))
				}
			}
		}
		require.NoError(t, s.Write(ctx, batch))
		from, to := base, base.Add(49*time.Minute) // k 0..6; 49 minutes is k 7, excluded
		var ps []string
		for i := n - 1; i >= 0; i-- {
			ps = append(ps, id(i))
		}
		ps = append(ps, "nobody")
		all, err := s.RangeOf(ctx, vitals.PatientsQuery{Patients: ps, From: from, To: to})
		require.NoError(t, err)
		require.Len(t, all, n)
		want := map[string][]vitals.Reading{}
		for _, r := range batch {
			if !r.Time.Before(from) && r.Time.Before(to) {
				want[r.Patient] = append(want[r.Patient], r)
			}
		}
		for _, rs := range want {
			vitals.SortReadings(rs)
		}
		require.Equal(t, want, all)
		require.Len(t, all[id(3)], 7+4+7)
		some, err := s.RangeOf(ctx, vitals.PatientsQuery{Patients: []string{id(3), id(4)}, Types: []vitals.Type{vitals.SpO2}, From: from, To: to})
		require.NoError(t, err)
		require.Len(t, some, 1, "only the asked types")
		require.Len(t, some[id(3)], 7)
		_, err = s.RangeOf(ctx, vitals.PatientsQuery{Patients: ps, From: to, To: from})
		require.ErrorIs(t, err, vitals.ErrBadPatientsQuery)
	})

	t.Run("aggregates of many patients are those of each patient alone", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		const n = 260
		id := func(i int) string { return fmt.Sprintf("ap-%03d", i) }
		var batch []vitals.Reading
		for i := 0; i < n; i++ {
			for k := 0; k < 30; k++ {
				at := base.Add(time.Duration(k) * 20 * time.Second)
				batch = append(batch, Reading(id(i), "w-"+id(i), vitals.HeartRate, at, float64(60+(i+k)%8)))
				if k%3 == 0 && i%2 == 0 {
					batch = append(batch, Reading(id(i), "o-"+id(i), vitals.SpO2, at, float64(90+k%4)))
				}
			}
		}
		require.NoError(t, s.Write(ctx, batch))
		var ps []string
		for i := 0; i < n; i++ {
			ps = append(ps, id(i))
		}
		q := vitals.PatientsAggregateQuery{Every: time.Minute, PatientsQuery: vitals.PatientsQuery{
			Patients: ps, Types: []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.RespiratoryRate}, From: base.Add(-time.Minute), To: base.Add(9 * time.Minute)}}
		all, err := s.AggregateOf(ctx, q)
		require.NoError(t, err)
		require.Len(t, all, n)
		for i := 0; i < n; i += 11 {
			for _, typ := range q.Types {
				ws, err := s.Aggregate(ctx, vitals.AggregateQuery{Every: time.Minute, Query: vitals.Query{Patient: id(i), Type: typ, From: q.From, To: q.To}})
				require.NoError(t, err)
				require.Equal(t, len(ws), len(all[id(i)][typ]), "%s %s", id(i), typ)
				for k, w := range ws {
					got := all[id(i)][typ][k]
					require.True(t, w.Start.Equal(got.Start))
					require.Equal(t, w.Count, got.Count)
					require.Equal(t, w.Min, got.Min)
					require.Equal(t, w.Max, got.Max)
					require.InDelta(t, w.Mean, got.Mean, 1e-9)
				}
			}
		}
		require.Len(t, all[id(0)][vitals.HeartRate], 9, "the tenth minute is past the range")
		require.Equal(t, vitals.Window{Start: base, Min: 60, Max: 62, Mean: 61, Count: 3}, all[id(0)][vitals.HeartRate][0])
		_, ok := all[id(1)][vitals.SpO2]
		require.False(t, ok, "no windows for a type without readings")
		_, err = s.AggregateOf(ctx, vitals.PatientsAggregateQuery{PatientsQuery: q.PatientsQuery})
		require.ErrorIs(t, err, vitals.ErrBadPatientsQuery, "windows are required")
	})

	t.Run("a large batch is stored whole", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		batch := make([]vitals.Reading, 0, 5000)
		for i := 0; i < 5000; i++ {
			batch = append(batch, Reading("p1", "w", vitals.HeartRate, base.Add(time.Duration(i)*time.Millisecond), float64(50+i%50)))
		}
		require.NoError(t, s.Write(ctx, batch))
		ws, err := s.Aggregate(ctx, vitals.AggregateQuery{Query: vitals.Query{Patient: "p1", Type: vitals.HeartRate, From: base, To: base.Add(time.Hour)}})
		require.NoError(t, err)
		require.Len(t, ws, 1)
		require.EqualValues(t, 5000, ws[0].Count)
	})
}

// Now is a fixed time for fixtures that need one.
func Now() time.Time { return base }
