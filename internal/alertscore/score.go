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

	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

// ruleFor maps the simulator's ground-truth conditions to the default rules.
var ruleFor = map[string]string{
	"heart_rate_above_130_for_2m": "heart_rate_high", "heart_rate_below_40_for_2m": "heart_rate_low",
	"spo2_below_90_for_2m": "spo2_low", "spo2_below_85_for_2m": "spo2_low_scale2", "systolic_below_90": "systolic_low",
	"temperature_39_1_or_above": "temperature_high", "glucose_below_54": "glucose_very_low",
	"glucose_below_70_for_15m": "glucose_low", "news2_5_or_more": "news2_medium", "news2_7_or_more": "news2_high",
	"news2_single_3": "news2_single_3",
}

// Fire is an alert as scored: which rule, for whom, when (event time).
type Fire struct {
	Patient, Rule string
	At            time.Time
}

func (f Fire) String() string {
	return fmt.Sprintf("%s for %s at %s", f.Rule, f.Patient, f.At.Format(time.RFC3339))
}

// Episode is one stretch of a condition in the truth.
type Episode struct {
	Patient, Rule string
	Start, End    time.Time // End zero: still holding at the end
	// Counts: the devices could see it (two readings of the vital inside
	// it) and it is clear (the true value went past the threshold by more
	// than the sensors' noise). Others are neither required nor held
	// against an alert that matches them.
	Counts bool
}

// margins are how far past a threshold the truth must go for an episode to
// be clear of sensor noise.
var margins = map[string]struct {
	vital  vitals.Type
	level  float64
	below  bool
	margin float64
	get    func(simulators.Vitals) float64
}{
	"heart_rate_high":  {vitals.HeartRate, 130, false, 5, func(v simulators.Vitals) float64 { return v.HeartRate }},
	"heart_rate_low":   {vitals.HeartRate, 40, true, 5, func(v simulators.Vitals) float64 { return v.HeartRate }},
	"spo2_low":         {vitals.SpO2, 90, true, 1.5, func(v simulators.Vitals) float64 { return v.SpO2 }},
	"spo2_low_scale2":  {vitals.SpO2, 85, true, 1.5, func(v simulators.Vitals) float64 { return v.SpO2 }},
	"systolic_low":     {vitals.BloodPressure, 90, true, 5, func(v simulators.Vitals) float64 { return v.Systolic }},
	"temperature_high": {vitals.BodyTemperature, 39.1, false, 0.3, func(v simulators.Vitals) float64 { return v.Temperature }},
	"glucose_very_low": {vitals.BloodGlucose, 54, true, 5, func(v simulators.Vitals) float64 { return v.Glucose }},
	"glucose_low":      {vitals.BloodGlucose, 70, true, 5, func(v simulators.Vitals) float64 { return v.Glucose }},
}

// Truth is a parsed ground truth with the times the devices measured each
// vital (patient/vital -> reading times).
type Truth struct {
	Rows     map[string][]simulators.TruthRow
	Events   []simulators.TruthEvent
	Measured map[string][]time.Time
	End      time.Time
}

// ParseTruth reads the simulator's JSON lines.
func ParseTruth(b []byte, end time.Time) (*Truth, error) {
	t := &Truth{Rows: map[string][]simulators.TruthRow{}, Measured: map[string][]time.Time{}, End: end}
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

// Measure notes the readings of one emission (as the ingester would take
// them) for the observability of episodes.
func (t *Truth) Measure(e simulators.Emission, patientOf map[string]string) {
	var msg ingest.Message
	if e.Readings == 0 || ingest.Decode(e.Payload, &msg) != nil {
		return
	}
	for i := range msg.Readings {
		var r vitals.Reading
		if ingest.Normalize(&msg.Readings[i], e.Device, e.At, 5*time.Minute, 0, &r) != nil {
			continue
		}
		k := patientOf[e.Device] + "/" + string(r.Type)
		t.Measured[k] = append(t.Measured[k], r.Time)
	}
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
		if ev.State == "start" {
			if l := last[key]; l != nil && ev.Time.Sub(l.End) < 15*time.Minute {
				l.End = time.Time{}
				open[key] = l
				continue
			}
			e := &Episode{Patient: ev.Patient, Rule: rule, Start: ev.Time}
			open[key], last[key] = e, e
			eps = append(eps, e)
		} else if e := open[key]; e != nil {
			e.End = ev.Time
			delete(open, key)
		}
	}
	for _, e := range eps {
		e.Counts = t.countable(e)
	}
	return eps
}

