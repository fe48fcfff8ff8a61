package alerts

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// Personal baselines. A baseline rule judges one value a day per patient:
// the median of the 5-minute means of a vital within the rule's hours
// (resting heart rate and SpO2 overnight, a day's weight). The patient's
// baseline is the median of those daily values over the previous four
// weeks, leaving out the days judged; the rule fires when each of the last
// Days days is Deviation or more from it, and resolves on a day back within
// half of it. Medians of means outvote artifacts (a loose band, a spike),
// and the rule is silent until LearnDays days of data make a baseline.
//
// Memory per patient and rule is bounded: the current day's 5-minute means
// (at most 288) and the last baselineDays daily values. At start the state
// is rebuilt from the store's 5-minute aggregates, the same means the live
// path computes, with one query per patient and rule.

// Defaults and bounds of baseline rules.
const (
	baselineSlot     = 5 * time.Minute
	baselineDays     = 28 // days of daily values kept
	defaultDays      = 3
	defaultLearnDays = 7
)

// Explanation says why a baseline alert fired: the patient's baseline,
// the recent days' value and its deviation, over which window.
type Explanation struct {
	Baseline  float64   `json:"baseline"`  // the median daily value of the learning days
	Recent    float64   `json:"recent"`    // the median of the days judged
	Deviation float64   `json:"deviation"` // Recent - Baseline
	Days      int       `json:"days"`      // days judged, in a row
	From      time.Time `json:"from"`      // the window judged: from the start of its first day
	To        time.Time `json:"to"`        // to the end of its last
	Learnt    int       `json:"learnt"`    // days the baseline was learnt from
	Hours     string    `json:"hours"`     // the hours of the day judged
	Vital     string    `json:"vital"`     // the vital judged
	Level     float64   `json:"level"`     // the deviation the rule asks for, each day (negative: below)
	// Set: the baseline is the one a clinician set for the patient (their
	// dry weight), not learnt; Learnt is then 0.
	Set bool `json:"set,omitempty"`
	// Own: the levels are the patient's own (a clinician's override of
	// the rule's deviation, days or baseline).
	Own bool `json:"own_levels,omitempty"`
}

type baselineErr struct{ field, msg string }

// checkBaseline validates and fills a baseline rule's defaults.
func (r *Rule) checkBaseline() *baselineErr {
	if _, _, err := parseHours(r.Hours); err != nil {
		return &baselineErr{"hours", err.Error()}
	}
	if r.Deviation == 0 {
		return &baselineErr{"deviation", "required (negative: below the baseline)"}
	}
	if r.Days == 0 {
		r.Days = defaultDays
	}
	if r.LearnDays == 0 {
		r.LearnDays = defaultLearnDays
	}
	if r.Days < 1 || r.Days > 7 {
		return &baselineErr{"days", "1 to 7"}
	}
	if r.LearnDays < 3 || r.LearnDays > baselineDays-r.Days {
		return &baselineErr{"learn_days", fmt.Sprintf("3 to %d", baselineDays-r.Days)}
	}
	from, length, _ := parseHours(r.Hours)
	r.hoursFrom, r.hoursLen = from, length
	if r.MinSlots == 0 {
		r.MinSlots = 6 // half an hour of data
		if length == 24 {
			r.MinSlots = 1 // a weighing
		}
	}
	if r.MinSlots < 1 || r.MinSlots > length*12 {
		return &baselineErr{"min_slots", fmt.Sprintf("1 to %d", length*12)}
	}
	return nil
}

// parseHours reads "from-to" in whole hours of the day (0-24); to before
// from wraps past midnight. It returns the start and the length in hours.
func parseHours(h string) (from, length int, err error) {
	a, b, ok := strings.Cut(h, "-")
	f, err1 := strconv.Atoi(strings.TrimSpace(a))
	t, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || f < 0 || f > 23 || t < 0 || t > 24 || f == t {
		return 0, 0, fmt.Errorf(`"from-to" in hours of the day, such as "0-6" or "22-6"`)
	}
	length = (t - f + 24) % 24
	if length == 0 {
		length = 24
	}
	return f, length, nil
}

type dayValue struct {
	day int64 // days since the epoch of the window's local start date
	v   float64
}

type baselineState struct {
	day       int64 // the day being gathered (-1: none)
	slot      int64 // start of the current 5-minute slot (Unix ns)
	slotSum   float64
	slotN     int
	means     []float64 // the day's 5-minute means
	days      []dayValue
	firing    bool
	closed    int64     // the last day closed (judged or without data enough)
	lastEnd   time.Time // end of the day's window being gathered
	dayStarts map[int64]time.Time
}

// Baselines keeps the per-patient state of the baseline rules.
type Baselines struct {
	mu       sync.Mutex
	patients map[string]map[string]*baselineState
}

