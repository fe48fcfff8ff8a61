package simulators

import (
	"slices"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// The ground truth over days: conditions judged on what was measured over
// hours and days rather than at an instant. A blood pressure confirmed by
// a repeat, a weight gained over days, a vital silent for hours, and a
// patient's daily value away from their own baseline. They mirror the
// shipped rules of the same names (alerts/default_rules.yaml) as the
// instant conditions do, tested on the true values at measurement.

// dayMargin is the noise margin of a daily value (a median of 5-minute
// means of a night's readings, or one weighing): far smaller than an
// instant's for the rates and saturation, 0.8 kg for a weight (three
// standard deviations of the difference of two weighings).
var dayMargin = map[vitals.Type]float64{
	vitals.HeartRate:       2,
	vitals.RespiratoryRate: 1,
	vitals.SpO2:            1,
	vitals.BodyWeight:      0.8,
}

// history is what the conditions over days need of a person's
// measurements, kept by observe.
type history struct {
	bp      [2]bpSeen   // the last two blood pressures, newest first
	weights []seenValue // weighings of the last four days
}

type bpSeen struct {
	at       time.Time
	sys, dia float64
}

func (h *history) observe(typ vitals.Type, t time.Time, s Vitals) {
	switch typ {
	case vitals.BloodPressure:
		h.bp[1], h.bp[0] = h.bp[0], bpSeen{t, s.Systolic, s.Diastolic}
	case vitals.BodyWeight:
		h.weights = append(h.weights, seenValue{t, s.Weight})
		for len(h.weights) > 0 && t.Sub(h.weights[0].at) > 4*24*time.Hour {
			h.weights = h.weights[1:]
		}
	}
}

// confirmed is a blood pressure at or above a level on two readings within
// 10 minutes (the cuff repeats a high one), as hypertension_systolic and
// hypertension_diastolic judge it.
func confirmed(name string, diastolic bool, level float64, p *person) *condition {
	past := func(lvl float64) func(*judged) bool {
		return func(*judged) bool {
			a, b := p.hist.bp[0], p.hist.bp[1]
			if a.at.IsZero() || b.at.IsZero() || a.at.Sub(b.at) > 10*time.Minute {
				return false
			}
			if diastolic {
				return a.dia >= lvl && b.dia >= lvl
			}
			return a.sys >= lvl && b.sys >= lvl
		}
	}
	m := NoiseMargin[vitals.BloodPressure]
	return &condition{name: name, from: []vitals.Type{vitals.BloodPressure}, test: past(level), sure: past(level + m), maybe: past(level - m)}
}

// weightGain is the latest weighing at least change above the lowest of
// the window before it, as the rate rules hf_weight_gain_3d and _1d judge.
func weightGain(name string, change float64, window time.Duration, p *person) *condition {
	past := func(lvl float64) func(*judged) bool {
		return func(*judged) bool {
			ws := p.hist.weights
			if len(ws) < 2 {
				return false
			}
			last := ws[len(ws)-1]
			for _, w := range ws[:len(ws)-1] {
				if last.at.Sub(w.at) <= window && last.v-w.v >= lvl {
					return true
				}
			}
			return false
		}
	}
	m := dayMargin[vitals.BodyWeight]
	return &condition{name: name, from: []vitals.Type{vitals.BodyWeight}, test: past(change), sure: past(change + m), maybe: past(change - m)}
}

// silent is a vital not measured by any of the patient's devices for
// after, once it had been: a no_data rule's condition. It is evident as
// soon as it holds (silence has no noise).
func silent(name string, typ vitals.Type, after time.Duration, p *person) *condition {
	test := func(j *judged) bool {
		sv, ok := p.seen[typ]
		return ok && j.at.Sub(sv.at) >= after
	}
	return &condition{name: name, from: []vitals.Type{typ}, test: test, sure: test, maybe: test, atOnce: true}
}

// baselineCond is a patient's daily value (the median of 5-minute means of
// the true values at measurement within hours from-from+length, UTC) at
// least deviation from their own baseline (the median of the daily values
// of the four weeks before, at least learn of them) on each of days days
// in a row, judged when a day's hours end, as the baseline rules judge it.
type baselineCond struct {
	typ                    vitals.Type
	from, length, minSlots int
	deviation              float64
	days, learn            int
	day                    int64 // the day being gathered (-1: none)
	slot                   time.Time
	slotSum                float64
	slotN                  int
	means                  []float64
	values                 []dayValue
	holds, sure, maybe     bool
	lastSeen               time.Time
}

type dayValue struct {
	day int64
	v   float64
}

func baseline(name string, typ vitals.Type, from, length int, deviation float64, p *person) *condition {
	b := &baselineCond{typ: typ, from: from, length: length, deviation: deviation, days: 3, learn: 7, day: -1, minSlots: 6}
	if length == 24 {
		b.minSlots = 1
	}
	c := &condition{name: name, from: []vitals.Type{typ}, atOnce: true,
		test:  func(*judged) bool { return b.holds },
		sure:  func(*judged) bool { return b.sure },
		maybe: func(*judged) bool { return b.maybe },
	}
	c.observe = func(t time.Time) { b.step(t, p) }
	return c
}

// step gathers a measurement at t, and closes the day when its hours end.
func (b *baselineCond) step(t time.Time, p *person) {
	shifted := t.Add(-time.Duration(b.from) * time.Hour)
	day := shifted.Unix() / 86400
	start := time.Unix(day*86400, 0).UTC().Add(time.Duration(b.from) * time.Hour)
	in := t.Sub(start) < time.Duration(b.length)*time.Hour
	if b.day >= 0 && (day > b.day || !in) {
		b.close()
	}
	sv, ok := p.seen[b.typ]
	if !in || !ok || !sv.at.Equal(t) || sv.at.Equal(b.lastSeen) {
		return
	}
	b.lastSeen = sv.at
	if b.day != day {
		b.day, b.means, b.slotN, b.slotSum = day, b.means[:0], 0, 0
	}
	slot := t.Truncate(5 * time.Minute)
	if !slot.Equal(b.slot) {
		b.flush()
		b.slot = slot
	}
	b.slotSum += sv.v
	b.slotN++
}

func (b *baselineCond) flush() {
	if b.slotN > 0 {
		b.means = append(b.means, b.slotSum/float64(b.slotN))
	}
	b.slotSum, b.slotN = 0, 0
}

func (b *baselineCond) close() {
	b.flush()
	day := b.day
	b.day = -1
	if len(b.means) < b.minSlots {
		return
	}
	ms := slices.Clone(b.means)
	slices.Sort(ms)
	v := ms[len(ms)/2]
	if len(ms)%2 == 0 {
		v = (ms[len(ms)/2-1] + ms[len(ms)/2]) / 2
	}
	b.values = append(b.values, dayValue{day, v})
	if len(b.values) > 28 {
		b.values = b.values[1:]
	}
	b.judge()
}

// judge compares the last days with the baseline of the days before.
func (b *baselineCond) judge() {
	n := len(b.values)
	if n < b.days+b.learn {
		return
	}
	recent := b.values[n-b.days:]
	last := recent[len(recent)-1].day
	var before []float64
	for _, d := range b.values[:n-b.days] {
		if last-d.day < 28 {
			before = append(before, d.v)
		}
	}
	if len(before) < b.learn {
		return
	}
	slices.Sort(before)
	base := before[len(before)/2]
	if len(before)%2 == 0 {
		base = (before[len(before)/2-1] + before[len(before)/2]) / 2
	}
	consecutive := recent[0].day == last-int64(b.days-1)
	all := func(extra float64) bool {
		if !consecutive {
			return false
		}
		for _, d := range recent {
			dev := d.v - base
			if (b.deviation > 0 && dev < b.deviation+extra) || (b.deviation < 0 && dev > b.deviation-extra) {
				return false
			}
		}
		return true
	}
	m := dayMargin[b.typ]
	b.holds, b.sure, b.maybe = all(0), all(m), all(-m)
}

// conditionsOverDays lists the conditions over days, matching the shipped
// rules of the same kinds.
func conditionsOverDays(p *person) []*condition {
	return []*condition{
		confirmed("systolic_180_or_above_confirmed", false, 180, p),
		confirmed("diastolic_120_or_above_confirmed", true, 120, p),
		weightGain("weight_gain_2kg_in_3_days", 2, 74*time.Hour, p),
		weightGain("weight_gain_1kg_in_a_day", 1, 26*time.Hour, p),
		silent("heart_rate_silent_6h", vitals.HeartRate, 6*time.Hour, p),
		baseline("resting_heart_rate_7_above_baseline_3_nights", vitals.HeartRate, 0, 6, 7, p),
		baseline("resting_respiratory_rate_3_above_baseline_3_nights", vitals.RespiratoryRate, 0, 6, 3, p),
		baseline("overnight_spo2_3_below_baseline_3_nights", vitals.SpO2, 0, 6, -3, p),
		baseline("weight_2kg_above_baseline_3_days", vitals.BodyWeight, 0, 24, 2, p),
	}
}
