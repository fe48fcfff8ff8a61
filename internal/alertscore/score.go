// Package alertscore scores alerts against the simulator's ground truth:
// it turns the truth's condition events into episodes, decides which
// episodes the devices could see clearly, and matches alerts to them. The
// rules engine's in-memory test and the end-to-end replay through a broker
// and a store share it.
package alertscore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/simulators"
)

// ruleFor maps the simulator's ground-truth conditions to the default rules.
var ruleFor = map[string]string{
	"heart_rate_above_130_for_2m": "heart_rate_high", "heart_rate_below_40_for_2m": "heart_rate_low",
	"spo2_below_90_for_2m": "spo2_low", "spo2_below_85_for_2m": "spo2_low_scale2", "systolic_below_90": "systolic_low",
	"temperature_39_1_or_above": "temperature_high", "glucose_below_54": "glucose_very_low",
	"glucose_below_70_for_15m": "glucose_low", "news2_5_or_more": "news2_medium", "news2_7_or_more": "news2_high",
	"news2_single_3":                   "news2_single_3",
	"respiratory_rate_above_24_for_5m": "respiratory_rate_high", "respiratory_rate_below_8_for_2m": "respiratory_rate_low",
	// conditions over days
	"systolic_180_or_above_confirmed": "hypertension_systolic", "diastolic_120_or_above_confirmed": "hypertension_diastolic",
	"weight_gain_2kg_in_3_days": "hf_weight_gain_3d", "weight_gain_1kg_in_a_day": "hf_weight_gain_1d",
	"heart_rate_silent_6h":                               "no_data_heart_rate",
	"resting_heart_rate_7_above_baseline_3_nights":       "resting_heart_rate_above_baseline",
	"resting_respiratory_rate_3_above_baseline_3_nights": "resting_respiratory_rate_above_baseline",
	"overnight_spo2_3_below_baseline_3_nights":           "overnight_spo2_below_baseline",
	"weight_2kg_above_baseline_3_days":                   "weight_above_baseline",
}

// Split parts alerts into those of rules the truth has conditions of,
// which are scored, and a count per rule of the others (rules the
// simulator has no ground truth for yet: the
// no-data rules of blood pressure and weight).
func Split(fires []Fire) (scored []Fire, others map[string]int) {
	others = map[string]int{}
	scoredRule := map[string]bool{}
	for _, r := range ruleFor {
		scoredRule[r] = true
	}
	for _, f := range fires {
		if scoredRule[f.Rule] {
			scored = append(scored, f)
		} else {
			others[f.Rule]++
		}
	}
	return scored, others
}

// Fire is an alert as scored: which rule, for whom, when (event time),
// until when it stayed open (zero: open at the end), and (when known) the
// time of the reading that decided it.
type Fire struct {
	Patient, Rule string
	At, Until, By time.Time
}

func (f Fire) String() string {
	return fmt.Sprintf("%s for %s at %s", f.Rule, f.Patient, f.At.Format(time.RFC3339))
}

// Episode is one stretch of a condition in the truth.
type Episode struct {
	Patient, Rule string
	Start, End    time.Time // End zero: still holding at the end
	// Evident is when a measurement first showed the condition beyond the
	// sensors' noise for the rule's duration (zero: never). Only evident
	// episodes must be detected, and detection delay runs from here; the
	// others are neither required nor held against an alert that matches
	// them.
	Evident time.Time
}

// Counts reports whether the episode must be detected.
func (e *Episode) Counts() bool { return !e.Evident.IsZero() }

// Truth is a parsed ground truth.
type Truth struct {
	Rows   map[string][]simulators.TruthRow
	Events []simulators.TruthEvent
	End    time.Time
}

// ParseTruth reads the simulator's JSON lines.
func ParseTruth(b []byte, end time.Time) (*Truth, error) {
	t := &Truth{Rows: map[string][]simulators.TruthRow{}, End: end}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var row simulators.TruthRow
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, err
		}
		if row.Profile != "" {
			t.Rows[row.Patient] = append(t.Rows[row.Patient], row)
			continue
		}
		var ev simulators.TruthEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, err
		}
		if ev.State != "" {
			t.Events = append(t.Events, ev)
		}
	}
	return t, sc.Err()
}

