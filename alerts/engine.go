package alerts

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// PatientInfo is what the rules need to know of a patient from the chart
// and from clinicians: the NEWS2 SpO2 scale, supplemental oxygen and the
// last assessed consciousness ("" counts as not assessed).
type PatientInfo struct {
	Scale         int
	OnOxygen      bool
	Consciousness news2.Consciousness
	// Overrides replace a threshold rule's level (and clear level) for
	// this patient, by rule id: a clinician's individual target.
	Overrides map[string]Override
}

// Override is a per-patient level of a threshold rule.
type Override struct {
	Level float64  `json:"level"`
	Clear *float64 `json:"clear,omitempty"`
}

// with returns the rule with the override's levels.
func (r Rule) with(o Override) Rule {
	v := o.Level
	switch {
	case r.Above != nil:
		r.Above = &v
	case r.Below != nil:
		r.Below = &v
	case r.AtOrAbove != nil:
		r.AtOrAbove = &v
	case r.AtOrBelow != nil:
		r.AtOrBelow = &v
	}
	r.Clear = o.Clear
	return r
}

// Transition is a rule starting or stopping to hold for a patient, at the
// event time of the reading that decided it.
type Transition struct {
	Rule    Rule
	Patient string
	Firing  bool // true: the condition now holds; false: it cleared
	At      time.Time
	Value   float64 // the value (or score) that decided it
	Partial bool    // a NEWS2 score computed with parameters missing
}

func (t Transition) String() string {
	state := "clears"
	if t.Firing {
		state = "fires"
	}
	return fmt.Sprintf("%s %s for %s at %s (%v)", t.Rule.ID, state, t.Patient, t.At.Format(time.RFC3339), t.Value)
}

// smoothing is the window whose median a rule sees: wearables are noisy,
// and a clinician reads a trend, not one beat. A vital measured less often
// than that is the median of its last minSamples within sparseWindow.
const (
	smoothing    = time.Minute
	minSamples   = 3
	sparseWindow = 10 * time.Minute
)

// news2Window is how old the latest reading of a NEWS2 parameter may be.
const news2Window = time.Hour

// Engine evaluates readings in event time, per patient, with state in
// memory. It is safe for concurrent use.
type Engine struct {
	mu       sync.Mutex
	set      *RuleSet
	gen      int // bumped by SetRules: patient states realign lazily
	info     func(patient string) PatientInfo
	patients map[string]*patientState
}

// sample times are Unix nanoseconds: comparing them is the hot path.
type sample struct {
	t int64
	v float64
}

// vitalIndex numbers the vital types for the per-patient arrays.
func vitalIndex(t vitals.Type) int {
	switch t {
	case vitals.HeartRate:
		return 0
	case vitals.RespiratoryRate:
		return 1
	case vitals.SpO2:
		return 2
	case vitals.BodyTemperature:
		return 3
	case vitals.BloodPressure:
		return 4
	case vitals.BodyWeight:
		return 5
	case vitals.BloodGlucose:
		return 6
	}
	return 7
}

const numVitals = 8

type patientState struct {
	recent [numVitals][]sample // the last news2Window of each vital, in time order
	gen    int
	rules  []ruleState // parallel to the rule set's Rules
	ids    []string    // the rule ids the states belong to
}

type ruleState struct {
	since      time.Time // when the condition started holding (zero: it does not)
	clearSince time.Time // while firing: when the value went back to normal
	firing     bool
	lastAt     time.Time // the newest reading time this rule has seen
}

// NewEngine returns an engine for a rule set; info looks patients up.
func NewEngine(set *RuleSet, info func(patient string) PatientInfo) *Engine {
	return &Engine{set: set, info: info, patients: map[string]*patientState{}}
}

// Rules returns the rule set in force.
func (e *Engine) Rules() *RuleSet {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.set
}

// SetRules swaps the rule set; state of rules that remain is kept.
func (e *Engine) SetRules(set *RuleSet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.set = set
	e.gen++
}

func (e *Engine) patient(id string) *patientState {
	p := e.patients[id]
	if p == nil {
		p = &patientState{gen: -1}
		e.patients[id] = p
	}
	if p.gen != e.gen {
		// The rule set changed: keep the state of rules that remain.
		old := map[string]ruleState{}
		for i, id := range p.ids {
			old[id] = p.rules[i]
		}
		p.rules = make([]ruleState, len(e.set.Rules))
		p.ids = make([]string, len(e.set.Rules))
		for i, r := range e.set.Rules {
			p.ids[i] = r.ID
			p.rules[i] = old[r.ID]
		}
		p.gen = e.gen
	}
	return p
}