// NewBaselines returns an empty state.
func NewBaselines() *Baselines {
	return &Baselines{patients: map[string]map[string]*baselineState{}}
}

func (b *Baselines) state(patient, rule string) *baselineState {
	m := b.patients[patient]
	if m == nil {
		m = map[string]*baselineState{}
		b.patients[patient] = m
	}
	st := m[rule]
	if st == nil {
		st = &baselineState{day: -1, closed: -1}
		m[rule] = st
	}
	return st
}

// place finds the day (window) a time belongs to: its index, its window's
// start and end, and whether t is within the hours at all.
func place(t time.Time, loc *time.Location, from, length int) (day int64, start, end time.Time, in bool) {
	lt := t.In(loc)
	shifted := lt.Add(-time.Duration(from) * time.Hour)
	y, m, d := shifted.Date()
	start = time.Date(y, m, d, from, 0, 0, 0, loc)
	end = start.Add(time.Duration(length) * time.Hour)
	day = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	return day, start, end, !t.Before(start) && t.Before(end)
}

// Observe takes a durable reading for the baseline rules of set and
// returns the transitions of days that closed. own gives a patient's own
// levels by rule (overrides; nil: none), asked only for a reading a
// baseline rule judges.
func (b *Baselines) Observe(r vitals.Reading, set *RuleSet, own func(patient string) map[string]Override) []Transition {
	var out []Transition
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range set.Rules {
		rule := &set.Rules[i]
		if rule.Kind != KindBaseline || rule.Vital != r.Type {
			continue
		}
		if own != nil {
			if o, ok := own(r.Patient)[rule.ID]; ok {
				r := rule.withBaseline(o)
				rule = &r
			}
		}
		out = append(out, b.add(r.Patient, rule, set.location(), r.Time, r.Value, 1, true)...)
	}
	return out
}

func (s *RuleSet) location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// add counts n readings of mean v at t (a reading, or a stored 5-minute
// window at start); judge says whether a closed day may raise or clear.
func (b *Baselines) add(patient string, rule *Rule, loc *time.Location, t time.Time, v float64, n int, judge bool) []Transition {
	from, length := rule.hoursFrom, rule.hoursLen
	if length == 0 {
		return nil // not a checked baseline rule
	}
	st := b.state(patient, rule.ID)
	day, start, end, in := place(t, loc, from, length)
	var out []Transition
	// A reading past the day being gathered closes it (daytime readings
	// close the night).
	if st.day >= 0 && (day > st.day || !t.Before(st.lastEnd)) {
		if tr, ok := st.close(patient, rule, judge); ok {
			out = append(out, tr)
		}
	}
	if !in || day < st.day || day <= st.closed {
		return out // outside the hours, or late for a day already judged
	}
	if st.day != day {
		st.day, st.lastEnd, st.means, st.slot, st.slotSum, st.slotN = day, end, st.means[:0], 0, 0, 0
		if st.dayStarts == nil {
			st.dayStarts = map[int64]time.Time{}
		}
		st.dayStarts[day] = start
	}
	slot := t.UnixNano() - t.UnixNano()%int64(baselineSlot)
	if slot != st.slot {
		st.flush()
		st.slot = slot
	}
	st.slotSum += v * float64(n)
	st.slotN += n
	return out
}

// flush ends the current 5-minute slot.
func (st *baselineState) flush() {
	if st.slotN > 0 && len(st.means) < 24*12 {
		st.means = append(st.means, st.slotSum/float64(st.slotN))
	}
	st.slotSum, st.slotN = 0, 0
}

// close ends the day gathered, keeps its value when it had data enough,
// and judges the last days against the baseline.
func (st *baselineState) close(patient string, rule *Rule, judge bool) (Transition, bool) {
	st.flush()
	day, end := st.day, st.lastEnd
	enough := len(st.means) >= rule.MinSlots
	var value float64
	if enough {
		value = median(st.means)
	}
	st.day, st.means, st.closed = -1, st.means[:0], day
	if !enough {
		return Transition{}, false
	}
	st.days = append(st.days, dayValue{day, value})
	if len(st.days) > baselineDays {
		st.days = st.days[len(st.days)-baselineDays:]
	}
	ex, breach, clear, ok := st.judge(rule)
	for d := range st.dayStarts {
		if d < day-baselineDays {
			delete(st.dayStarts, d)
		}
	}
	if !ok {
		return Transition{}, false
	}
	ex.To = end
	ex.From = st.dayStarts[day-int64(rule.Days-1)]
	switch {
	case !st.firing && breach:
		st.firing = true
		if !judge {
			return Transition{}, false
		}
		return Transition{Rule: *rule, Patient: patient, Firing: true, At: end, By: end, Value: ex.Recent, Explain: &ex}, true
	case st.firing && clear:
		st.firing = false
		if !judge {
			return Transition{}, false
		}
		return Transition{Rule: *rule, Patient: patient, Firing: false, At: end, By: end, Value: ex.Recent}, true
	}
	return Transition{}, false
}

