package alerts

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func defaults(t *testing.T) *RuleSet {
	b, err := os.ReadFile("default_rules.yaml")
	require.NoError(t, err)
	rs, err := ParseRules(b)
	require.NoError(t, err)
	return rs
}

func only(t *testing.T, id string) *RuleSet {
	rs := defaults(t)
	for _, r := range rs.Rules {
		if r.ID == id {
			return &RuleSet{Freshness: rs.Freshness, Rules: []Rule{r}}
		}
	}
	t.Fatalf("no rule %s", id)
	return nil
}

type feeder struct {
	e   *Engine
	out []Transition
}

func (f *feeder) feed(patient string, typ vitals.Type, at time.Time, v float64) {
	f.out = append(f.out, f.e.Observe(vitals.Reading{Patient: patient, Device: "d", Type: typ, Time: at, Value: v}, at)...)
}

func scale1(string) PatientInfo { return PatientInfo{Scale: 1} }

func TestThresholdRules(t *testing.T) {
	t.Run("heart rate above 130 fires only after two minutes, at that moment", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "heart_rate_high"), scale1)}
		for s := 0; s <= 180; s += 5 {
			f.feed("p", vitals.HeartRate, t0.Add(time.Duration(s)*time.Second), 140)
		}
		require.Len(t, f.out, 1)
		require.True(t, f.out[0].Firing)
		require.Equal(t, t0.Add(2*time.Minute), f.out[0].At)
	})
	t.Run("a short spike, or one noisy beat, fires nothing", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "heart_rate_high"), scale1)}
		for s := 0; s <= 600; s += 5 {
			v := 90.0
			if s >= 100 && s < 160 {
				v = 150 // one minute only
			}
			f.feed("p", vitals.HeartRate, t0.Add(time.Duration(s)*time.Second), v)
		}
		require.Empty(t, f.out)
	})
	t.Run("readings wavering around the threshold make one alert per episode", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "heart_rate_high"), scale1)}
		at := t0
		run := func(d time.Duration, vals ...float64) {
			for end, i := at.Add(d), 0; at.Before(end); at, i = at.Add(5*time.Second), i+1 {
				f.feed("p", vitals.HeartRate, at, vals[i%len(vals)])
			}
		}
		run(3*time.Minute, 140)            // episode 1 fires
		run(20*time.Minute, 125, 136, 129) // wavers across 130, never below the clear level 120
		run(12*time.Minute, 100)           // clears (10 minutes below 120)
		run(20*time.Minute, 128, 137, 133) // episode 2: above 130 most of the time
		var fires, clears int
		for _, tr := range f.out {
			if tr.Firing {
				fires++
			} else {
				clears++
			}
		}
		require.Equal(t, 2, fires, "%v", f.out)
		require.Equal(t, 1, clears, "%v", f.out)
	})
	t.Run("it clears after the value stays clear for the clear time", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "heart_rate_high"), scale1)}
		at := t0
		for ; at.Before(t0.Add(3 * time.Minute)); at = at.Add(5 * time.Second) {
			f.feed("p", vitals.HeartRate, at, 140)
		}
		clearStart := at
		for ; at.Before(t0.Add(20 * time.Minute)); at = at.Add(5 * time.Second) {
			f.feed("p", vitals.HeartRate, at, 100)
		}
		require.Len(t, f.out, 2)
		require.False(t, f.out[1].Firing)
		// the one-minute median falls below 120 within a minute, then ten minutes clear
		require.WithinDuration(t, clearStart.Add(10*time.Minute+30*time.Second), f.out[1].At, 35*time.Second)
	})
	t.Run("a late reading older than the rule's state is not re-judged", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "systolic_low"), scale1)}
		f.feed("p", vitals.BloodPressure, t0, 120)
		f.feed("p", vitals.BloodPressure, t0.Add(-time.Minute), 80)
		require.Empty(t, f.out)
	})
	t.Run("a reading older than the freshness window raises nothing live", func(t *testing.T) {
		e := NewEngine(only(t, "systolic_low"), scale1)
		out := e.Observe(vitals.Reading{Patient: "p", Type: vitals.BloodPressure, Time: t0, Value: 70}, t0.Add(time.Hour))
		require.Empty(t, out)
	})
	t.Run("the SpO2 rule follows the patient's scale", func(t *testing.T) {
		rs := defaults(t)
		e := NewEngine(rs, func(p string) PatientInfo {
			if p == "copd" {
				return PatientInfo{Scale: 2, OnOxygen: true}
			}
			return PatientInfo{Scale: 1}
		})
		f := &feeder{e: e}
		for s := 0; s <= 180; s += 5 {
			at := t0.Add(time.Duration(s) * time.Second)
			f.feed("copd", vitals.SpO2, at, 88) // normal on scale 2
			f.feed("healthy", vitals.SpO2, at, 88)
		}
		var fired []string
		for _, tr := range f.out {
			if tr.Firing && tr.Rule.Kind == KindThreshold {
				fired = append(fired, tr.Patient+":"+tr.Rule.ID)
			}
		}
		require.Equal(t, []string{"healthy:spo2_low"}, fired)
	})
	t.Run("glucose below 54 fires at once", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "glucose_very_low"), scale1)}
		f.feed("p", vitals.BloodGlucose, t0, 50)
		require.Len(t, f.out, 1)
		require.Equal(t, t0, f.out[0].At)
	})
}

