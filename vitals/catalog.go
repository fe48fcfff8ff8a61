// Package vitals owns the reading model: the catalog of vital types with
// their LOINC codes and UCUM units, unit conversion to the canonical unit of
// each type, plausibility ranges that refuse physically impossible values,
// and the Store interface that time-series back ends implement.
//
// vitals imports nothing else of Vitalwire's; every other package may use it.
package vitals

import (
	"sort"
	"time"
)

// Type names a kind of vital sign as it appears on the wire ("heart_rate").
type Type string

// The vital types Vitalwire accepts. The catalog below says what each means.
const (
	HeartRate       Type = "heart_rate"
	RespiratoryRate Type = "respiratory_rate"
	SpO2            Type = "spo2"
	BodyTemperature Type = "body_temperature"
	BloodPressure   Type = "blood_pressure"
	BodyWeight      Type = "body_weight"
	BloodGlucose    Type = "blood_glucose"
	// Steps is a step count over the minute ending at the reading's time.
	Steps Type = "steps"
)

// Code is a coding in a terminology, such as a LOINC code.
type Code struct {
	System  string
	Code    string
	Display string
}

// LOINC is the system URI of LOINC codes in FHIR.
const LOINC = "http://loinc.org"

// MDC is the system URI of IEEE 11073-10101 (MDC) codes in FHIR: the
// nomenclature personal health devices name their measurements in.
const MDC = "urn:iso:std:iso:11073:10101"

// Unit is an accepted unit of a type with its conversion to the canonical
// unit of that type.
type Unit struct {
	UCUM      string
	ToCanonic func(float64) float64
}

// Range is a closed interval of plausible values in the canonical unit.
// Values outside it are physically impossible (or a broken sensor), not
// merely abnormal: abnormal values are the rules engine's business.
type Range struct{ Min, Max float64 }

// Contains reports whether v lies in the range.
func (r Range) Contains(v float64) bool { return v >= r.Min && v <= r.Max }

// Spec describes one vital type.
type Spec struct {
	Type Type
	// Codes are the LOINC codings of the type, the primary first.
	Codes []Code
	// Canonical is the UCUM unit values are stored in.
	Canonical string
	// Units lists every accepted unit, the canonical one included.
	Units []Unit
	// Plausible bounds the value (for blood pressure, the systolic).
	Plausible Range
	// Diastolic bounds the diastolic of a blood pressure; zero otherwise.
	Diastolic Range
	// Components are the LOINC codes of a panel's parts (systolic, diastolic).
	Components []Code
	// Percent says the value is a percentage: one at or below 1 is taken
	// for a fraction (0.97 for 97 %, as some phone health APIs report it)
	// and refused with a hint, never stored as 0.97 %.
	Percent bool
	// MDC is the type's IEEE 11073-10101 code (zero when it has none), and
	// ComponentMDC its panel parts', in the order of Components. A Bluetooth
	// device's characteristic implies them; FHIR carries them beside LOINC.
	MDC          Code
	ComponentMDC []Code
	// Display is how people are shown the type.
	Display Display
}

// Display is how the UI shows a vital: every view takes it from the
// catalog (GET /api/v1/vitals), none keeps a copy.
type Display struct {
	// Label names the vital for people ("Heart rate").
	Label string
	// Symbol is the unit as people write it ("°C" for Cel).
	Symbol string
	// Digits is how many decimals a value is shown with.
	Digits int
	// StaleAfter is when the latest value is shown as old: a few of the
	// devices' usual intervals.
	StaleAfter time.Duration
	// Order places the vital in lists; Tile puts it on dashboard tiles.
	Order int
	Tile  bool
}

// IsPanel reports whether a reading of this type has two values.
func (s *Spec) IsPanel() bool { return len(s.Components) > 0 }

// Unit returns the accepted unit with the given UCUM code.
func (s *Spec) Unit(ucum string) (Unit, bool) {
	for _, u := range s.Units {
		if u.UCUM == ucum {
			return u, true
		}
	}
	return Unit{}, false
}

func same(v float64) float64 { return v }

// mmolPerLGlucose is the mg/dL per mmol/L of glucose (molar mass 180.16 g/mol).
const mmolPerLGlucose = 18.016

