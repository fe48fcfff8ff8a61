package simulators

import (
	"fmt"
	"math"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// NoiseMargin is how far past a level a vital's true value must be for the
// devices' readings to show it beyond doubt, and how near a level a true
// value may be for a reading to cross it by noise: about three to four
// standard deviations of what a rule sees (a heart rate is the median of a
// minute of readings, standard deviation under 1/min; a cuff's single
// systolic reading has 4 mmHg; a CGM reads within 6 %, 3.2 mg/dL at 54;
// SpO2, respiratory rate and temperature are rounded medians of a few
// readings). A true value inside the margin is neither a condition a rules
// engine must see nor a false alarm when it does.
var NoiseMargin = map[vitals.Type]float64{
	vitals.HeartRate:       5,
	vitals.RespiratoryRate: 2,
	vitals.SpO2:            2,
	vitals.BodyTemperature: 0.3,
	vitals.BloodPressure:   12,
	vitals.BloodGlucose:    10,
}

// news2Vitals are the measured NEWS2 parameters.
var news2Vitals = []vitals.Type{vitals.RespiratoryRate, vitals.SpO2, vitals.BloodPressure, vitals.HeartRate, vitals.BodyTemperature}

// judged is what the truth's conditions are tested on at a step: the
// vitals as last measured, the NEWS2 parameters measured within the hour
// and their score, and (computed when needed) the lowest and highest score
// readings within each parameter's noise margin could give.
type judged struct {
	at      time.Time
	seen    Vitals
	params  news2.Params
	score   news2.Score
	bounded bool
	lo, hi  scoreBound
}

type scoreBound struct {
	total int
	red   bool
}

func (j *judged) bounds() (lo, hi scoreBound) {
	if j.bounded {
		return j.lo, j.hi
	}
	j.bounded = true
	j.lo = scoreBound{total: j.score.Total}
	j.hi = j.lo
	if part, _ := j.score.Part("consciousness"); part == 3 {
		j.lo.red, j.hi.red = true, true
	}
	fields := []struct {
		name string
		typ  vitals.Type
		v    **float64
	}{
		{"respiratory_rate", vitals.RespiratoryRate, &j.params.RespiratoryRate},
		{"spo2", vitals.SpO2, &j.params.SpO2},
		{"systolic", vitals.BloodPressure, &j.params.Systolic},
		{"pulse", vitals.HeartRate, &j.params.Pulse},
		{"temperature", vitals.BodyTemperature, &j.params.Temperature},
	}
	for _, f := range fields {
		if *f.v == nil {
			continue
		}
		x, m := **f.v, NoiseMargin[f.typ]
		now, _ := j.score.Part(f.name)
		lo, hi := now, now
		// Bands are at least one unit wide and margins at most 12: a
		// sixth of the margin apart, no band inside the range is skipped.
		for k := -6; k <= 6; k++ {
			y := x + m*float64(k)/6
			*f.v = &y
			part, _ := news2.Compute(j.params).Part(f.name)
			lo, hi = min(lo, part), max(hi, part)
		}
		*f.v = &x
		j.lo.total += lo - now
		j.hi.total += hi - now
		j.lo.red = j.lo.red || lo == 3
		j.hi.red = j.hi.red || hi == 3
	}
	return j.lo, j.hi
}

// condition is a clinical condition of the ground truth: a test on what
// was measured that must hold for a duration. sure is the test beyond the
// sensors' noise, maybe the test within it.
type condition struct {
	name              string
	need              time.Duration
	from              []vitals.Type // the vitals it is judged on
	test, sure, maybe func(*judged) bool

	since     time.Time // when the test became true; zero while false
	holds     bool
	heldFrom  time.Time
	sureSince time.Time // when the sure test became true; zero while false
	sureSeen  int       // measurements since sureSince
	evident   bool      // this episode has been evident
	// atOnce: evident as soon as the sure test holds, without a
	// measurement at that instant (a judgement of days, or of silence).
	atOnce bool
	// observe, when set, is called at every step before the tests (a
	// condition over days gathering its measurements).
	observe func(t time.Time)
}

// evidence is how many measurements must show a condition with a
// duration: a wrist sensor's artifact can come twice in a row, three
// readings are a trend.
const evidence = 3

// update feeds the tests at t and reports whether holds changed and
// whether the episode became evident at t: the sure test has held for the
// condition's duration and a measurement at t shows it (monitoring learns
// of a condition from a reading, not between readings), the evidence'th
// measurement at least for a condition with a duration.
func (c *condition) update(t time.Time, j *judged, measured bool) (changed, evident bool) {
	if !c.test(j) {
		c.since, c.sureSince, c.sureSeen = time.Time{}, time.Time{}, 0
		if c.holds {
			c.holds, c.evident = false, false
			return true, false
		}
		return false, false
	}
	if c.since.IsZero() {
		c.since = t
	}
	if !c.holds && t.Sub(c.since) >= c.need {
		c.holds, c.heldFrom, changed = true, c.since.Add(c.need), true
	}
	if !c.sure(j) {
		c.sureSince, c.sureSeen = time.Time{}, 0
		return changed, false
	}
	if c.sureSince.IsZero() {
		c.sureSince = t
	}
	if measured {
		c.sureSeen++
	}
	if c.atOnce {
		if c.holds && !c.evident {
			c.evident = true
			return changed, true
		}
		return changed, false
	}
	enough := c.sureSeen >= evidence || (c.need == 0 && c.sureSeen > 0)
	if c.holds && !c.evident && measured && enough && t.Sub(c.sureSince) >= c.need {
		c.evident = true
		return changed, true
	}
	return changed, false
}

// measuredAt reports whether one of the vitals was measured at t.
func (p *person) measuredAt(t time.Time, from []vitals.Type) bool {
	for _, typ := range from {
		if sv, ok := p.seen[typ]; ok && sv.at.Equal(t) {
			return true
		}
	}
	return false
}

// threshold is a condition on one vital past a level (below, or above;
// inclusive for "or above").
func threshold(name string, need time.Duration, typ vitals.Type, level float64, below, inclusive bool) *condition {
	get := map[vitals.Type]func(Vitals) float64{
		vitals.HeartRate: func(v Vitals) float64 { return v.HeartRate }, vitals.SpO2: func(v Vitals) float64 { return v.SpO2 },
		vitals.BloodPressure: func(v Vitals) float64 { return v.Systolic }, vitals.BodyTemperature: func(v Vitals) float64 { return v.Temperature },
		vitals.BloodGlucose: func(v Vitals) float64 { return v.Glucose }, vitals.RespiratoryRate: func(v Vitals) float64 { return v.RespRate },
	}[typ]
	past := func(lvl float64) func(*judged) bool {
		return func(j *judged) bool {
			x := get(j.seen)
			switch {
			case math.IsNaN(x):
				return false
			case below:
				return x < lvl
			case inclusive:
				return x >= lvl
			}
			return x > lvl
		}
	}
	m := NoiseMargin[typ]
	if below {
		m = -m
	}
	return &condition{name: name, need: need, from: []vitals.Type{typ}, test: past(level), sure: past(level + m), maybe: past(level - m)}
}

// news2Condition is a condition on the score: at least a total, or a 3 in
// a single parameter.
func news2Condition(name string, atLeast int) *condition {
	c := &condition{name: name, need: 5 * time.Minute, from: news2Vitals}
	if atLeast > 0 {
		c.test = func(j *judged) bool { return j.score.Total >= atLeast }
		c.sure = func(j *judged) bool { lo, _ := j.bounds(); return lo.total >= atLeast }
		c.maybe = func(j *judged) bool { _, hi := j.bounds(); return hi.total >= atLeast }
		return c
	}
	c.test = func(j *judged) bool { return j.score.Red }
	c.sure = func(j *judged) bool { lo, _ := j.bounds(); return lo.red }
	c.maybe = func(j *judged) bool { _, hi := j.bounds(); return hi.red }
	return c
}

// conditionsFor lists the ground-truth conditions, matching the default
// alert rules: the same thresholds and durations.
func conditionsFor(p Profile, per *person) []*condition {
	spo2Limit := 90.0
	if p.Scale2() {
		spo2Limit = 85
	}
	return append([]*condition{
		threshold(fmt.Sprintf("spo2_below_%v_for_2m", spo2Limit), 2*time.Minute, vitals.SpO2, spo2Limit, true, false),
		threshold("heart_rate_above_130_for_2m", 2*time.Minute, vitals.HeartRate, 130, false, false),
		threshold("heart_rate_below_40_for_2m", 2*time.Minute, vitals.HeartRate, 40, true, false),
		threshold("systolic_below_90", 0, vitals.BloodPressure, 90, true, false),
		threshold("respiratory_rate_above_24_for_5m", 5*time.Minute, vitals.RespiratoryRate, 24, false, false),
		threshold("respiratory_rate_below_8_for_2m", 2*time.Minute, vitals.RespiratoryRate, 8, true, false),
		threshold("temperature_39_1_or_above", 0, vitals.BodyTemperature, 39.1, false, true),
		threshold("glucose_below_54", 0, vitals.BloodGlucose, 54, true, false),
		threshold("glucose_below_70_for_15m", 15*time.Minute, vitals.BloodGlucose, 70, true, false),
		news2Condition("news2_5_or_more", 5),
		news2Condition("news2_7_or_more", 7),
		news2Condition("news2_single_3", 0),
	}, conditionsOverDays(per)...)
}
