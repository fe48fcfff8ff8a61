// Package news2 computes the National Early Warning Score 2 (Royal College
// of Physicians, 2017) from the latest vital signs of a patient. The rules
// engine raises alerts on it and the simulator writes it into its ground
// truth, so both score the same way.
//
// Observations are charted as whole numbers (temperature to 0.1 °C), so
// values are rounded half away from zero before they are placed in a band.
package news2

import "math"

// Scale is the SpO2 scale: 1 by default, 2 for patients with a prescribed
// target of 88-92 % (hypercapnic respiratory failure), set by a clinician.
type Scale int

// The two SpO2 scales.
const (
	Scale1 Scale = 1
	Scale2 Scale = 2
)

// Consciousness on the ACVPU scale; "" means not assessed.
type Consciousness string

// ACVPU levels.
const (
	Alert        Consciousness = "alert"
	Confusion    Consciousness = "confusion" // new confusion
	Voice        Consciousness = "voice"
	Pain         Consciousness = "pain"
	Unresponsive Consciousness = "unresponsive"
)

// Params are the inputs; a nil pointer is a missing observation.
type Params struct {
	RespiratoryRate *float64 // /min
	SpO2            *float64 // %
	Scale           Scale    // 0 means Scale1
	OnOxygen        bool
	Systolic        *float64 // mm[Hg]
	Pulse           *float64 // /min
	Consciousness   Consciousness
	Temperature     *float64 // Cel
}

// paramNames are the parameters' names, as Part takes them.
var paramNames = [...]string{"respiratory_rate", "spo2", "air_or_oxygen", "systolic", "pulse", "consciousness", "temperature"}

func paramIndex(name string) int {
	for i, n := range paramNames {
		if n == name {
			return i
		}
	}
	panic("news2: unknown parameter " + name)
}

// Part returns the points a parameter scored, and false when it was
// missing. Names: respiratory_rate, spo2, air_or_oxygen, systolic, pulse,
// consciousness, temperature.
func (s Score) Part(name string) (int, bool) {
	for i, n := range paramNames {
		if n == name {
			return int(s.parts[i]), s.parts[i] >= 0
		}
	}
	return 0, false
}

// Missing returns the names of the parameters missing from a partial
// score (as Part takes them), in the chart's order; nil when complete.
func (s Score) Missing() []string {
	var out []string
	for i, n := range paramNames {
		if s.parts[i] < 0 {
			out = append(out, n)
		}
	}
	return out
}

// Band is the clinical response band.
type Band string

// Response bands.
const (
	Low       Band = "low"        // 0-4, no single 3
	LowMedium Band = "low-medium" // a 3 in one parameter, total under 5
	Medium    Band = "medium"     // 5-6
	High      Band = "high"       // 7 or more
)

// Score is a NEWS2 result.
type Score struct {
	Total int
	// parts are the points of each parameter (see Part); -1 when missing.
	parts [len(paramNames)]int8
	// Partial is set when any parameter was missing: the total is then a
	// lower bound.
	Partial bool
	// Red is set when a single parameter scored 3.
	Red  bool
	Band Band
}

// Compute scores the parameters.
func Compute(p Params) Score {
	s := Score{}
	for i := range s.parts {
		s.parts[i] = -1
	}
	add := func(name string, points int) {
		s.parts[paramIndex(name)] = int8(points)
		s.Total += points
		if points == 3 {
			s.Red = true
		}
	}
	if v := p.RespiratoryRate; v != nil {
		add("respiratory_rate", respiration(round(*v)))
	} else {
		s.Partial = true
	}
	if v := p.SpO2; v != nil {
		if p.Scale == Scale2 {
			add("spo2", spo2Scale2(round(*v), p.OnOxygen))
		} else {
			add("spo2", spo2Scale1(round(*v)))
		}
	} else {
		s.Partial = true
	}
	if p.OnOxygen {
		add("air_or_oxygen", 2)
	} else {
		add("air_or_oxygen", 0)
	}
	if v := p.Systolic; v != nil {
		add("systolic", systolic(round(*v)))
	} else {
		s.Partial = true
	}
	if v := p.Pulse; v != nil {
		add("pulse", pulse(round(*v)))
	} else {
		s.Partial = true
	}
	switch p.Consciousness {
	case Alert:
		add("consciousness", 0)
	case Confusion, Voice, Pain, Unresponsive:
		add("consciousness", 3)
	default:
		s.Partial = true // not assessed: scores nothing, and Missing says so
	}
	if v := p.Temperature; v != nil {
		add("temperature", temperature(math.Round(*v*10)/10))
	} else {
		s.Partial = true
	}
	switch {
	case s.Total >= 7:
		s.Band = High
	case s.Total >= 5:
		s.Band = Medium
	case s.Red:
		s.Band = LowMedium
	default:
		s.Band = Low
	}
	return s
}

func round(v float64) float64 { return math.Round(v) }

func respiration(v float64) int {
	switch {
	case v <= 8:
		return 3
	case v <= 11:
		return 1
	case v <= 20:
		return 0
	case v <= 24:
		return 2
	}
	return 3
}

func spo2Scale1(v float64) int {
	switch {
	case v <= 91:
		return 3
	case v <= 93:
		return 2
	case v <= 95:
		return 1
	}
	return 0
}

func spo2Scale2(v float64, onOxygen bool) int {
	switch {
	case v <= 83:
		return 3
	case v <= 85:
		return 2
	case v <= 87:
		return 1
	case v <= 92 || !onOxygen:
		return 0 // 88-92, or 93 and above on air
	case v <= 94:
		return 1
	case v <= 96:
		return 2
	}
	return 3
}

func systolic(v float64) int {
	switch {
	case v <= 90:
		return 3
	case v <= 100:
		return 2
	case v <= 110:
		return 1
	case v <= 219:
		return 0
	}
	return 3
}

func pulse(v float64) int {
	switch {
	case v <= 40:
		return 3
	case v <= 50:
		return 1
	case v <= 90:
		return 0
	case v <= 110:
		return 1
	case v <= 130:
		return 2
	}
	return 3
}

func temperature(v float64) int {
	switch {
	case v <= 35.0:
		return 3
	case v <= 36.0:
		return 1
	case v <= 38.0:
		return 0
	case v <= 39.0:
		return 1
	}
	return 2
}

// F is a convenience for building Params: it returns a pointer to v.
func F(v float64) *float64 { return &v }