func TestNEWS2Rules(t *testing.T) {
	rs := &RuleSet{Freshness: 10 * time.Minute}
	for _, r := range defaults(t).Rules {
		if r.Kind == KindNEWS2 {
			rs.Rules = append(rs.Rules, r)
		}
	}
	feedAll := func(f *feeder, at time.Time, rr, spo2, sys, hr, temp float64) {
		f.feed("p", vitals.RespiratoryRate, at, rr)
		f.feed("p", vitals.SpO2, at, spo2)
		f.feed("p", vitals.BloodPressure, at, sys)
		f.feed("p", vitals.HeartRate, at, hr)
		f.feed("p", vitals.BodyTemperature, at, temp)
	}
	t.Run("a healthy set scores low and raises nothing", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		feedAll(f, t0, 16, 97, 120, 70, 36.8)
		require.Empty(t, f.out)
	})
	t.Run("a total of 5 held for 5 minutes raises news2_medium, 7 news2_high", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		for m := 0; m <= 4; m++ {
			feedAll(f, t0.Add(time.Duration(m)*time.Minute), 22, 95, 120, 115, 37) // 2 + 1 + 0 + 2 + 0 = 5
		}
		require.Empty(t, f.out, "not yet 5 minutes")
		feedAll(f, t0.Add(5*time.Minute), 22, 95, 120, 115, 37)
		ids := map[string]bool{}
		for _, tr := range f.out {
			ids[tr.Rule.ID] = tr.Firing
		}
		require.True(t, ids["news2_medium"])
		require.NotContains(t, ids, "news2_high")
		// +1 systolic +1 temp = 7, for five more minutes (sparse vitals are
		// the median of their last three readings)
		for m := 6; m <= 14; m++ {
			feedAll(f, t0.Add(time.Duration(m)*time.Minute), 22, 95, 105, 115, 38.5)
		}
		var high *Transition
		for i := range f.out {
			if f.out[i].Rule.ID == "news2_high" {
				high = &f.out[i]
			}
		}
		require.NotNil(t, high)
		require.Equal(t, 7.0, high.Value)
	})
	t.Run("a single parameter of 3 raises news2_single_3; a partial score is marked", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, scale1)}
		for m := 0; m <= 5; m++ {
			f.feed("p", vitals.RespiratoryRate, t0.Add(time.Duration(m)*time.Minute), 26) // 3, nothing else known
		}
		require.Len(t, f.out, 1)
		require.Equal(t, "news2_single_3", f.out[0].Rule.ID)
		require.True(t, f.out[0].Partial)
	})
	t.Run("consciousness and oxygen entered by a clinician count", func(t *testing.T) {
		f := &feeder{e: NewEngine(rs, func(string) PatientInfo {
			return PatientInfo{Scale: 1, OnOxygen: true, Consciousness: news2.Voice}
		})}
		for m := 0; m <= 5; m++ {
			feedAll(f, t0.Add(time.Duration(m)*time.Minute), 16, 97, 120, 70, 36.8) // 0 + oxygen 2 + voice 3 = 5
		}
		ids := map[string]bool{}
		for _, tr := range f.out {
			ids[tr.Rule.ID] = true
		}
		require.True(t, ids["news2_medium"])
		require.True(t, ids["news2_single_3"])
	})
}

