// Package alerts owns the rules that flag abnormal vitals, the in-stream
// engine that evaluates every durable reading against them per patient, and
// the lifecycle of the alerts they raise.
package alerts

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// Rule kinds.
const (
	KindThreshold = "threshold" // a vital above or below a level for a duration, with hysteresis
	KindNEWS2     = "news2"     // the NEWS2 aggregate at or above a score, or any single parameter scoring 3
	KindRate      = "rate"      // a vital rising or falling by an amount within a window
	KindNoData    = "no_data"   // no reading of a vital from a patient for a time
	KindBaseline  = "baseline"  // a patient's daily value away from their own baseline for days
)

// Components of a blood pressure a threshold rule may judge.
const (
	ComponentSystolic  = "systolic" // the default: a blood pressure's value
	ComponentDiastolic = "diastolic"
)

// maxRateWindow bounds a rate rule's window: its history is kept in
// trendBuckets slices of it.
const maxRateWindow = 14 * 24 * time.Hour

// Severities, lowest first.
const (
	Low      = "low"
	Medium   = "medium"
	High     = "high"
	Critical = "critical"
)

var severities = []string{Low, Medium, High, Critical}

// Rule is one alert rule, as written in the rules file.
type Rule struct {
	ID       string      `yaml:"id"`
	Kind     string      `yaml:"kind"`
	Vital    vitals.Type `yaml:"vital"`
	Severity string      `yaml:"severity"`
	// Threshold: exactly one of Above, Below, AtOrAbove, AtOrBelow.
	Above     *float64 `yaml:"above"`
	Below     *float64 `yaml:"below"`
	AtOrAbove *float64 `yaml:"at_or_above"`
	AtOrBelow *float64 `yaml:"at_or_below"`
	// For is how long the condition must hold before the alert fires.
	For time.Duration `yaml:"for"`
	// Clear is the level past which the condition is over (hysteresis):
	// for an upper threshold the value must fall below Clear, for a lower
	// one rise above it. Default: the threshold itself.
	Clear *float64 `yaml:"clear"`
	// ClearFor is how long the value must stay clear to resolve.
	ClearFor time.Duration `yaml:"clear_for"`
	// SpO2Scale limits the rule to patients charted on NEWS2 scale 1 or 2.
	SpO2Scale int `yaml:"spo2_scale"`
	// NEWS2: fire at a total of AtLeast, or on any single parameter of 3.
	AtLeast     int  `yaml:"at_least"`
	SingleThree bool `yaml:"single_parameter_3"`
	// Rate: a change of at least Change (negative: a fall) within Window.
	Change float64       `yaml:"change"`
	Window time.Duration `yaml:"window"`
	// NoData: nothing for After.
	After time.Duration `yaml:"after"`
	// Component: a threshold rule on blood pressure judges the systolic
	// (default) or the diastolic.
	Component string `yaml:"component"`
	// Readings: a threshold rule fires only when this many readings within
	// 10 minutes show the breach (a measurement confirmed by a repeat).
	Readings int `yaml:"readings"`
	// Raw makes a threshold rule judge each reading as it is, without the
	// engine's smoothing: for devices whose single readings are trusted
	// (a lab-grade meter), and for latency probes.
	Raw bool `yaml:"raw"`
	// Baseline (see baseline.go): Hours is the local window of the day
	// judged ("0-6": midnight to 6 am; "22-6" wraps; "0-24" the whole
	// day); Deviation how far the day's median must be from the patient's
	// own baseline (negative: below it); Days how many days in a row;
	// LearnDays how many days of data the baseline needs first; MinSlots
	// how many 5-minute windows with data make a day count.
	Hours     string  `yaml:"hours"`
	Deviation float64 `yaml:"deviation"`
	Days      int     `yaml:"days"`
	LearnDays int     `yaml:"learn_days"`
	MinSlots  int     `yaml:"min_slots"`
	// the parsed Hours: start and length in hours (checkBaseline)
	hoursFrom, hoursLen int
	// a patient's own levels of a baseline rule (withBaseline): the
	// baseline a clinician set, if any, and whether any level is theirs
	fixed *float64
	own   bool
	// Group names the problem the rule's alerts belong to (see Problem):
	// a patient's open alerts of one problem make one notification.
	Group string `yaml:"group"`
}

// Problem is the group of a rule's alerts: its Group when the file names
// one; else one deterioration for NEWS2 and every rule on a NEWS2
// parameter (a septic patient's heart rate, respiratory rate and NEWS2
// alerts are one problem for the care team), glucose for glucose, weight
// for weight (a baseline rule's too), a silent vital (no_data) on its own,
// and a drift from a personal baseline of another vital on its own.
func (r *Rule) Problem() string {
	switch {
	case r.Group != "":
		return r.Group
	case r.Kind == KindNoData:
		return "no_data:" + string(r.Vital)
	case r.Kind == KindBaseline && r.Vital != vitals.BodyWeight:
		// a drift over days, not an acute deterioration
		return "baseline:" + string(r.Vital)
	case r.Kind == KindNEWS2 || isNEWS2Parameter(r.Vital):
		return "deterioration"
	case r.Vital != "":
		return string(r.Vital)
	}
	return r.ID
}

