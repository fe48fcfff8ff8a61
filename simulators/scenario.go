package simulators

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Event kinds a scenario can script.
const (
	// Clinical events: they change the patient's physiology.
	EventSepsis          = "sepsis"          // heart rate and respiration up, fever, pressure down, over `ramp`
	EventHypoxemia       = "hypoxemia"       // SpO2 down about 10 points for `for`
	EventHypoglycaemia   = "hypoglycaemia"   // glucose to about 42 mg/dL for `for`
	EventTachyarrhythmia = "tachyarrhythmia" // heart rate about 158/min for `for`
	// Clinical events over days (see physiology.go).
	EventHFDecompensation = "hf_decompensation" // weight +1 kg a day over `ramp`, resting heart rate +5, respiration +1.5
	EventInfection        = "infection"         // heart rate +15 day and night, respiration +1, temperature +0.3, over `ramp`
	EventHypertension     = "hypertension"      // systolic to about 196, diastolic to 104, for `for`
	// Device faults: they change what a device sends, not the patient.
	EventRemoval   = "device_removal" // the device sends no readings (fell off the wrist)
	EventOffline   = "offline"        // the device buffers, then uploads late (`order`: in_order or shuffled)
	EventClockSkew = "clock_skew"     // the device's timestamps are off by `offset`
	EventDuplicate = "duplicates"     // each message is sent again with `probability`
	EventWrongUnit = "wrong_units"    // a reading carries a unit not accepted for its type, with `probability`
	EventGarbage   = "garbage"        // a message is replaced by garbage with `probability`
)

var clinicalEvents = []string{EventSepsis, EventHypoxemia, EventHypoglycaemia, EventTachyarrhythmia,
	EventHFDecompensation, EventInfection, EventHypertension}
var deviceEvents = []string{EventRemoval, EventOffline, EventClockSkew, EventDuplicate, EventWrongUnit, EventGarbage}

// Scenario scripts a simulated fleet: patients, their devices, and what
// happens to them. Times of events are offsets from Start.
type Scenario struct {
	Start    time.Time     `yaml:"start"`
	Duration time.Duration `yaml:"duration"`
	Seed     uint64        `yaml:"seed"`
	// Locale "us" sends temperatures in [degF], weights in [lb_av] and
	// glucose in mg/dL; anything else Celsius, kg and mmol/L.
	Locale string `yaml:"locale"`
	// UploadEvery overrides how often devices that batch (watch, ring,
	// patch) upload; 0 keeps each kind's own interval.
	UploadEvery time.Duration `yaml:"upload_every"`
	Patients    []PatientSpec `yaml:"patients"`
	// Generate adds this many patients, numbered after Patients, with
	// profiles in turn and the default devices.
	Generate int    `yaml:"generate"`
	Prefix   string `yaml:"prefix"` // ids of generated patients (default "sim-patient")
}

// PatientSpec is one scripted patient.
type PatientSpec struct {
	ID      string   `yaml:"id"`
	Profile Profile  `yaml:"profile"`
	Devices []string `yaml:"devices"` // kinds; default watch, patch, cuff
	Events  []Event  `yaml:"events"`
}

// Event is something that happens at an offset from the scenario start.
type Event struct {
	Kind        string        `yaml:"kind"`
	At          time.Duration `yaml:"at"`
	For         time.Duration `yaml:"for"`  // 0: until the end
	Ramp        time.Duration `yaml:"ramp"` // time to full effect (clinical events)
	Device      string        `yaml:"device"`
	Order       string        `yaml:"order"`       // offline upload: in_order (default) or shuffled
	Offset      time.Duration `yaml:"offset"`      // clock_skew
	Probability float64       `yaml:"probability"` // duplicates, wrong_units, garbage
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return ParseScenario(b)
}

