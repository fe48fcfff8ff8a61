package alerts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// Errors of the alerts' management.
var (
	// ErrUnknownRule: no rule of that id (and kind) is in force.
	ErrUnknownRule = errors.New("rule: no such rule")
	// ErrInvalid: a snooze or a patient's level is out of its bounds; the
	// message names the field.
	ErrInvalid = errors.New("invalid")
)

// SnoozeLimits bound how long a snooze silences a rule: long enough to fix
// a probe, short enough that a snoozed rule is not forgotten.
type SnoozeLimits struct {
	// Min is the shortest snooze (default 15 min).
	Min time.Duration `yaml:"min"`
	// Max is the longest snooze (default 4 h).
	Max time.Duration `yaml:"max"`
}

// DefaultSnoozeLimits are the alerts panel's choices: 15 min to 4 h.
func DefaultSnoozeLimits() SnoozeLimits {
	return SnoozeLimits{Min: 15 * time.Minute, Max: 4 * time.Hour}
}

// Validate checks the limits and names the bad field.
func (l SnoozeLimits) Validate() error {
	switch {
	case l.Min < time.Minute:
		return errors.New("min: at least 1m")
	case l.Max < l.Min:
		return errors.New("max: at least min")
	case l.Max > 7*24*time.Hour:
		return errors.New("max: at most 168h")
	}
	return nil
}

// snoozeSlack is how far a snooze's end may miss the limits: the UI
// computes the end from the browser's clock before the request travels.
const snoozeSlack = time.Minute

// SetSnoozeLimits sets the bounds of a snooze (DefaultSnoozeLimits until
// called).
func (s *Service) SetSnoozeLimits(l SnoozeLimits) { s.snooze = l }

func (s *Service) snoozeLimits() SnoozeLimits {
	if s.snooze == (SnoozeLimits{}) {
		return DefaultSnoozeLimits()
	}
	return s.snooze
}

// Rules returns the rule set in force.
func (s *Service) Rules() *RuleSet { return s.engine.Rules() }

// SetRules swaps in a new rule set (a reload).
func (s *Service) SetRules(set *RuleSet) { s.engine.SetRules(set) }

// ruleExists reports whether a rule (of kind, unless "") is in force.
func (s *Service) ruleExists(id, kind string) bool {
	_, ok := s.rule(id, kind)
	return ok
}

// rule returns the rule in force of that id (and kind, unless "").
func (s *Service) rule(id, kind string) (Rule, bool) {
	for _, r := range s.engine.Rules().Rules {
		if r.ID == id && (kind == "" || r.Kind == kind) {
			return r, true
		}
	}
	return Rule{}, false
}

// LoadOverrides reads every per-patient rule level from the store into
// the service's memory, where the engine reads them on the hot path.
func (s *Service) LoadOverrides(ctx context.Context) error {
	ov, err := s.store.Overrides(ctx)
	if err != nil {
		return fmt.Errorf("load rule overrides: %w", err)
	}
	s.overridesMu.Lock()
	s.overrides = ov
	s.overridesMu.Unlock()
	return nil
}

// Overrides are a patient's own rule levels, by rule.
func (s *Service) Overrides(patient string) map[string]Override {
	s.overridesMu.RLock()
	defer s.overridesMu.RUnlock()
	return s.overrides[patient]
}

// SetOverride sets a patient's own levels for a threshold or baseline
// rule in force, stored before they take effect.
func (s *Service) SetOverride(ctx context.Context, patient, rule string, o Override, by string) error {
	r, ok := s.rule(rule, "")
	if !ok || (r.Kind != KindThreshold && r.Kind != KindBaseline) {
		return fmt.Errorf("%w: no threshold or baseline rule %q", ErrUnknownRule, rule)
	}
	if r.Kind == KindBaseline {
		if err := checkBaselineOverride(r, o); err != nil {
			return err
		}
	} else if o.Deviation != nil || o.Days != nil || o.Baseline != nil {
		return fmt.Errorf("%w: deviation, days and baseline are levels of baseline rules; %q is a threshold rule (level, clear)", ErrInvalid, rule)
	}
	// A level no reading can reach silences the rule for good; one past
	// the plausible range is such a level.
	if spec, ok := vitals.Lookup(r.Vital); ok && r.Kind == KindThreshold {
		if !spec.Plausible.Contains(o.Level) {
			return fmt.Errorf("%w: level: within %v-%v %s", ErrInvalid, spec.Plausible.Min, spec.Plausible.Max, spec.Canonical)
		}
		if o.Clear != nil && !spec.Plausible.Contains(*o.Clear) {
			return fmt.Errorf("%w: clear: within %v-%v %s", ErrInvalid, spec.Plausible.Min, spec.Plausible.Max, spec.Canonical)
		}
	}
	if err := s.store.SetOverride(ctx, patient, rule, o, by, s.now()); err != nil {
		return err
	}
	s.overridesMu.Lock()
	defer s.overridesMu.Unlock()
	if s.overrides == nil {
		s.overrides = map[string]map[string]Override{}
	}
	// Copy on write: the engine may be reading the patient's map.
	next := map[string]Override{rule: o}
	for k, v := range s.overrides[patient] {
		if k != rule {
			next[k] = v
		}
	}
	s.overrides[patient] = next
	return nil
}