func (t *Truth) countable(e *Episode) bool {
	until := e.End
	if until.IsZero() {
		until = t.End
	}
	rows := t.Rows[e.Patient]
	m, threshold := margins[e.Rule]
	if !threshold {
		// NEWS2: clear when the true score passes the level by a point.
		need := map[string]int{"news2_medium": 6, "news2_high": 8}[e.Rule]
		if need == 0 {
			return true
		}
		for _, r := range rows {
			if !r.Time.Before(e.Start) && !r.Time.After(until) && r.NEWS2 >= need {
				return true
			}
		}
		return false
	}
	n := 0
	for _, at := range t.Measured[e.Patient+"/"+string(m.vital)] {
		if !at.Before(e.Start.Add(-2*time.Minute)) && !at.After(until) {
			n++
		}
	}
	if n < 2 {
		return false
	}
	for _, r := range rows {
		if r.Time.Before(e.Start) || r.Time.After(until) {
			continue
		}
		v := m.get(r.Vitals)
		if (m.below && v < m.level-m.margin) || (!m.below && v > m.level+m.margin) {
			return true
		}
	}
	return false
}

// nearThreshold reports whether, within ten minutes of an alert, the true
// value (or NEWS2 score) came within the noise margin of the rule's level.
func (t *Truth) nearThreshold(f Fire) bool {
	m, threshold := margins[f.Rule]
	for _, r := range t.Rows[f.Patient] {
		if r.Time.Sub(f.At) > 10*time.Minute || f.At.Sub(r.Time) > 10*time.Minute {
			continue
		}
		if !threshold {
			level := map[string]int{"news2_medium": 5, "news2_high": 7}[f.Rule]
			if level > 0 && r.NEWS2 >= level-1 {
				return true
			}
			continue
		}
		v := m.get(r.Vitals)
		if (m.below && v < m.level+m.margin) || (!m.below && v > m.level-m.margin) {
			return true
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
	Precision, Recall        float64
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
	logf("episodes %d (%d observable and clear), alerts %d: precision %.3f, recall %.3f, worst delay %s; %d of %d detections within 10 s of the truth",
		r.Episodes, r.Counted, alerts, r.Precision, r.Recall, r.Worst(), r.Within(10*time.Second), len(r.Delays))
}

// Within counts the detections no later than d after the truth (which
// starts a condition when it has held for the rule's duration).
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

// Score matches alerts to episodes: an alert within slack (5 minutes) of
// an episode of its rule and patient matches it; an alert matching none is
// false unless the truth was within the sensors' noise of the level.
func (t *Truth) Score(fires []Fire) Result {
	eps := t.Episodes()
	const slack = 5 * time.Minute
	res := Result{Episodes: len(eps)}
	detected := map[*Episode]bool{}
	fp := 0
	for _, f := range fires {
		var hit *Episode
		for _, e := range eps {
			end := e.End
			if end.IsZero() {
				end = t.End
			}
			if e.Patient == f.Patient && e.Rule == f.Rule && !f.At.Before(e.Start.Add(-slack)) && !f.At.After(end.Add(slack)) {
				hit = e
				break
			}
		}
		if hit == nil && t.nearThreshold(f) {
			continue
		}
		if hit == nil {
			fp++
			res.False = append(res.False, f.String())
			continue
		}
		if !hit.Counts {
			continue
		}
		res.TruePositives++
		if !detected[hit] {
			detected[hit] = true
			d := f.At.Sub(hit.Start)
			res.Delays = append(res.Delays, d)
			if d > 10*time.Minute {
				res.Late = append(res.Late, fmt.Sprintf("%s by %s", f, d))
			}
		}
	}
	for _, e := range eps {
		if !e.Counts {
			continue
		}
		res.Counted++
		if detected[e] {
			res.Found++
		} else {
			res.Missed = append(res.Missed, fmt.Sprintf("%s %s at %s", e.Patient, e.Rule, e.Start.Format(time.RFC3339)))
		}
	}
	sort.Slice(res.Delays, func(i, j int) bool { return res.Delays[i] < res.Delays[j] })
	res.Precision = float64(res.TruePositives) / float64(max(1, res.TruePositives+fp))
	res.Recall = float64(res.Found) / float64(max(1, res.Counted))
	return res
}