// ParseScenario parses and checks a scenario; errors name the patient and
// the field.
func ParseScenario(b []byte) (*Scenario, error) {
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if err := sc.Normalize(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Normalize fills defaults, expands Generate into patients and checks the
// scenario; errors name the patient and the field.
func (sc *Scenario) Normalize() error {
	if sc.Start.IsZero() {
		sc.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	sc.Start = sc.Start.UTC()
	if sc.Duration <= 0 {
		sc.Duration = 24 * time.Hour
	}
	if sc.Prefix == "" {
		sc.Prefix = "sim-patient"
	}
	var errs []error
	seen := map[string]bool{}
	for i := 0; i < sc.Generate; i++ {
		n := len(sc.Patients) + 1
		ps := Profiles()
		prof := ps[(n-1)%len(ps)]
		sc.Patients = append(sc.Patients, PatientSpec{ID: fmt.Sprintf("%s-%03d", sc.Prefix, n), Profile: prof, Devices: DefaultDevices(prof)})
	}
	sc.Generate = 0
	for i := range sc.Patients {
		p := &sc.Patients[i]
		where := fmt.Sprintf("patients[%d]", i)
		if p.ID == "" {
			errs = append(errs, fmt.Errorf("%s.id: required", where))
		} else if seen[p.ID] {
			errs = append(errs, fmt.Errorf("%s.id: %q appears twice", where, p.ID))
		}
		seen[p.ID] = true
		if p.Profile == "" {
			p.Profile = Healthy
		}
		if err := p.Profile.valid(); err != nil {
			errs = append(errs, fmt.Errorf("%s.profile: %w", where, err))
		}
		if len(p.Devices) == 0 {
			p.Devices = []string{Watch, Patch, Cuff}
		}
		for j, k := range p.Devices {
			if _, ok := kinds[k]; !ok {
				errs = append(errs, fmt.Errorf("%s.devices[%d]: unknown kind %q", where, j, k))
			}
		}
		for j, e := range p.Events {
			ew := fmt.Sprintf("%s.events[%d]", where, j)
			switch {
			case slices.Contains(clinicalEvents, e.Kind):
			case slices.Contains(deviceEvents, e.Kind):
				if !slices.Contains(p.Devices, e.Device) {
					errs = append(errs, fmt.Errorf("%s.device: %q is not one of the patient's devices", ew, e.Device))
				}
			default:
				errs = append(errs, fmt.Errorf("%s.kind: unknown event %q", ew, e.Kind))
			}
			if e.At < 0 || e.For < 0 || e.Ramp < 0 {
				errs = append(errs, fmt.Errorf("%s: at, for and ramp must not be negative", ew))
			}
			if e.Probability < 0 || e.Probability > 1 {
				errs = append(errs, fmt.Errorf("%s.probability: must be 0-1", ew))
			}
			if e.Kind == EventHFDecompensation && (e.Ramp < 24*time.Hour || e.Ramp > 14*24*time.Hour) {
				errs = append(errs, fmt.Errorf("%s.ramp: the days of weight gain, 24h to 336h", ew))
			}
			if e.Kind == EventOffline && e.Order != "" && e.Order != "in_order" && e.Order != "shuffled" {
				errs = append(errs, fmt.Errorf("%s.order: in_order or shuffled", ew))
			}
			if e.Kind == EventClockSkew && (e.Offset > 4*time.Minute || e.Offset < -time.Hour) {
				errs = append(errs, fmt.Errorf("%s.offset: between -1h and 4m (the server refuses times 5 min ahead)", ew))
			}
		}
	}
	return errors.Join(errs...)
}

// DefaultDevices is what a patient of a profile wears when the scenario
// does not say.
func DefaultDevices(p Profile) []string {
	switch p {
	case COPD:
		return []string{Watch, Ring, Patch, Cuff}
	case HeartFailure:
		return []string{Watch, Patch, Cuff, Scale}
	case Type1:
		return []string{Watch, CGM, Cuff}
	case PostOp:
		return []string{Patch, Watch, Thermometer, Cuff}
	}
	return []string{Watch, Patch, Cuff}
}

// DemoScenario is what serve --dev runs: patients of every profile in real
// time from start, and within the first minutes a tachyarrhythmia, a
// desaturation, a sepsis onset and a patch falling off, so that a person
// watching the dashboard sees care-worthy changes at once.
func DemoScenario(patients int, start time.Time, seed uint64) *Scenario {
	sc := &Scenario{Start: start, Duration: 365 * 24 * time.Hour, Seed: seed, UploadEvery: 5 * time.Second, Generate: patients}
	if err := sc.Normalize(); err != nil {
		panic(err) // generated scenarios are valid by construction
	}
	script := [][]Event{
		nil,
		{{Kind: EventTachyarrhythmia, At: 2 * time.Minute, For: 10 * time.Minute}},
		{{Kind: EventHypoxemia, At: 3 * time.Minute, For: 8 * time.Minute, Ramp: time.Minute}},
		{{Kind: EventSepsis, At: time.Minute, Ramp: 8 * time.Minute}},
		{{Kind: EventRemoval, Device: Patch, At: 5 * time.Minute, For: 10 * time.Minute}},
	}
	for i := range sc.Patients {
		if i < len(script) {
			sc.Patients[i].Events = script[i]
		}
	}
	// The septic patient wears a chest patch too: respiration and
	// temperature are what make a sepsis visible to NEWS2 early.
	if len(sc.Patients) > 3 && !slices.Contains(sc.Patients[3].Devices, Patch) {
		sc.Patients[3].Devices = append(sc.Patients[3].Devices, Patch)
	}
	return sc
}

// DeviceIDs lists the ids of every device in the scenario, in order.
func (sc *Scenario) DeviceIDs() []Device {
	var out []Device
	for _, p := range sc.Patients {
		for _, k := range p.Devices {
			out = append(out, Device{ID: DeviceID(p.ID, k), Kind: k, Patient: p.ID})
		}
	}
	return out
}
