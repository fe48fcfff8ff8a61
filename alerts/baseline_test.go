package alerts

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

// nights feeds a patient's overnight heart rate (a reading a minute from
// midnight to 6 am, plus one at noon that closes the night) for days
// starting at day0, the resting rate of each night given by rate; it
// returns the transitions.
func nights(b *Baselines, set *RuleSet, day0 time.Time, rate func(day int) float64, days int, rng *rand.Rand) []Transition {
	var out []Transition
	for d := range days {
		base := day0.Add(time.Duration(d) * 24 * time.Hour)
		for m := 0; m < 6*60; m++ {
			v := rate(d) + rng.NormFloat64()*2
			if m%97 == 0 {
				v = 150 // a motion artifact now and then
			}
			out = append(out, b.Observe(vitals.Reading{Patient: "p1", Type: vitals.HeartRate, Time: base.Add(time.Duration(m) * time.Minute), Value: v}, set, nil)...)
		}
		out = append(out, b.Observe(vitals.Reading{Patient: "p1", Type: vitals.HeartRate, Time: base.Add(12 * time.Hour), Value: 80}, set, nil)...)
	}
	return out
}

func TestRestingHeartRateAboveThePatientsOwnBaselineForThreeNights(t *testing.T) {
	set := DefaultRules()
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	t.Run("eight bpm above a resting 58 for three nights fires, with its explanation", func(t *testing.T) {
		b := NewBaselines()
		rng := rand.New(rand.NewPCG(1, 2))
		trs := nights(b, set, day0, func(d int) float64 {
			if d >= 10 {
				return 66
			}
			return 58
		}, 13, rng)
		require.Len(t, trs, 1, "%v", trs)
		tr := trs[0]
		require.Equal(t, "resting_heart_rate_above_baseline", tr.Rule.ID)
		require.True(t, tr.Firing)
		require.Equal(t, day0.Add(12*24*time.Hour+6*time.Hour), tr.At, "when the third night's hours ended")
		require.NotNil(t, tr.Explain)
		require.InDelta(t, 58, tr.Explain.Baseline, 1)
		require.InDelta(t, 66, tr.Explain.Recent, 1)
		require.InDelta(t, 8, tr.Explain.Deviation, 1.5)
		require.Equal(t, day0.Add(10*24*time.Hour), tr.Explain.From)
		require.Equal(t, 10, tr.Explain.Learnt)
	})
	t.Run("silent while learning: five nights of baseline are not enough", func(t *testing.T) {
		b := NewBaselines()
		rng := rand.New(rand.NewPCG(3, 4))
		trs := nights(b, set, day0, func(d int) float64 {
			if d >= 5 {
				return 70
			}
			return 58
		}, 8, rng)
		require.Empty(t, trs)
	})
	t.Run("ordinary nights with artifacts and two elevated nights raise nothing", func(t *testing.T) {
		b := NewBaselines()
		rng := rand.New(rand.NewPCG(5, 6))
		trs := nights(b, set, day0, func(d int) float64 {
			if d == 12 || d == 13 {
				return 68
			}
			return 58 + float64(d%3) // night to night variation
		}, 40, rng)
		require.Empty(t, trs)
		st := b.patients["p1"]["resting_heart_rate_above_baseline"]
		require.LessOrEqual(t, len(st.days), baselineDays, "bounded: four weeks of daily values")
		require.LessOrEqual(t, cap(st.means), 512, "bounded: a day's 5-minute means")
	})
	t.Run("state rebuilt from the store's 5-minute means fires as the live path does", func(t *testing.T) {
		live := NewBaselines()
		var stored []vitals.Reading
		rng := rand.New(rand.NewPCG(7, 8))
		rate := func(d int) float64 {
			if d >= 10 {
				return 66
			}
			return 58
		}
		for d := range 11 {
			for m := 0; m < 6*60; m++ {
				stored = append(stored, vitals.Reading{Patient: "p1", Type: vitals.HeartRate, Time: day0.Add(time.Duration(d)*24*time.Hour + time.Duration(m)*time.Minute), Value: rate(d) + rng.NormFloat64()*2})
			}
		}
		require.Empty(t, nights(live, set, day0, rate, 10, rand.New(rand.NewPCG(7, 8))))
		rebuilt := NewBaselines()
		now := day0.Add(11*24*time.Hour + 7*time.Hour)
		require.NoError(t, rebuilt.Rebuild(context.Background(), windowsOf(stored), "p1", set, now))
		st := rebuilt.patients["p1"]["resting_heart_rate_above_baseline"]
		require.Len(t, st.days, 10, "the closed nights")
		// Two more elevated nights after the restart complete the three.
		trs := nights(rebuilt, set, day0.Add(11*24*time.Hour), func(int) float64 { return 66 }, 2, rng)
		require.Len(t, trs, 1)
		require.True(t, trs[0].Firing)
	})
}