func TestRateAndNoDataRules(t *testing.T) {
	rs, err := ParseRules([]byte(`
rules:
  - {id: hr_jump, kind: rate, vital: heart_rate, change: 30, window: 10m, severity: medium}
  - {id: no_hr, kind: no_data, vital: heart_rate, after: 15m}
`))
	require.NoError(t, err)
	f := &feeder{e: NewEngine(rs, scale1)}
	for m := 0; m < 5; m++ {
		f.feed("p", vitals.HeartRate, t0.Add(time.Duration(m)*time.Minute), 70)
	}
	f.feed("p", vitals.HeartRate, t0.Add(6*time.Minute), 105)
	f.feed("p", vitals.HeartRate, t0.Add(6*time.Minute+30*time.Second), 105)
	require.Empty(t, f.out, "two readings of five are not yet the median")
	f.feed("p", vitals.HeartRate, t0.Add(6*time.Minute+40*time.Second), 105)
	require.NotEmpty(t, f.out)
	require.Equal(t, "hr_jump", f.out[0].Rule.ID)
	require.True(t, f.out[0].Firing)

	quiet := f.e.Tick(t0.Add(10 * time.Minute))
	require.Empty(t, quiet)
	gone := f.e.Tick(t0.Add(30 * time.Minute))
	require.Len(t, gone, 1)
	require.Equal(t, "no_hr", gone[0].Rule.ID)
	require.Equal(t, t0.Add(6*time.Minute+40*time.Second+15*time.Minute), gone[0].At)
	require.Empty(t, f.e.Tick(t0.Add(31*time.Minute)), "fires once")
	back := f.e.Observe(vitals.Reading{Patient: "p", Type: vitals.HeartRate, Time: t0.Add(32 * time.Minute), Value: 72}, t0.Add(32*time.Minute))
	var cleared bool
	for _, tr := range back {
		if tr.Rule.ID == "no_hr" && !tr.Firing {
			cleared = true
		}
	}
	require.True(t, cleared)
}

func TestABadRulesFileIsRefusedWholeNamingRuleAndField(t *testing.T) {
	_, err := ParseRules([]byte(`
rules:
  - {id: a, kind: threshold, vital: heart_rate, above: 130, below: 40}
  - {id: b, kind: threshold, vital: mood, above: 1}
  - {id: a, kind: news2}
  - {id: d, kind: threshold, vital: spo2, below: 90, clear: 85}
  - {id: e, kind: magic}
`))
	for _, want := range []string{`rule "a" (rules[0]) above/below`, `rule "b" (rules[1]) vital`, `rule "a" (rules[2]) id: appears twice`,
		`rule "a" (rules[2]) at_least`, `rule "d" (rules[3]) clear`, `rule "e" (rules[4]) kind`} {
		require.ErrorContains(t, err, want)
	}
	_, err = ParseRules([]byte("rulez: []\n"))
	require.ErrorContains(t, err, "rulez")
}