// judge compares the last Days daily values, on consecutive days, with
// the baseline of the days before them (within the 4 weeks kept).
func (st *baselineState) judge(rule *Rule) (ex Explanation, breach, clear, ok bool) {
	n := len(st.days)
	var base float64
	var before []float64
	switch {
	case rule.fixed != nil:
		// A baseline a clinician set: nothing to learn.
		if n < rule.Days {
			return ex, false, false, false
		}
		base = *rule.fixed
	case n < rule.Days+rule.LearnDays:
		return ex, false, false, false // learning
	default:
		last := st.days[n-1].day
		for _, d := range st.days[:n-rule.Days] {
			if last-d.day < baselineDays {
				before = append(before, d.v)
			}
		}
		if len(before) < rule.LearnDays {
			return ex, false, false, false
		}
		base = median(before)
	}
	recent := st.days[n-rule.Days:]
	last := recent[len(recent)-1].day
	consecutive := recent[0].day == last-int64(rule.Days-1)
	breach = consecutive
	var rv []float64
	for _, d := range recent {
		rv = append(rv, d.v)
		dev := d.v - base
		if (rule.Deviation > 0 && dev < rule.Deviation) || (rule.Deviation < 0 && dev > rule.Deviation) {
			breach = false
		}
	}
	lastDev := recent[len(recent)-1].v - base
	clear = (rule.Deviation > 0 && lastDev < rule.Deviation/2) || (rule.Deviation < 0 && lastDev > rule.Deviation/2)
	rec := median(rv)
	ex = Explanation{Baseline: round2(base), Recent: round2(rec), Deviation: round2(rec - base), Days: rule.Days, Learnt: len(before), Hours: rule.Hours, Vital: string(rule.Vital),
		Level: rule.Deviation, Set: rule.fixed != nil, Own: rule.own}
	return ex, breach, clear, true
}

func round2(v float64) float64 {
	return float64(int64(v*100+0.5*sign(v))) / 100
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func median(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	n := len(ys)
	if n%2 == 0 {
		return (ys[n/2-1] + ys[n/2]) / 2
	}
	return ys[n/2]
}

// Tick closes the days whose hours ended by now on the service's clock,
// and returns their transitions: a day's weighing is judged when the day
// ends, not when the next morning's weighing arrives. own gives a
// patient's own levels by rule (overrides).
func (b *Baselines) Tick(now time.Time, set *RuleSet, own func(patient string) map[string]Override) []Transition {
	var out []Transition
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range set.Rules {
		rule := &set.Rules[i]
		if rule.Kind != KindBaseline {
			continue
		}
		for patient, rules := range b.patients {
			st := rules[rule.ID]
			if st == nil || st.day < 0 || now.Before(st.lastEnd) {
				continue
			}
			r := rule
			if o, ok := own(patient)[rule.ID]; ok {
				w := rule.withBaseline(o)
				r = &w
			}
			if tr, ok := st.close(patient, r, true); ok {
				out = append(out, tr)
			}
		}
	}
	return out
}

// MarkFiring tells the baselines that a rule already has an open alert
// for a patient (after a restart).
func (b *Baselines) MarkFiring(patient, rule string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state(patient, rule).firing = true
}

// aggregator is the store's 5-minute summaries.
type aggregator interface {
	Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error)
}

// Rebuild gathers a patient's daily values of the baseline rules from the
// store's 5-minute means of the last four weeks, up to now, without
// raising anything: one query per rule.
func (b *Baselines) Rebuild(ctx context.Context, store aggregator, patient string, set *RuleSet, now time.Time) error {
	for i := range set.Rules {
		rule := &set.Rules[i]
		if rule.Kind != KindBaseline {
			continue
		}
		ws, err := store.Aggregate(ctx, vitals.AggregateQuery{Every: baselineSlot, Query: vitals.Query{
			Patient: patient, Type: rule.Vital, From: now.Add(-(baselineDays + 1) * 24 * time.Hour), To: now}})
		if err != nil {
			return fmt.Errorf("rebuild baseline %s: %w", rule.ID, err)
		}
		b.mu.Lock()
		firing := b.state(patient, rule.ID).firing
		for _, w := range ws {
			if w.Count > 0 {
				b.add(patient, rule, set.location(), w.Start, w.Mean, int(w.Count), false)
			}
		}
		// The state of open alerts comes from the store (MarkFiring).
		b.state(patient, rule.ID).firing = firing
		b.mu.Unlock()
	}
	return nil
}
