package alerts

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// PagerData is what a pager or chat message needs to show an alert
// change without calling back: the vital, the value with its unit, the
// level it crossed, the patient's id (never a name: a pager screen is
// not a place for one), the severity, the rule and a link to the alert.
// It is the "data" of a delivery (the Standard Webhooks payload shape).
type PagerData struct {
	AlertID  int64  `json:"alert_id"`
	Event    string `json:"event"`
	Rule     string `json:"rule"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	State    string `json:"state"`
	// Patient is the patient's id in Vitalwire (their FHIR id).
	Patient string `json:"patient"`
	// Vital is the catalog's type ("spo2"; "news2" for the score) and
	// VitalLabel its name for people ("Oxygen saturation").
	Vital      string `json:"vital,omitempty"`
	VitalLabel string `json:"vital_label,omitempty"`
	// Component is the part of a panel the rule judges ("systolic").
	Component string `json:"component,omitempty"`
	// Value is the value that decided the alert, in Unit (UCUM; empty
	// for a score); UnitSymbol is the unit as people write it.
	Value      float64 `json:"value"`
	Unit       string  `json:"unit,omitempty"`
	UnitSymbol string  `json:"unit_symbol,omitempty"`
	// Threshold is the level the rule fired at, the patient's own when a
	// clinician set one.
	Threshold *Threshold `json:"threshold,omitempty"`
	FiredAt   time.Time  `json:"fired_at"`
	// URL opens the alert's patient in Vitalwire (sign-in needed).
	URL string `json:"url,omitempty"`
	// Text is the change in one line, for a pager's screen.
	Text string `json:"text"`
}

// Threshold is a rule's level: the value compared with Comparator
// ("<", "<=", ">", ">="; for a rate rule a change within Window; for a
// no-data rule the silence After).
type Threshold struct {
	Comparator string  `json:"comparator,omitempty"`
	Level      float64 `json:"level,omitempty"`
	For        string  `json:"for,omitempty"`
	Window     string  `json:"window,omitempty"`
	After      string  `json:"after,omitempty"`
	// SingleParameter3: a NEWS2 rule that fires on any one parameter
	// scoring 3 (alone, or beside its total).
	SingleParameter3 bool `json:"single_parameter_3,omitempty"`
}

// EffectiveRule is the rule id as it applies to a patient: with the
// patient's own levels when a clinician set them.
func (e *Engine) EffectiveRule(patient, id string) (Rule, bool) {
	if e == nil {
		return Rule{}, false
	}
	set := e.Rules()
	for _, r := range set.Rules {
		if r.ID != id {
			continue
		}
		if r.Kind == KindThreshold && e.info != nil {
			if o, ok := e.info(patient).Overrides[id]; ok {
				r = r.with(o)
			}
		}
		return r, true
	}
	return Rule{}, false
}

// pagerData describes an alert change; alertURL, when set, links to it.
func pagerData(event string, a Alert, rule Rule, known bool, alertURL string) PagerData {
	d := PagerData{AlertID: a.ID, Event: event, Rule: a.Rule, Severity: a.Severity, State: a.State,
		Patient: a.Patient, Value: a.Value, FiredAt: a.FiredAt, URL: alertURL}
	if known {
		d.Kind = rule.Kind
		d.Threshold = threshold(rule)
		switch rule.Kind {
		case KindNEWS2:
			d.Vital, d.VitalLabel = "news2", "NEWS2 score"
		default:
			d.Vital = string(rule.Vital)
			if spec, ok := vitals.Lookup(rule.Vital); ok {
				d.VitalLabel, d.Unit, d.UnitSymbol = spec.Display.Label, spec.Canonical, spec.Display.Symbol
				if spec.IsPanel() {
					d.Component = ComponentSystolic
					if rule.Component != "" {
						d.Component = rule.Component
					}
				}
			}
		}
	}
	d.Text = pagerText(d)
	return d
}

func threshold(r Rule) *Threshold {
	dur := func(d time.Duration) string {
		if d <= 0 {
			return ""
		}
		return d.String()
	}
	switch r.Kind {
	case KindThreshold:
		t := &Threshold{For: dur(r.For)}
		switch {
		case r.Above != nil:
			t.Comparator, t.Level = ">", *r.Above
		case r.AtOrAbove != nil:
			t.Comparator, t.Level = ">=", *r.AtOrAbove
		case r.Below != nil:
			t.Comparator, t.Level = "<", *r.Below
		case r.AtOrBelow != nil:
			t.Comparator, t.Level = "<=", *r.AtOrBelow
		}
		return t
	case KindNEWS2:
		t := &Threshold{SingleParameter3: r.SingleThree, For: dur(r.For)}
		if r.AtLeast > 0 {
			t.Comparator, t.Level = ">=", float64(r.AtLeast)
		}
		return t
	case KindRate:
		cmp := ">="
		if r.Change < 0 {
			cmp = "<="
		}
		return &Threshold{Comparator: cmp, Level: r.Change, Window: dur(r.Window)}
	case KindNoData:
		return &Threshold{After: dur(r.After)}
	}
	return nil
}

// pagerText is e.g. "HIGH firing: Blood pressure (systolic) 82 mmHg, < 90
// for 2m0s; patient p1; rule systolic_low".
func pagerText(d PagerData) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", strings.ToUpper(d.Severity), strings.TrimPrefix(d.Event, "alert."))
	label := d.VitalLabel
	if label == "" {
		label = d.Rule
	}
	b.WriteString(label)
	if d.Component != "" {
		b.WriteString(" (" + d.Component + ")")
	}
	if d.Kind != KindNoData {
		b.WriteString(" " + strconv.FormatFloat(d.Value, 'f', -1, 64))
		if d.UnitSymbol != "" {
			b.WriteString(" " + d.UnitSymbol)
		}
	}
	if t := d.Threshold; t != nil {
		switch {
		case t.After != "":
			b.WriteString(", no data for " + t.After)
		case t.Comparator != "" || t.SingleParameter3:
			if t.Comparator != "" {
				fmt.Fprintf(&b, ", %s %s", t.Comparator, strconv.FormatFloat(t.Level, 'f', -1, 64))
			}
			if t.SingleParameter3 {
				b.WriteString(", a single parameter scoring 3")
			}
			if t.Window != "" {
				b.WriteString(" within " + t.Window)
			}
			if t.For != "" {
				b.WriteString(" for " + t.For)
			}
		}
	}
	fmt.Fprintf(&b, "; patient %s; rule %s", d.Patient, d.Rule)
	return b.String()
}

// AlertURL is the link to an alert in the browser UI under base (the
// server's external URL): its patient's page, which lists it.
func AlertURL(base string, a Alert) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/#/patients/" + url.PathEscape(a.Patient) + "?alert=" + strconv.FormatInt(a.ID, 10)
}