func TestARawRuleJudgesEachReading(t *testing.T) {
	rs, err := ParseRules([]byte("rules:\n  - {id: probe, kind: threshold, vital: blood_glucose, below: 45, clear: 46, raw: true}\n"))
	require.NoError(t, err)
	f := &feeder{e: NewEngine(rs, scale1)}
	for i := 0; i < 6; i++ {
		f.feed("p", vitals.BloodGlucose, t0.Add(time.Duration(2*i)*time.Second), 100)
		f.feed("p", vitals.BloodGlucose, t0.Add(time.Duration(2*i+1)*time.Second), 40)
	}
	var fires int
	for _, tr := range f.out {
		if tr.Firing {
			fires++
		}
	}
	require.Equal(t, 6, fires, "every low reading is a new episode")
}

func TestAlertsAreDatedFromTheReadingsAndOutvoteArtifacts(t *testing.T) {
	t.Run("two false desaturations in a row on a wrist oximeter fire nothing", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "spo2_low"), scale1)}
		vals := []float64{97, 96, 97, 97, 84, 83, 97, 96, 97, 97, 96}
		for i, v := range vals {
			f.feed("p", vitals.SpO2, t0.Add(time.Duration(i)*2*time.Minute), v) // a watch: every 2 minutes
		}
		require.Empty(t, f.out)
	})
	t.Run("a real desaturation fires with its third low reading", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "spo2_low"), scale1)}
		vals := []float64{97, 96, 97, 97, 85, 84, 84, 83, 84}
		for i, v := range vals {
			f.feed("p", vitals.SpO2, t0.Add(time.Duration(i)*2*time.Minute), v)
		}
		require.Len(t, f.out, 1)
		// Low from 8 min: 2 minutes low at 10 min, but three readings show
		// it only at 12 min, when the median of five goes low too.
		require.Equal(t, t0.Add(12*time.Minute), f.out[0].At)
		require.Equal(t, t0.Add(12*time.Minute), f.out[0].By)
	})
	t.Run("a step in heart rate is dated at the step, not when the median crosses", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "heart_rate_high"), scale1)}
		for s := 0; s <= 400; s += 5 {
			v := 90.0
			if s >= 100 {
				v = 150
			}
			f.feed("p", vitals.HeartRate, t0.Add(time.Duration(s)*time.Second), v)
		}
		require.Len(t, f.out, 1)
		require.Equal(t, t0.Add(100*time.Second+2*time.Minute), f.out[0].At)
	})
	t.Run("a reading uploaded late dates a pending NEWS2 breach earlier", func(t *testing.T) {
		f := &feeder{e: NewEngine(only(t, "news2_single_3"), scale1)}
		// Normal vitals, then the pulse jumps to 150 (3 points) at 60 s; a
		// patch reports every 15 s at once, a watch every 5 s in batches a
		// minute late.
		pulse := func(s int) float64 {
			if s >= 60 {
				return 150
			}
			return 75
		}
		base := func(at time.Time) {
			f.feed("p", vitals.RespiratoryRate, at, 16)
			f.feed("p", vitals.SpO2, at, 97)
			f.feed("p", vitals.BodyTemperature, at, 37)
			f.feed("p", vitals.BloodPressure, at, 125)
		}
		base(t0)
		for s := 0; s <= 480; s += 5 {
			if s%15 == 10 {
				f.feed("p", vitals.HeartRate, t0.Add(time.Duration(s)*time.Second), pulse(s)) // the patch
			}
			if s%60 == 55 {
				for w := s - 55; w <= s; w += 5 {
					f.feed("p", vitals.HeartRate, t0.Add(time.Duration(w)*time.Second), pulse(w)+1) // the watch's batch
				}
			}
		}
		require.NotEmpty(t, f.out)
		require.Equal(t, t0.Add(60*time.Second+5*time.Minute), f.out[0].At, "the watch measured the jump at 60 s")
	})
}