// RuleSet is a rules file.
type RuleSet struct {
	// Freshness: a reading older than this when it arrives is stored but
	// raises no live alert (default 10 min).
	Freshness time.Duration `yaml:"freshness"`
	// Timezone (IANA) is where baseline rules' hours are read (default
	// UTC): a program's patients' nights.
	Timezone string `yaml:"timezone"`
	Rules    []Rule `yaml:"rules"`
	loc      *time.Location
}

//go:embed default_rules.yaml
var defaultRules []byte

// DefaultRules returns the shipped rule set.
func DefaultRules() *RuleSet {
	rs, err := ParseRules(defaultRules)
	if err != nil {
		panic(err) // the shipped file is checked by the tests
	}
	return rs
}

// LoadRules reads and checks a rules file.
func LoadRules(path string) (*RuleSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return ParseRules(b)
}

// ParseRules parses and checks rules. A bad file is refused whole, with
// errors that name the rule and the field.
func ParseRules(b []byte) (*RuleSet, error) {
	var rs RuleSet
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if rs.Freshness == 0 {
		rs.Freshness = 10 * time.Minute
	}
	var errs []error
	rs.loc = time.UTC
	if rs.Timezone != "" {
		loc, err := time.LoadLocation(rs.Timezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("timezone: unknown zone %q", rs.Timezone))
		} else {
			rs.loc = loc
		}
	}
	seen := map[string]bool{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("rule %q (rules[%d]) %s: %s", r.ID, i, field, fmt.Sprintf(format, args...)))
		}
		if r.ID == "" {
			bad("id", "required")
		} else if seen[r.ID] {
			bad("id", "appears twice")
		}
		seen[r.ID] = true
		if r.Severity == "" {
			r.Severity = Medium
		}
		if !contains(severities, r.Severity) {
			bad("severity", "one of low, medium, high, critical")
		}
		if r.SpO2Scale != 0 && r.SpO2Scale != 1 && r.SpO2Scale != 2 {
			bad("spo2_scale", "1 or 2")
		}
		needVital := func() {
			if _, ok := vitals.Lookup(r.Vital); !ok {
				bad("vital", "unknown vital type %q", r.Vital)
			}
		}
		switch r.Kind {
		case KindThreshold:
			needVital()
			n := 0
			for _, p := range []*float64{r.Above, r.Below, r.AtOrAbove, r.AtOrBelow} {
				if p != nil {
					n++
				}
			}
			if n != 1 {
				bad("above/below/at_or_above/at_or_below", "exactly one is required")
			}
			switch r.Component {
			case "", ComponentSystolic:
			case ComponentDiastolic:
				if r.Vital != vitals.BloodPressure {
					bad("component", "diastolic is a blood pressure's")
				}
			default:
				bad("component", "systolic or diastolic")
			}
			if r.Readings < 0 || r.Readings > minSamples {
				bad("readings", "0 to %d", minSamples)
			}
			if r.Clear != nil && n == 1 {
				if upper, level := r.direction(); (upper && *r.Clear > level) || (!upper && *r.Clear < level) {
					bad("clear", "must be on the normal side of the threshold")
				}
			}
		case KindNEWS2:
			if r.AtLeast <= 0 && !r.SingleThree {
				bad("at_least", "a score of 1 or more, or single_parameter_3: true")
			}
		case KindRate:
			needVital()
			if r.Change == 0 {
				bad("change", "required (negative for a fall)")
			}
			if r.Window <= 0 || r.Window > maxRateWindow {
				bad("window", "required, at most %s", maxRateWindow)
			}
		case KindNoData:
			needVital()
			if r.After <= 0 {
				bad("after", "required")
			}
		case KindBaseline:
			needVital()
			if err := r.checkBaseline(); err != nil {
				bad(err.field, "%s", err.msg)
			}
		default:
			bad("kind", "one of threshold, news2, rate, no_data, baseline")
		}
		if len(r.Group) > 64 {
			bad("group", "at most 64 characters")
		}
		if r.For < 0 || r.ClearFor < 0 {
			bad("for/clear_for", "must not be negative")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &rs, nil
}

// direction reports whether a threshold rule fires on high values, and its
// level.
func (r *Rule) direction() (upper bool, level float64) {
	switch {
	case r.Above != nil:
		return true, *r.Above
	case r.AtOrAbove != nil:
		return true, *r.AtOrAbove
	case r.Below != nil:
		return false, *r.Below
	default:
		return false, *r.AtOrBelow
	}
}

// news2Breached reports whether a score reaches a NEWS2 rule.
func (r *Rule) news2Breached(s news2.Score) bool {
	return (r.AtLeast > 0 && s.Total >= r.AtLeast) || (r.SingleThree && s.Red)
}

// breached reports whether v is past the threshold.
func (r *Rule) breached(v float64) bool {
	switch {
	case r.Above != nil:
		return v > *r.Above
	case r.AtOrAbove != nil:
		return v >= *r.AtOrAbove
	case r.Below != nil:
		return v < *r.Below
	default:
		return v <= *r.AtOrBelow
	}
}

// cleared reports whether v is back on the normal side of the clear level.
func (r *Rule) cleared(v float64) bool {
	upper, level := r.direction()
	if r.Clear == nil {
		return !r.breached(v)
	}
	if upper {
		return v < *r.Clear
	}
	_ = level
	return v > *r.Clear
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
