package alerts

import (
	"fmt"
	"math"
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

// Override is a patient's own levels of a rule: a threshold rule's level
// (and clear level), or a baseline rule's deviation, days, and a baseline
// a clinician set (a heart-failure patient's dry weight) in place of the
// one learnt.
type Override struct {
	Level     float64  `json:"level"`
	Clear     *float64 `json:"clear,omitempty"`
	Deviation *float64 `json:"deviation,omitempty"`
	Days      *int     `json:"days,omitempty"`
	Baseline  *float64 `json:"baseline,omitempty"`
}

// withBaseline returns a baseline rule with the patient's own levels.
func (r Rule) withBaseline(o Override) Rule {
	if o.Deviation != nil {
		r.Deviation = *o.Deviation
	}
	if o.Days != nil {
		r.Days = *o.Days
	}
	r.fixed = o.Baseline
	r.own = true
	return r
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
	// At is when, in event time, the condition was complete (for a
	// firing, the breach's start plus the rule's duration); By is the
	// time of the reading that decided it, which may come later.
	At, By  time.Time
	Value   float64 // the value (or score) that decided it
	Partial bool    // a NEWS2 score computed with parameters missing
	// Missing names the NEWS2 parameters missing from a partial score
	// (news2.Score.Missing).
	Missing []string
	// Explain says why a baseline rule fired.
	Explain *Explanation
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
	minSamples   = 5
	sparseWindow = 10 * time.Minute
	// minEvidence is how many readings must show a breach of a rule with
	// a duration.
	minEvidence = 3
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
	// reference (tests) computes every median by sorting its window, as
	// the engine did before the sorted windows of series.
	reference bool
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

// diastolicIndex is the slot of blood pressures' diastolic components.
const diastolicIndex = 8

const numVitals = 9

type patientState struct {
	recent [numVitals]series // the last news2Window of each vital (at most maxRecent), in time order
	gen    int
	rules  []ruleState // parallel to the rule set's Rules
	ids    []string    // the rule ids the states belong to
	// scratch holds the values a NEWS2 score points to while it is
	// computed (under the engine's lock).
	scratch [numVitals]float64
}

type ruleState struct {
	since      time.Time // when the condition started holding (zero: it does not)
	clearSince time.Time // while firing: when the value went back to normal
	firing     bool
	lastAt     time.Time // the newest reading time this rule has seen
	// hist is the lowest and highest reading per 1/trendBuckets of the
	// window of a rate rule whose window is longer than the hour of
	// readings kept (a weight over days): at most trendBuckets+1 entries.
	hist []bucket
}

// bucket is the range of a vital's readings over a slice of a rate rule's
// window.
type bucket struct {
	start  int64
	lo, hi float64
}

// trendBuckets is how many slices a long rate window is kept in: a change
// over 3 days is measured to the hour.
const trendBuckets = 72

// addToHistory records a reading in a long rate rule's history, drops what
// has left the window, and returns the lowest and highest reading within
// it (to within one slice: a reading exactly a window earlier counts).
func (st *ruleState) addToHistory(t int64, v float64, window time.Duration) (lo, hi float64) {
	size := int64(window) / trendBuckets
	start := t - t%size
	i := sort.Search(len(st.hist), func(i int) bool { return st.hist[i].start >= start })
	if i < len(st.hist) && st.hist[i].start == start {
		st.hist[i].lo, st.hist[i].hi = min(st.hist[i].lo, v), max(st.hist[i].hi, v)
	} else {
		st.hist = append(st.hist, bucket{})
		copy(st.hist[i+1:], st.hist[i:])
		st.hist[i] = bucket{start, v, v}
	}
	newest := st.hist[len(st.hist)-1].start
	cut := 0
	for cut < len(st.hist) && (newest-st.hist[cut].start >= int64(window)+size || len(st.hist)-cut > trendBuckets+1) {
		cut++
	}
	st.hist = append(st.hist[:0], st.hist[cut:]...)
	lo, hi = v, v
	for _, b := range st.hist {
		if b.start <= t && t-b.start < int64(window)+size {
			lo, hi = min(lo, b.lo), max(hi, b.hi)
		}
	}
	return lo, hi
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
		for i := range p.recent {
			p.recent[i].reference = e.reference
		}
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
	return p.median(vitalIndex(typ), t)
}

// median is the median of the window of the vital with index vi at t.
func (p *patientState) median(vi int, t int64) (float64, bool) {
	return p.recent[vi].median(t)
}

// window is the samples [lo, end) whose median is a vital's value at t:
// those of the smoothing window, or for a vital measured less often, the
// last minSamples within sparseWindow (at most 32).
func window(ss []sample, t int64) (lo, end int) {
	end = len(ss)
	for end > 0 && ss[end-1].t > t {
		end--
	}
	lo = end
	for lo > 0 && t-ss[lo-1].t < int64(smoothing) && end-lo < 32 {
		lo--
	}
	// Sparse vitals (spot checks every few minutes): the median of the
	// last five, so that two motion artifacts in a row are outvoted.
	for lo > 0 && end-lo < minSamples && t-ss[lo-1].t < int64(sparseWindow) {
		lo--
	}
	return lo, end
}

// Observe evaluates one durable reading and returns the transitions it
// causes. now is the server clock: a reading older than the rule set's
// freshness is remembered but raises nothing live.
func (e *Engine) Observe(r vitals.Reading, now time.Time) []Transition {
	var m memo
	return e.observe(r, now, &m)
}

// ObserveAll evaluates a batch of durable readings in order and calls
// each with the transitions of the i'th, outside the engine's lock. A
// patient's state and info are looked up once per run of their readings
// (a device's batch is one patient's): each lookup takes a lock and a map
// in the chart and the overrides.
func (e *Engine) ObserveAll(rs []vitals.Reading, now time.Time, each func(i int, trs []Transition)) {
	var m memo
	for i := range rs {
		each(i, e.observe(rs[i], now, &m))
	}
}

// memo is the last patient's state and info within one batch.
type memo struct {
	id     string
	p      *patientState
	info   PatientInfo
	hasInf bool
}

func (e *Engine) observe(r vitals.Reading, now time.Time, m *memo) []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m.p == nil || m.id != r.Patient || m.p.gen != e.gen {
		m.id, m.p, m.hasInf = r.Patient, e.patient(r.Patient), false
	}
	p := m.p
	rt := r.Time.UnixNano()
	vi := vitalIndex(r.Type)
	p.remember(vi, rt, r.Value)
	if r.Type == vitals.BloodPressure && r.Diastolic > 0 {
		p.remember(diastolicIndex, rt, r.Diastolic)
	}

	if now.Sub(r.Time) > e.set.Freshness {
		return nil
	}
	if !m.hasInf {
		m.info, m.hasInf = e.info(r.Patient), true
	}
	info := m.info
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
			tvi, v := vi, r.Value
			if rule.Component == ComponentDiastolic {
				if r.Diastolic <= 0 {
					continue
				}
				tvi, v = diastolicIndex, r.Diastolic
			}
			if r.Time.Before(st.lastAt) {
				// Older than what decided the state: stored, not re-judged,
				// but a late reading may date a pending breach earlier.
				if !st.firing && !st.since.IsZero() && rt < st.since.UnixNano() {
					st.since = p.breachStart(tvi, st.since.UnixNano(), rule)
				}
				continue
			}
			st.lastAt = r.Time
			if !rule.Raw {
				v, _ = p.median(tvi, rt)
			}
			if st.since.IsZero() && !st.firing && rule.breached(v) {
				// The value breaches now; the breach began with the first
				// of the run of breaching readings that led to it, which a
				// late upload brings all at once.
				st.since = p.breachStart(tvi, rt, rule)
			}
			var confirm func() (time.Time, bool)
			switch {
			case rule.Readings > 0:
				// Confirmed by repeated readings within the sparse window
				// (a cuff measured again).
				confirm = func() (time.Time, bool) {
					from := time.Unix(0, max(st.since.UnixNano(), rt-int64(sparseWindow)+1)).UTC()
					return p.nthSince(tvi, from, rt, rule.Readings, rule.breached)
				}
			case !rule.Raw && rule.For > 0:
				// Three readings of the breach at least: a wrist sensor's
				// artifacts can come two in a row, and from two devices.
				confirm = func() (time.Time, bool) { return p.nthSince(tvi, st.since, rt, minEvidence, rule.breached) }
			}
			if tr, ok := step(rule, st, r.Patient, r.Time, v, rule.breached(v), rule.cleared(v), nil, confirm); ok {
				out = append(out, tr)
			}
		case KindRate:
			if rule.Vital != r.Type {
				continue
			}
			long := rule.Window > news2Window
			var hlo, hhi float64
			if long {
				// Over days: the readings kept are an hour's, the
				// rule keeps its own coarse history.
				hlo, hhi = st.addToHistory(rt, r.Value, rule.Window)
			}
			if r.Time.Before(st.lastAt) {
				continue
			}
			st.lastAt = r.Time
			v, _ := p.value(r.Type, r.Time)
			lo, hi := v, v
			if long {
				lo, hi = min(lo, hlo), max(hi, hhi)
			}
			if wlo, whi, ok := p.recent[vi].rangeSince(rt, rule.Window); ok {
				lo, hi = min(lo, wlo), max(hi, whi)
			}
			change := v - lo
			if rule.Change < 0 {
				change = v - hi
			}
			breach := (rule.Change > 0 && change >= rule.Change) || (rule.Change < 0 && change <= rule.Change)
			if tr, ok := step(rule, st, r.Patient, r.Time, change, breach, !breach, nil, nil); ok {
				out = append(out, tr)
			}
		case KindNEWS2:
			if !isNEWS2Parameter(r.Type) {
				continue
			}
			if r.Time.Before(st.lastAt) {
				if !st.firing && !st.since.IsZero() && rt < st.since.UnixNano() {
					st.since, _ = p.news2RunStart(st.since.UnixNano(), info, rule.news2Breached, true)
				}
				continue
			}
			st.lastAt = r.Time
			if !scored {
				score, scored = p.news2(r.Time, info), true
			}
			breach := rule.news2Breached(score)
			if breach && st.since.IsZero() && !st.firing {
				st.since, _ = p.news2RunStart(rt, info, rule.news2Breached, true)
			}
			// The newest readings themselves must score the breach too, so
			// that artifacts a median still holds do not complete it.
			confirm := func() (time.Time, bool) { return p.news2RunStart(rt, info, rule.news2Breached, false) }
			// (No missing parameters here: a firing takes them from the score
			// at its time below, and score.Missing allocates, per reading.)
			if tr, ok := step(rule, st, r.Patient, r.Time, float64(score.Total), breach, !breach, nil, confirm); ok {
				if tr.Firing {
					// The alert shows the score at its firing as the
					// RCP chart gives it from the readings then, not the
					// smoothed score when the condition began.
					// (A reading that scores less then, an artifact the
					// median outvoted, leaves the smoothed score.)
					at := p.news2AsRead(tr.At.UnixNano(), info)
					if !rule.news2Breached(at) {
						at = p.news2(tr.At, info)
					}
					tr.Value, tr.Partial, tr.Missing = float64(at.Total), at.Partial, at.Missing()
				}
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

// remember keeps a reading in time order; out-of-order arrivals within
// the window slot in.
func (p *patientState) remember(vi int, rt int64, v float64) {
	p.recent[vi].add(rt, v)
}

// breachStart dates a breach that the median shows at t: it began with
// the earliest of the run of readings up to t that each breach the rule,
// as read or as the median at their time (the median crosses later than
// the readings do on a step, and holds through one noisy reading). A raw
// rule's breach is dated from the readings as read.
func (p *patientState) breachStart(vi int, t int64, rule *Rule) time.Time {
	ss := p.recent[vi].samples()
	i := len(ss) - 1
	for i >= 0 && ss[i].t > t {
		i--
	}
	start := t
	for ; i >= 0; i-- {
		if !rule.breached(ss[i].v) {
			if m, _ := p.median(vi, ss[i].t); rule.Raw || !rule.breached(m) {
				break
			}
		}
		start = ss[i].t
	}
	return time.Unix(0, start).UTC()
}

// nthSince returns the time of the n'th reading from since to t that
// passes ok, and false when there are fewer.
func (p *patientState) nthSince(vi int, since time.Time, t int64, n int, ok func(float64) bool) (time.Time, bool) {
	from := since.UnixNano()
	ss := p.recent[vi].samples()
	i := sort.Search(len(ss), func(i int) bool { return ss[i].t >= from })
	for ; i < len(ss) && ss[i].t <= t; i++ {
		if ok(ss[i].v) {
			if n--; n == 0 {
				return time.Unix(0, ss[i].t).UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// paramPart is the NEWS2 points of value v of the k'th of news2Vitals, on
// the SpO2 scale and oxygen of base.
func paramPart(base news2.Params, k int, v float64) int {
	ps := news2.Params{Scale: base.Scale, OnOxygen: base.OnOxygen}
	name := [...]string{"respiratory_rate", "spo2", "systolic", "pulse", "temperature"}[k]
	switch k {
	case 0:
		ps.RespiratoryRate = &v
	case 1:
		ps.SpO2 = &v
	case 2:
		ps.Systolic = &v
	case 3:
		ps.Pulse = &v
	case 4:
		ps.Temperature = &v
	}
	n, _ := news2.Compute(ps).Part(name)
	return n
}

// news2Vitals are the measured NEWS2 parameters.
var news2Vitals = [...]vitals.Type{vitals.RespiratoryRate, vitals.SpO2, vitals.BloodPressure, vitals.HeartRate, vitals.BodyTemperature}

// news2RunStart dates a NEWS2 breach as breachStart dates a threshold
// breach: going back from t, the score of each parameter's latest reading
// at each instant (or, when smoothed, of the median at its time if that
// scores more), for as long as it breaches without a break. ok is false
// (and start t) when the score at t does not breach.
func (p *patientState) news2RunStart(t int64, info PatientInfo, breached func(news2.Score) bool, smoothed bool) (time.Time, bool) {
	var idx [len(news2Vitals)]int
	for k, typ := range news2Vitals {
		ss := p.recent[vitalIndex(typ)].samples()
		i := len(ss) - 1
		for i >= 0 && ss[i].t > t {
			i--
		}
		idx[k] = i
	}
	ps := news2Base(info)
	from, cursor, ok := t, t, false
	for {
		var vals [len(news2Vitals)]float64
		var ptrs [len(news2Vitals)]*float64
		latest := int64(math.MinInt64)
		for k, typ := range news2Vitals {
			ss := p.recent[vitalIndex(typ)].samples()
			if idx[k] < 0 || cursor-ss[idx[k]].t > int64(news2Window) {
				continue
			}
			// the reading as read, or the median at its time if that
			// scores more (see breachStart)
			vals[k] = ss[idx[k]].v
			if smoothed {
				if m, _ := p.valueAt(typ, ss[idx[k]].t); paramPart(ps, k, m) > paramPart(ps, k, vals[k]) {
					vals[k] = m
				}
			}
			ptrs[k] = &vals[k]
			latest = max(latest, ss[idx[k]].t)
		}
		if latest == math.MinInt64 {
			break
		}
		ps.RespiratoryRate, ps.SpO2, ps.Systolic, ps.Pulse, ps.Temperature = ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4]
		if !breached(news2.Compute(ps)) {
			break
		}
		// The score held from the newest of these readings on.
		from, ok = latest, true
		for k, typ := range news2Vitals {
			if idx[k] >= 0 && p.recent[vitalIndex(typ)].samples()[idx[k]].t == latest {
				idx[k]--
			}
		}
		cursor = latest - 1
	}
	return time.Unix(0, from).UTC(), ok
}

// step advances a duration-and-hysteresis state machine.
// confirm, when not nil, must also hold for the rule to fire once the
// duration has passed (the readings themselves agree with the median); it
// returns since when they do.
//
// A firing is dated in event time when the condition was complete: the
// breach's start plus the rule's duration, or when the readings confirmed
// it if later. The reading that decides it may be later still: devices
// upload in batches, and the first reading to arrive after the duration
// need not be the first one taken.
func step(rule *Rule, st *ruleState, patient string, t time.Time, v float64, breach, clear bool, missing []string, confirm func() (time.Time, bool)) (Transition, bool) {
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
		at := st.since.Add(rule.For)
		if confirm != nil {
			from, ok := confirm()
			if !ok {
				return Transition{}, false
			}
			if from.After(at) {
				at = from
			}
		}
		st.firing, st.clearSince = true, time.Time{}
		return Transition{Rule: *rule, Patient: patient, Firing: true, At: at, By: t, Value: v, Partial: len(missing) > 0, Missing: missing}, true
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
	return Transition{Rule: *rule, Patient: patient, Firing: false, At: t, By: t, Value: v}, true
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
	vals := &p.scratch // the parameters' values, in the state: no allocation per score
	get := func(typ vitals.Type) *float64 {
		ss := p.recent[vitalIndex(typ)].samples()
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
	ps := news2Base(info)
	ps.RespiratoryRate, ps.SpO2, ps.Systolic = get(vitals.RespiratoryRate), get(vitals.SpO2), get(vitals.BloodPressure)
	ps.Pulse, ps.Temperature = get(vitals.HeartRate), get(vitals.BodyTemperature)
	return news2.Compute(ps)
}

// news2AsRead scores the patient at t from each parameter's latest
// reading at or before t (within the NEWS2 window), as read: the score a
// nurse charting those readings would get.
func (p *patientState) news2AsRead(t int64, info PatientInfo) news2.Score {
	var vals [len(news2Vitals)]float64
	var ptrs [len(news2Vitals)]*float64
	for k, typ := range news2Vitals {
		ss := p.recent[vitalIndex(typ)].samples()
		for i := len(ss) - 1; i >= 0; i-- {
			if ss[i].t <= t {
				if t-ss[i].t <= int64(news2Window) {
					vals[k] = ss[i].v
					ptrs[k] = &vals[k]
				}
				break
			}
		}
	}
	ps := news2Base(info)
	ps.RespiratoryRate, ps.SpO2, ps.Systolic, ps.Pulse, ps.Temperature = ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4]
	return news2.Compute(ps)
}

// news2Base is a patient's NEWS2 inputs from the chart and clinicians: the
// SpO2 scale, oxygen and consciousness.
func news2Base(info PatientInfo) news2.Params {
	ps := news2.Params{Scale: news2.Scale1, OnOxygen: info.OnOxygen, Consciousness: info.Consciousness}
	if info.Scale == 2 {
		ps.Scale = news2.Scale2
	}
	// Wearables cannot assess consciousness: until a clinician records
	// it, it scores nothing and the score is partial (Missing names it).
	return ps
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
			ss := p.recent[vitalIndex(rule.Vital)].samples()
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