// Episodes are the truth's condition episodes of the rules' conditions. The
// truth has no hysteresis: a state wavering at a band edge starts and ends
// many times; a gap under 15 minutes is the same episode, as a clinician
// would see it.
func (t *Truth) Episodes() []*Episode {
	var eps []*Episode
	open := map[string]*Episode{}
	last := map[string]*Episode{}
	for _, ev := range t.Events {
		rule, ok := ruleFor[ev.Condition]
		if !ok {
			continue
		}
		key := ev.Patient + "/" + rule
		switch ev.State {
		case "start":
			if l := last[key]; l != nil && ev.Time.Sub(l.End) < 15*time.Minute {
				l.End = time.Time{}
				open[key] = l
				continue
			}
			e := &Episode{Patient: ev.Patient, Rule: rule, Start: ev.Time}
			open[key], last[key] = e, e
			eps = append(eps, e)
		case "evident":
			if e := open[key]; e != nil && e.Evident.IsZero() {
				e.Evident = ev.Time
			}
		case "end":
			if e := open[key]; e != nil {
				e.End = ev.Time
				delete(open, key)
			}
		}
	}
	return eps
}

// possible reports whether, within ten minutes of an alert, the truth had
// the rule's condition within the sensors' noise of holding.
func (t *Truth) possible(f Fire) bool {
	for _, r := range t.Rows[f.Patient] {
		if r.Time.Sub(f.At) > 10*time.Minute || f.At.Sub(r.Time) > 10*time.Minute {
			continue
		}
		for _, c := range r.Possible {
			if ruleFor[c] == f.Rule {
				return true
			}
		}
	}
	return false
}

// Result is a scoring.
type Result struct {
	Episodes, Counted, Found int
	TruePositives            int
	False, Missed, Late      []string
	Delays                   []time.Duration // per detected counted episode, sorted
	// RuleDelays are the detection delays by rule, sorted.
	RuleDelays map[string][]time.Duration
	// Offsets are the detections' signed times from the episode becoming
	// evident (negative: the alert dates the condition earlier), and
	// Decided those of the readings that decided them, when known; sorted.
	Offsets, Decided []time.Duration
	// Covered counts the evident episodes an alert of an earlier episode
	// still open covered (no offsets for them).
	Covered int
	// Repeated lists the evident episodes more than one alert matched (an
	// alert cleared by its hysteresis and a new one fired within one truth
	// episode, the truth's gaps under 15 minutes being joined).
	Repeated          []string
	Precision, Recall float64
}

// Log writes the false alerts, late detections, misses and the summary.
func (r Result) Log(logf func(format string, args ...any), alerts int) {
	for _, s := range r.False {
		logf("false alert: %s", s)
	}
	for _, s := range r.Late {
		logf("late: %s", s)
	}
	for _, s := range r.Missed {
		logf("missed: %s", s)
	}
	logf("episodes %d (%d evident), alerts %d: precision %.3f, recall %.3f, worst delay %s; %d of %d detections within 10 s of the truth",
		r.Episodes, r.Counted, alerts, r.Precision, r.Recall, r.Worst(), r.Within(10*time.Second), len(r.Delays))
	spread := func(ds []time.Duration) string {
		return fmt.Sprintf("earliest %s, median %s, latest %s", ds[0], ds[len(ds)/2], ds[len(ds)-1])
	}
	for _, s := range r.Repeated {
		logf("more than one alert: %s", s)
	}
	logf("%d episodes were covered by an alert still open from an earlier one", r.Covered)
	if len(r.Offsets) > 0 {
		logf("the other alerts' times from the episode becoming evident: %s", spread(r.Offsets))
	}
	if len(r.Decided) > 0 {
		logf("deciding readings' times from the episode becoming evident: %s", spread(r.Decided))
	}
}

// Within counts the detections no later than d after the episode became
// evident (which is when it had held for the rule's duration).
func (r Result) Within(d time.Duration) int {
	n := 0
	for _, x := range r.Delays {
		if x <= d {
			n++
		}
	}
	return n
}

// Worst is the longest detection delay.
func (r Result) Worst() time.Duration {
	if len(r.Delays) == 0 {
		return 0
	}
	return r.Delays[len(r.Delays)-1]
}