// windowsOf aggregates readings into 5-minute windows as a store does.
type windowsOf []vitals.Reading

func (rs windowsOf) Aggregate(_ context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	var out []vitals.Window
	for _, r := range rs {
		if r.Type != q.Type || r.Time.Before(q.From) || !r.Time.Before(q.To) {
			continue
		}
		start := r.Time.Truncate(q.Every)
		if len(out) == 0 || !out[len(out)-1].Start.Equal(start) {
			out = append(out, vitals.Window{Start: start, Min: r.Value, Max: r.Value})
		}
		w := &out[len(out)-1]
		w.Mean = (w.Mean*float64(w.Count) + r.Value) / float64(w.Count+1)
		w.Count++
		w.Min, w.Max = min(w.Min, r.Value), max(w.Max, r.Value)
	}
	return out, nil
}

func TestABadBaselineRuleIsRefusedNamingTheField(t *testing.T) {
	for _, c := range []struct{ rule, field string }{
		{`{id: b, kind: baseline, vital: heart_rate, hours: "25-6", deviation: 5}`, "hours"},
		{`{id: b, kind: baseline, vital: heart_rate, hours: "0-6"}`, "deviation"},
		{`{id: b, kind: baseline, vital: heart_rate, hours: "0-6", deviation: 5, days: 9}`, "days"},
		{`{id: b, kind: baseline, vital: heart_rate, hours: "0-6", deviation: 5, learn_days: 1}`, "learn_days"},
	} {
		_, err := ParseRules([]byte("rules:\n  - " + c.rule + "\n"))
		require.ErrorContains(t, err, `rule "b" (rules[0]) `+c.field, c.rule)
	}
	_, err := ParseRules([]byte("timezone: Mars/Olympus\nrules: []\n"))
	require.ErrorContains(t, err, "timezone")
}

func TestADayClosedByTheClockIsJudgedOnceAndLateReadingsDoNotReopenIt(t *testing.T) {
	set := DefaultRules()
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := NewBaselines()
	own := map[string]Override{"weight_above_baseline": {Baseline: ptr(80.0), Days: ptr(1)}}
	ownOf := func(string) map[string]Override { return own }
	weigh := func(at time.Time, kg float64) []Transition {
		return b.Observe(vitals.Reading{Patient: "p1", Type: vitals.BodyWeight, Time: at, Value: kg}, set, ownOf)
	}
	require.Empty(t, weigh(day0.Add(7*time.Hour), 82.5))
	require.Empty(t, b.Tick(day0.Add(23*time.Hour), set, ownOf), "the day is not over")
	trs := b.Tick(day0.Add(24*time.Hour), set, ownOf)
	require.Len(t, trs, 1, "judged when the day ends")
	require.True(t, trs[0].Firing)
	require.Equal(t, day0.Add(24*time.Hour), trs[0].At)
	require.True(t, trs[0].Explain.Set)
	require.Empty(t, b.Tick(day0.Add(25*time.Hour), set, ownOf), "once")
	// A reading of the closed day uploaded late changes nothing.
	require.Empty(t, weigh(day0.Add(20*time.Hour), 79))
	require.Empty(t, b.Tick(day0.Add(26*time.Hour), set, ownOf))
	require.Len(t, b.state("p1", "weight_above_baseline").days, 1, "the day counted once")
}

func ptr[T any](v T) *T { return &v }