// Snooze silences a rule in force for a patient until z.Until.
func (s *Service) Snooze(ctx context.Context, z Snooze) error {
	if !s.ruleExists(z.Rule, "") {
		return fmt.Errorf("%w: %q", ErrUnknownRule, z.Rule)
	}
	now := s.now()
	l := s.snoozeLimits()
	if d := z.Until.Sub(now); d < l.Min-snoozeSlack || d > l.Max+snoozeSlack {
		return fmt.Errorf("%w: until: %v to %v from now", ErrInvalid, l.Min, l.Max)
	}
	return s.store.AddSnooze(ctx, z, now)
}

// List lists the alerts of patients, newest first (openOnly: firing or
// acknowledged), at most limit.
func (s *Service) List(ctx context.Context, patients []string, openOnly bool, limit int) ([]Alert, error) {
	return s.store.List(ctx, patients, openOnly, limit)
}

// Problems lists the problems of patients (one notification each, its
// alerts inside), newest first (openOnly: with an open alert), at most
// limit.
func (s *Service) Problems(ctx context.Context, patients []string, openOnly bool, limit int) ([]Problem, error) {
	return s.store.Problems(ctx, patients, openOnly, limit)
}

// Get reads one alert.
func (s *Service) Get(ctx context.Context, id int64) (Alert, error) { return s.store.Get(ctx, id) }

// Between lists a patient's alerts that fired in [from, to] (a visit's
// window), newest first.
func (s *Service) Between(ctx context.Context, patient string, from, to time.Time) ([]Alert, error) {
	all, err := s.store.List(ctx, []string{patient}, false, 1000)
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, al := range all {
		if !al.FiredAt.Before(from) && !al.FiredAt.After(to) {
			out = append(out, al)
		}
	}
	return out, nil
}

// severityRank orders severities for urgency.
var severityRank = map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}

// Urgency orders patients on a care team's dashboard: the worst open alert
// first (an unacknowledged one above an acknowledged one of the same
// severity), then the NEWS2 total. Higher is more urgent.
func Urgency(open []Alert, news2Total int) int {
	u := 0
	for _, al := range open {
		v := severityRank[al.Severity] * 100
		if al.State == "firing" {
			v += 50
		}
		u = max(u, v)
	}
	return u + news2Total
}

// track keeps the open alerts in memory as they change, so that a
// patient's urgency costs no query on the path of readings.
func (s *Service) track(a Alert) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if s.open == nil {
		s.open = map[string]map[int64]Alert{}
	}
	if a.State == Resolved {
		delete(s.open[a.Patient], a.ID)
		if len(s.open[a.Patient]) == 0 {
			delete(s.open, a.Patient)
		}
		return
	}
	if s.open[a.Patient] == nil {
		s.open[a.Patient] = map[int64]Alert{}
	}
	s.open[a.Patient][a.ID] = a
}

// PatientUrgency is a patient's current dashboard urgency: their open
// alerts and NEWS2 total, from memory.
func (s *Service) PatientUrgency(patient string) int {
	s.openMu.Lock()
	open := make([]Alert, 0, len(s.open[patient]))
	for _, a := range s.open[patient] {
		open = append(open, a)
	}
	s.openMu.Unlock()
	total := 0
	if sc, ok := s.Score(patient); ok {
		total = sc.Total
	}
	return Urgency(open, total)
}

// checkBaselineOverride bounds a patient's own levels of a baseline rule:
// the deviation keeps the rule's direction (a rule watching a rise stays
// one) and is at most four times the rule's, days stay 1-7 (and
// within the four weeks kept beside the learning days), and a baseline a
// clinician sets is a plausible value of the vital.
func checkBaselineOverride(r Rule, o Override) error {
	if o.Level != 0 || o.Clear != nil {
		return fmt.Errorf("%w: level and clear are levels of threshold rules; %q is a baseline rule (deviation, days, baseline)", ErrInvalid, r.ID)
	}
	if o.Deviation == nil && o.Days == nil && o.Baseline == nil {
		return fmt.Errorf("%w: a baseline rule's override sets deviation, days or baseline", ErrInvalid)
	}
	spec, known := vitals.Lookup(r.Vital)
	if d := o.Deviation; d != nil {
		// Four times the program's deviation: wide enough for a patient
		// whose days vary more, not so wide that no day reaches it.
		most := 4 * math.Abs(r.Deviation)
		switch {
		case *d == 0 || (*d > 0) != (r.Deviation > 0):
			return fmt.Errorf("%w: deviation: must be %s the baseline like the rule's (%v)", ErrInvalid, map[bool]string{true: "above", false: "below"}[r.Deviation > 0], r.Deviation)
		case math.Abs(*d) > most:
			return fmt.Errorf("%w: deviation: at most %v %s from the baseline (four times the rule's)", ErrInvalid, most, spec.Canonical)
		}
	}
	if d := o.Days; d != nil && (*d < 1 || *d > 7 || *d+r.LearnDays > baselineDays) {
		return fmt.Errorf("%w: days: 1 to %d", ErrInvalid, min(7, baselineDays-r.LearnDays))
	}
	if b := o.Baseline; b != nil && known && !spec.Plausible.Contains(*b) {
		return fmt.Errorf("%w: baseline: within %v-%v %s", ErrInvalid, spec.Plausible.Min, spec.Plausible.Max, spec.Canonical)
	}
	return nil
}