// Score matches alerts to episodes. An alert within slack (5 minutes) of
// an episode of its rule and patient matches it; an alert matching no
// episode is false unless the truth had the condition within the sensors'
// noise (Possible) within ten minutes. An evident episode is detected by a
// matching alert, or by an alert of its rule still open when it became
// evident (at most one open alert per rule and patient: the hysteresis of
// the alert outlasted the truth's gap); its delay is from becoming evident
// to the earliest such alert (0 for one already open or earlier).
func (t *Truth) Score(fires []Fire) Result {
	eps := t.Episodes()
	const slack = 5 * time.Minute
	res := Result{Episodes: len(eps)}
	matches := func(f Fire, e *Episode) bool {
		end := e.End
		if end.IsZero() {
			end = t.End
		}
		return e.Patient == f.Patient && e.Rule == f.Rule && !f.At.Before(e.Start.Add(-slack)) && !f.At.After(end.Add(slack))
	}
	fp := 0
	for _, f := range fires {
		matched, counted := false, false
		for _, e := range eps {
			if matches(f, e) {
				matched = true
				counted = counted || e.Counts()
			}
		}
		switch {
		case counted:
			res.TruePositives++
		case matched || t.possible(f):
			// an episode inside the sensors' noise: neither required nor false
		default:
			fp++
			res.False = append(res.False, f.String())
		}
	}
	for _, e := range eps {
		if !e.Counts() {
			continue
		}
		res.Counted++
		var best *Fire
		delay := time.Duration(-1)
		n := 0
		for i, f := range fires {
			open := f.Patient == e.Patient && f.Rule == e.Rule && !f.At.After(e.Evident) && (f.Until.IsZero() || f.Until.After(e.Evident))
			if !open && !matches(f, e) {
				continue
			}
			n++
			if d := max(0, f.At.Sub(e.Evident)); delay < 0 || d < delay {
				best, delay = &fires[i], d
			}
		}
		if best == nil {
			res.Missed = append(res.Missed, fmt.Sprintf("%s %s evident at %s", e.Patient, e.Rule, e.Evident.Format(time.RFC3339)))
			continue
		}
		res.Found++
		if n > 1 {
			res.Repeated = append(res.Repeated, fmt.Sprintf("%s %s from %s to %s: %d alerts", e.Patient, e.Rule,
				e.Start.Format(time.RFC3339), e.End.Format(time.RFC3339), n))
		}
		res.Delays = append(res.Delays, delay)
		if res.RuleDelays == nil {
			res.RuleDelays = map[string][]time.Duration{}
		}
		res.RuleDelays[e.Rule] = append(res.RuleDelays[e.Rule], delay)
		if delay > 10*time.Second {
			res.Late = append(res.Late, fmt.Sprintf("%s by %s", best, delay))
		}
		if !matches(*best, e) {
			res.Covered++ // an alert of an earlier episode still open
			continue
		}
		res.Offsets = append(res.Offsets, best.At.Sub(e.Evident))
		if !best.By.IsZero() {
			res.Decided = append(res.Decided, best.By.Sub(e.Evident))
		}
	}
	for _, ds := range res.RuleDelays {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	}
	for _, ds := range [][]time.Duration{res.Delays, res.Offsets, res.Decided} {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	}
	res.Precision = float64(res.TruePositives) / float64(max(1, res.TruePositives+fp))
	res.Recall = float64(res.Found) / float64(max(1, res.Counted))
	return res
}

// ScriptedDay is the scored scenario: n generated patients for a
// simulated day from 2026-03-02, a third of them with a scripted sepsis,
// hypoxemia, hypoglycaemia or tachyarrhythmia spread over the day, the rest
// living their profiles' ordinary days. scripted names the patients with
// an event.
func ScriptedDay(seed, n int) (sc *simulators.Scenario, scripted map[string]bool, err error) {
	sc, err = simulators.ParseScenario([]byte(fmt.Sprintf("start: 2026-03-02T00:00:00Z\nduration: 24h\nseed: %d\ngenerate: %d\n", seed, n)))
	if err != nil {
		return nil, nil, err
	}
	kinds := []simulators.Event{
		{Kind: simulators.EventSepsis, Ramp: 5 * time.Hour},
		{Kind: simulators.EventHypoxemia, For: 40 * time.Minute, Ramp: 2 * time.Minute},
		{Kind: simulators.EventHypoglycaemia, For: 45 * time.Minute, Ramp: 20 * time.Minute},
		{Kind: simulators.EventTachyarrhythmia, For: 15 * time.Minute},
	}
	scripted = map[string]bool{}
	for i := 0; i < len(sc.Patients); i += 3 {
		ev := kinds[(i/3)%len(kinds)]
		ev.At = time.Duration(1+(i*7)%20) * time.Hour
		sc.Patients[i].Events = []simulators.Event{ev}
		scripted[sc.Patients[i].ID] = true
	}
	return sc, scripted, nil
}

