package alerts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

func firings(out []Transition, id string) []Transition {
	var got []Transition
	for _, tr := range out {
		if tr.Rule.ID == id && tr.Firing {
			got = append(got, tr)
		}
	}
	return got
}

func TestHypertensionIsConfirmedByARepeat(t *testing.T) {
	rs := &RuleSet{Freshness: 10 * time.Minute, Rules: append(only(t, "hypertension_systolic").Rules, only(t, "hypertension_diastolic").Rules...)}
	cuff := func(e *Engine, at time.Time, sys, dia float64) []Transition {
		return e.Observe(vitals.Reading{Patient: "p", Type: vitals.BloodPressure, Time: at, Value: sys, Diastolic: dia}, at)
	}
	t.Run("one high reading raises nothing; its repeat within 10 minutes does", func(t *testing.T) {
		e := NewEngine(rs, scale1)
		require.Empty(t, cuff(e, t0, 185, 90))
		out := cuff(e, t0.Add(5*time.Minute), 182, 92)
		require.Len(t, firings(out, "hypertension_systolic"), 1)
		require.Equal(t, t0.Add(5*time.Minute), out[0].At)
		require.Empty(t, firings(out, "hypertension_diastolic"))
	})
	t.Run("a repeat more than 10 minutes later does not confirm", func(t *testing.T) {
		e := NewEngine(rs, scale1)
		require.Empty(t, cuff(e, t0, 185, 90))
		require.Empty(t, cuff(e, t0.Add(11*time.Minute), 185, 90))
	})
	t.Run("a diastolic of 120 with a normal systolic is judged on its own", func(t *testing.T) {
		e := NewEngine(rs, scale1)
		require.Empty(t, cuff(e, t0, 160, 121))
		out := cuff(e, t0.Add(3*time.Minute), 165, 124)
		require.Len(t, firings(out, "hypertension_diastolic"), 1)
		require.Equal(t, 122.5, out[0].Value, "the median of the two")
		require.Empty(t, firings(out, "hypertension_systolic"))
	})
}

func TestHeartFailureWeightGainOverDays(t *testing.T) {
	rs := &RuleSet{Freshness: 10 * time.Minute, Rules: append(only(t, "hf_weight_gain_3d").Rules, only(t, "hf_weight_gain_1d").Rules...)}
	weigh := func(f *feeder, day int, kg float64) {
		f.feed("p", vitals.BodyWeight, t0.Add(time.Duration(day)*24*time.Hour), kg)
	}
	t.Run("0.8 kg a day for three days raises the 3-day rule only", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		for d, kg := range []float64{80, 80.8, 81.6, 82.4} {
			weigh(f, d, kg)
		}
		require.Len(t, firings(f.out, "hf_weight_gain_3d"), 1)
		require.Equal(t, t0.Add(3*24*time.Hour), f.out[0].At)
		require.InDelta(t, 2.4, f.out[0].Value, 1e-9)
		require.Empty(t, firings(f.out, "hf_weight_gain_1d"))
	})
	t.Run("1.2 kg overnight raises the 1-day rule", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		weigh(f, 0, 80)
		f.feed("p", vitals.BodyWeight, t0.Add(25*time.Hour), 81.2) // weighed an hour later than yesterday
		require.Len(t, firings(f.out, "hf_weight_gain_1d"), 1)
	})
	t.Run("a stable weight over weeks raises nothing, and the history stays bounded", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		for h := 0; h < 30*24; h++ { // a reading an hour for a month
			f.feed("p", vitals.BodyWeight, t0.Add(time.Duration(h)*time.Hour), 80+0.3*float64(h%2))
		}
		require.Empty(t, f.out)
		for _, st := range f.e.patients["p"].rules {
			require.LessOrEqual(t, len(st.hist), trendBuckets+1)
		}
	})
	t.Run("a slow gain over two weeks is not a 3-day gain", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		for d := 0; d < 14; d++ {
			weigh(f, d, 80+0.5*float64(d)) // 1.5 kg over any 3 days
		}
		require.Empty(t, f.out)
	})
}

func TestALateUploadOfARawRuleIsDatedFromItsReadings(t *testing.T) {
	rs := &RuleSet{Freshness: 10 * time.Minute, Rules: append(only(t, "glucose_very_low").Rules, only(t, "glucose_low").Rules...)}
	e := NewEngine(rs, scale1)
	now := t0.Add(40 * time.Minute)
	var out []Transition
	for i, v := range []float64{80, 66, 62, 52, 50, 49, 48, 47, 46} {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		out = append(out, e.Observe(vitals.Reading{Patient: "p", Type: vitals.BloodGlucose, Time: at, Value: v}, now)...)
	}
	require.Len(t, firings(out, "glucose_very_low"), 1)
	require.Equal(t, t0.Add(15*time.Minute), firings(out, "glucose_very_low")[0].At)
	require.Len(t, firings(out, "glucose_low"), 1)
	require.Equal(t, t0.Add(20*time.Minute), firings(out, "glucose_low")[0].At)
}

func TestRespiratoryRateAlone(t *testing.T) {
	f := &feeder{e: NewEngine(&RuleSet{Freshness: 10 * time.Minute, Rules: append(only(t, "respiratory_rate_high").Rules, only(t, "respiratory_rate_low").Rules...)}, scale1)}
	for s := 0; s <= 360; s += 30 {
		f.feed("p", vitals.RespiratoryRate, t0.Add(time.Duration(s)*time.Second), 28)
	}
	require.Len(t, firings(f.out, "respiratory_rate_high"), 1)
	require.Equal(t, t0.Add(5*time.Minute), f.out[0].At)
}

func TestNewRuleFieldsAreChecked(t *testing.T) {
	_, err := ParseRules([]byte(`
rules:
  - {id: a, kind: threshold, vital: heart_rate, component: diastolic, above: 1}
  - {id: b, kind: threshold, vital: blood_pressure, component: mean, above: 1}
  - {id: c, kind: threshold, vital: blood_pressure, above: 1, readings: 9}
  - {id: d, kind: rate, vital: body_weight, change: 2, window: 720h}
`))
	for _, want := range []string{`rule "a" (rules[0]) component`, `rule "b" (rules[1]) component`, `rule "c" (rules[2]) readings`, `rule "d" (rules[3]) window`} {
		require.ErrorContains(t, err, want)
	}
}