// value is the median of a vital over the smoothing window ending at t.
// Samples are in time order, so only the tail is read.
func (p *patientState) value(typ vitals.Type, at time.Time) (float64, bool) {
	return p.valueAt(typ, at.UnixNano())
}

func (p *patientState) valueAt(typ vitals.Type, t int64) (float64, bool) {
	ss := p.recent[vitalIndex(typ)]
	end := len(ss)
	for end > 0 && ss[end-1].t > t {
		end--
	}
	var buf [32]float64
	xs := buf[:0]
	i := end - 1
	for ; i >= 0 && t-ss[i].t < int64(smoothing) && len(xs) < len(buf); i-- {
		xs = append(xs, ss[i].v)
	}
	// Sparse vitals (spot checks every few minutes): the median of the
	// last three, so that one motion artifact is outvoted.
	for ; i >= 0 && len(xs) < minSamples && t-ss[i].t < int64(sparseWindow); i-- {
		xs = append(xs, ss[i].v)
	}
	if len(xs) == 0 {
		return 0, false
	}
	// insertion sort: the window holds a handful of samples
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2, true
	}
	return xs[len(xs)/2], true
}

// Observe evaluates one durable reading and returns the transitions it
// causes. now is the server clock: a reading older than the rule set's
// freshness is remembered but raises nothing live.
func (e *Engine) Observe(r vitals.Reading, now time.Time) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.patient(r.Patient)
	// Remember the reading in time order; out-of-order arrivals within the
	// window slot in.
	rt := r.Time.UnixNano()
	vi := vitalIndex(r.Type)
	ss := p.recent[vi]
	i := len(ss)
	if i > 0 && ss[i-1].t > rt {
		i = sort.Search(len(ss), func(i int) bool { return ss[i].t > rt })
	}
	ss = append(ss, sample{})
	copy(ss[i+1:], ss[i:])
	ss[i] = sample{rt, r.Value}
	cut := 0
	for cut < len(ss) && rt-ss[cut].t > int64(news2Window) {
		cut++
	}
	p.recent[vi] = ss[cut:]

	if now.Sub(r.Time) > e.set.Freshness {
		return nil
	}
	info := e.info(r.Patient)
	var out []Transition
	var score news2.Score
	scored := false
	for ri := range e.set.Rules {
		rule := &e.set.Rules[ri] // by pointer: a Rule is large and this loop is hot
		if rule.SpO2Scale != 0 && rule.SpO2Scale != max(1, info.Scale) {
			continue
		}
		st := &p.rules[ri]
		switch rule.Kind {
		case KindThreshold:
			if rule.Vital != r.Type {
				continue
			}
			if o, ok := info.Overrides[rule.ID]; ok {
				own := rule.with(o)
				rule = &own
			}
			if r.Time.Before(st.lastAt) {
				continue // older than what decided the state: stored, not re-judged
			}
			st.lastAt = r.Time
			v := r.Value
			if !rule.Raw {
				v, _ = p.value(r.Type, r.Time)
				if st.since.IsZero() && !st.firing && rule.breached(v) {
					// The smoothed value breaches now; the breach began with
					// the first of the breaching readings that tipped it.
					st.since = p.breachStart(vi, rt, rule)
				}
			}
			if tr, ok := step(rule, st, r.Patient, r.Time, v, rule.breached(v), rule.cleared(v), false); ok {
				out = append(out, tr)
			}
		case KindRate:
			if rule.Vital != r.Type || r.Time.Before(st.lastAt) {
				continue
			}
			st.lastAt = r.Time
			v, _ := p.value(r.Type, r.Time)
			lo, hi := v, v
			for _, s := range p.recent[vi] {
				if s.t <= rt && rt-s.t <= int64(rule.Window) {
					lo, hi = min(lo, s.v), max(hi, s.v)
				}
			}
			change := v - lo
			if rule.Change < 0 {
				change = v - hi
			}
			breach := (rule.Change > 0 && change >= rule.Change) || (rule.Change < 0 && change <= rule.Change)
			if tr, ok := step(rule, st, r.Patient, r.Time, change, breach, !breach, false); ok {
				out = append(out, tr)
			}
		case KindNEWS2:
			if !isNEWS2Parameter(r.Type) || r.Time.Before(st.lastAt) {
				continue
			}
			st.lastAt = r.Time
			if !scored {
				score, scored = p.news2(r.Time, info), true
			}
			breach := (rule.AtLeast > 0 && score.Total >= rule.AtLeast) || (rule.SingleThree && score.Red)
			if tr, ok := step(rule, st, r.Patient, r.Time, float64(score.Total), breach, !breach, score.Partial); ok {
				out = append(out, tr)
			}
		case KindNoData:
			if rule.Vital == r.Type && st.firing {
				// Data is back.
				st.firing, st.since = false, time.Time{}
				out = append(out, Transition{Rule: *rule, Patient: r.Patient, Firing: false, At: r.Time})
			}
		}
	}
	return out
}