// HealthyDayAlerts lists the alerts on patients of the scenario who lived
// a healthy profile's ordinary day (no scripted event).
func HealthyDayAlerts(sc *simulators.Scenario, fires []Fire) []string {
	healthy := map[string]bool{}
	for _, p := range sc.Patients {
		healthy[p.ID] = p.Profile == simulators.Healthy && len(p.Events) == 0
	}
	var out []string
	for _, f := range fires {
		if healthy[f.Patient] {
			out = append(out, f.String())
		}
	}
	return out
}

// RequireTargets asserts the rules issue's targets on a scored day, with
// the alerts on healthy days from HealthyDayAlerts: enough evident episodes
// to mean something, no false alert, none missed, none later than 10 s
// after becoming evident, none on a healthy day.
func RequireTargets(t require.TestingT, res Result, healthyDayAlerts []string) {
	require.Greater(t, res.Counted, 100, "the day has evident episodes to find")
	require.Empty(t, res.False, "alerts without a condition")
	require.Empty(t, res.Missed, "evident episodes not detected")
	require.Empty(t, res.Late, "detections later than 10 s after the episode became evident")
	require.Empty(t, healthyDayAlerts, "alerts on healthy patients' ordinary days")
	require.Equal(t, 1.0, res.Precision)
	require.Equal(t, 1.0, res.Recall)
}

// Weeks is the scored scenario over days: sixteen days from 2026-03-02
// (nine learning the baselines first), with a heart-failure
// decompensation (weight up a kilogram a day from day 10), an infection
// (resting heart rate up 15/min over 36 hours from day 11), hypertensive
// urgency on two days (confirmed by the cuff's repeat) and a watch left on
// its charger for a day, beside n patients of every profile living
// ordinary weeks. episodes gives, per scripted patient, the problem (see
// alerts.Rule.Problem) their script makes and how many episodes of it:
// one notification each.
func Weeks(seed, n int) (sc *simulators.Scenario, episodes map[string]ScriptedProblem, err error) {
	day := 24 * time.Hour
	y := fmt.Sprintf(`start: 2026-03-02T00:00:00Z
duration: 384h
seed: %d
generate: %d
prefix: weeks
patients:
  - id: hf-decompensation
    profile: heart_failure
    devices: [watch, patch, cuff, scale]
    events: [{kind: hf_decompensation, at: %s, ramp: 120h}]
  - id: infection
    profile: healthy
    devices: [watch, patch, cuff]
    events: [{kind: infection, at: %s, ramp: 36h}]
  - id: hypertension
    profile: healthy
    devices: [watch, cuff]
    events:
      - {kind: hypertension, at: %s, for: 10h, ramp: 1h}
      - {kind: hypertension, at: %s, for: 10h, ramp: 1h}
  - id: charger
    profile: healthy
    devices: [watch, cuff]
    events: [{kind: device_removal, device: watch, at: %s, for: 24h}]
`, seed, n, 10*day, 11*day+12*time.Hour, 2*day+6*time.Hour, 9*day+12*time.Hour, 5*day+9*time.Hour)
	sc, err = simulators.ParseScenario([]byte(y))
	if err != nil {
		return nil, nil, err
	}
	return sc, map[string]ScriptedProblem{
		"hf-decompensation": {"body_weight", 1},
		"infection":         {"baseline:heart_rate", 1},
		"hypertension":      {"deterioration", 2},
		"charger":           {"no_data:heart_rate", 1},
	}, nil
}

// ScriptedProblem is the problem a scripted patient's events make, and
// how many episodes of it.
type ScriptedProblem struct {
	Problem  string
	Episodes int
}