var catalog = map[Type]*Spec{
	HeartRate: {
		Type:      HeartRate,
		Codes:     []Code{{LOINC, "8867-4", "Heart rate"}},
		MDC:       Code{MDC, "149514", "MDC_PULS_RATE"},
		Canonical: "/min",
		Units:     []Unit{{"/min", same}},
		Plausible: Range{0, 350},
		Display:   Display{Label: "Heart rate", Symbol: "/min", Digits: 0, StaleAfter: 10 * time.Minute, Order: 1, Tile: true},
	},
	RespiratoryRate: {
		Type:      RespiratoryRate,
		Codes:     []Code{{LOINC, "9279-1", "Respiratory rate"}},
		MDC:       Code{MDC, "151562", "MDC_RESP_RATE"},
		Canonical: "/min",
		Units:     []Unit{{"/min", same}},
		Plausible: Range{0, 120},
		Display:   Display{Label: "Respiration", Symbol: "/min", Digits: 0, StaleAfter: 10 * time.Minute, Order: 3, Tile: true},
	},
	SpO2: {
		Type: SpO2,
		Codes: []Code{
			{LOINC, "2708-6", "Oxygen saturation in Arterial blood"},
			{LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"},
		},
		MDC:       Code{MDC, "150456", "MDC_PULS_OXIM_SAT_O2"},
		Canonical: "%",
		Units:     []Unit{{"%", same}},
		Plausible: Range{0, 100},
		Percent:   true,
		Display:   Display{Label: "SpO2", Symbol: "%", Digits: 0, StaleAfter: 10 * time.Minute, Order: 2, Tile: true},
	},
	BodyTemperature: {
		Type:      BodyTemperature,
		Codes:     []Code{{LOINC, "8310-5", "Body temperature"}},
		MDC:       Code{MDC, "150364", "MDC_TEMP_BODY"},
		Canonical: "Cel",
		Units: []Unit{
			{"Cel", same},
			{"[degF]", func(f float64) float64 { return (f - 32) * 5 / 9 }},
		},
		Plausible: Range{10, 47},
		Display:   Display{Label: "Temperature", Symbol: "°C", Digits: 1, StaleAfter: 14 * time.Hour, Order: 4, Tile: true},
	},
	BloodPressure: {
		Type:         BloodPressure,
		Codes:        []Code{{LOINC, "85354-9", "Blood pressure panel with all children optional"}},
		MDC:          Code{MDC, "150020", "MDC_PRESS_BLD_NONINV"},
		ComponentMDC: []Code{{MDC, "150021", "MDC_PRESS_BLD_NONINV_SYS"}, {MDC, "150022", "MDC_PRESS_BLD_NONINV_DIA"}},
		Canonical:    "mm[Hg]",
		Units:        []Unit{{"mm[Hg]", same}},
		Plausible:    Range{20, 320},
		Diastolic:    Range{5, 250},
		Components: []Code{
			{LOINC, "8480-6", "Systolic blood pressure"},
			{LOINC, "8462-4", "Diastolic blood pressure"},
		},
		Display: Display{Label: "Blood pressure", Symbol: "mmHg", Digits: 0, StaleAfter: 14 * time.Hour, Order: 5, Tile: true},
	},
	BodyWeight: {
		Type:      BodyWeight,
		Codes:     []Code{{LOINC, "29463-7", "Body weight"}},
		MDC:       Code{MDC, "188736", "MDC_MASS_BODY_ACTUAL"},
		Canonical: "kg",
		Units: []Unit{
			{"kg", same},
			{"g", func(g float64) float64 { return g / 1000 }},
			{"[lb_av]", func(lb float64) float64 { return lb * 0.45359237 }},
		},
		Plausible: Range{0.2, 650},
		Display:   Display{Label: "Weight", Symbol: "kg", Digits: 1, StaleAfter: 36 * time.Hour, Order: 7, Tile: false},
	},
	BloodGlucose: {
		Type: BloodGlucose,
		Codes: []Code{
			{LOINC, "2339-0", "Glucose [Mass/volume] in Blood"},
		},
		MDC:       Code{MDC, "160020", "MDC_CONC_GLU_GEN"},
		Canonical: "mg/dL",
		Units: []Unit{
			{"mg/dL", same},
			{"mmol/L", func(m float64) float64 { return m * mmolPerLGlucose }},
		},
		Plausible: Range{5, 3000},
		Display:   Display{Label: "Glucose", Symbol: "mg/dL", Digits: 0, StaleAfter: 20 * time.Minute, Order: 6, Tile: true},
	},
	Steps: {
		Type:      Steps,
		Codes:     []Code{{LOINC, "55423-8", "Number of steps in unspecified time Pedometer"}},
		Canonical: "{steps}",
		Units:     []Unit{{"{steps}", same}},
		Plausible: Range{0, 1000}, // per minute
		Display:   Display{Label: "Steps", Symbol: "/min", Digits: 0, StaleAfter: 10 * time.Minute, Order: 8, Tile: false},
	},
}

// Lookup returns the spec of a type.
func Lookup(t Type) (*Spec, bool) {
	s, ok := catalog[t]
	return s, ok
}

// LookupBytes is Lookup for a type name still in a byte slice; it does not
// allocate.
func LookupBytes(b []byte) (*Spec, bool) {
	s, ok := byName[string(b)]
	return s, ok
}

var byName = func() map[string]*Spec {
	m := make(map[string]*Spec, len(catalog))
	for t, s := range catalog {
		m[string(t)] = s
	}
	return m
}()

// Types lists every known type, sorted by name.
func Types() []Type {
	ts := make([]Type, 0, len(catalog))
	for t := range catalog {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// Catalog lists every type's spec in display order.
func Catalog() []*Spec {
	out := make([]*Spec, 0, len(catalog))
	for _, s := range catalog {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Display.Order < out[j].Display.Order })
	return out
}