// breachStart is the time of the earliest reading of the smoothing window
// ending at t from which every reading breaches the rule: when a median
// crosses, the condition began at those readings, not at the median.
func (p *patientState) breachStart(vi int, t int64, rule *Rule) time.Time {
	ss := p.recent[vi]
	start := t
	for i := len(ss) - 1; i >= 0; i-- {
		if ss[i].t > t {
			continue
		}
		if t-ss[i].t >= int64(smoothing) || !rule.breached(ss[i].v) {
			break
		}
		start = ss[i].t
	}
	return time.Unix(0, start).UTC()
}

// step advances a duration-and-hysteresis state machine.
func step(rule *Rule, st *ruleState, patient string, t time.Time, v float64, breach, clear, partial bool) (Transition, bool) {
	if !st.firing {
		if !breach {
			st.since = time.Time{}
			return Transition{}, false
		}
		if st.since.IsZero() {
			st.since = t
		}
		if t.Sub(st.since) < rule.For {
			return Transition{}, false
		}
		st.firing, st.clearSince = true, time.Time{}
		return Transition{Rule: *rule, Patient: patient, Firing: true, At: t, Value: v, Partial: partial}, true
	}
	if !clear {
		st.clearSince = time.Time{}
		return Transition{}, false
	}
	if st.clearSince.IsZero() {
		st.clearSince = t
	}
	if t.Sub(st.clearSince) < rule.ClearFor {
		return Transition{}, false
	}
	st.firing, st.since = false, time.Time{}
	return Transition{Rule: *rule, Patient: patient, Firing: false, At: t, Value: v}, true
}

func isNEWS2Parameter(t vitals.Type) bool {
	switch t {
	case vitals.RespiratoryRate, vitals.SpO2, vitals.BloodPressure, vitals.HeartRate, vitals.BodyTemperature:
		return true
	}
	return false
}

// news2 scores the patient from the latest smoothed parameters within the
// NEWS2 window before t.
func (p *patientState) news2(t time.Time, info PatientInfo) news2.Score {
	tn := t.UnixNano()
	var vals [numVitals]float64 // one allocation for the five parameters
	get := func(typ vitals.Type) *float64 {
		ss := p.recent[vitalIndex(typ)]
		// the newest sample at or before t, then the median around it
		for i := len(ss) - 1; i >= 0; i-- {
			if ss[i].t <= tn {
				if tn-ss[i].t > int64(news2Window) {
					return nil
				}
				k := vitalIndex(typ)
				vals[k], _ = p.valueAt(typ, ss[i].t)
				return &vals[k]
			}
		}
		return nil
	}
	scale := news2.Scale1
	if info.Scale == 2 {
		scale = news2.Scale2
	}
	c := info.Consciousness
	if c == "" {
		c = news2.Alert // wearables cannot assess it; clinicians record changes
	}
	return news2.Compute(news2.Params{RespiratoryRate: get(vitals.RespiratoryRate), SpO2: get(vitals.SpO2), Scale: scale,
		OnOxygen: info.OnOxygen, Systolic: get(vitals.BloodPressure), Pulse: get(vitals.HeartRate),
		Consciousness: c, Temperature: get(vitals.BodyTemperature)})
}

// Score is a patient's NEWS2 at now from the latest readings the engine
// holds; ok is false for a patient it has no readings of.
func (e *Engine) Score(patient string, now time.Time) (news2.Score, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.patients[patient]
	if p == nil {
		return news2.Score{}, false
	}
	return p.news2(now, e.info(patient)), true
}

// Tick evaluates the no-data rules at now: a patient who has sent a vital
// before and nothing of it for the rule's time.
func (e *Engine) Tick(now time.Time) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Transition
	for id := range e.patients {
		p := e.patient(id)
		for ri, rule := range e.set.Rules {
			if rule.Kind != KindNoData {
				continue
			}
			ss := p.recent[vitalIndex(rule.Vital)]
			if len(ss) == 0 {
				continue
			}
			st := &p.rules[ri]
			last := time.Unix(0, ss[len(ss)-1].t).UTC()
			if !st.firing && now.Sub(last) >= rule.After {
				st.firing = true
				out = append(out, Transition{Rule: rule, Patient: id, Firing: true, At: last.Add(rule.After)})
			}
		}
	}
	return out
}

// MarkFiring tells the engine that a rule already has an open alert for a
// patient (after a restart), so that it neither fires it again nor loses
// the chance to clear it.
func (e *Engine) MarkFiring(patient, rule string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.patient(patient)
	for i, id := range p.ids {
		if id == rule {
			p.rules[i].firing = true
		}
	}
}
