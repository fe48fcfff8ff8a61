// Package simulators is the simulated side of Vitalwire: patients'
// physiology, the devices they wear, scripted scenarios and their ground
// truth, the fleet runner that drives the devices over MQTT, provisioning
// over HTTP, and the load generator. It is a client of the server: it
// imports only vitals (the catalog, and vitals/news2 for the ground truth)
// and topic (the MQTT topic names a device publishes on).
package simulators

import (
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/vitalwire/vitalwire/vitals/news2"
)

// step is the simulation's time step: the finest cadence of any device.
const step = 5 * time.Second

// Device is one simulated device with its credentials.
type Device struct {
	ID      string `json:"id"`
	Secret  string `json:"secret,omitempty"`
	Kind    string `json:"kind"`
	Patient string `json:"patient"`
}

// DeviceID names a simulated patient's device.
func DeviceID(patient, kind string) string { return patient + "-" + kind }

// Emission is a message a device sends at simulated time At.
type Emission struct {
	At       time.Time
	Device   string
	Topic    string
	Payload  []byte
	Retained bool
	Readings int // readings in the payload (0 for status)
}

// Simulation is a deterministic fleet: the same scenario and seed give the
// same emissions and ground truth, byte for byte, whatever the wall clock.
type Simulation struct {
	sc       *Scenario
	now      time.Time
	patients []*patientSim
	devices  []*deviceSim
	truth    *json.Encoder
}

type patientSim struct {
	spec    PatientSpec
	person  *person
	devices []*deviceSim
	conds   []*condition
}

// NewSimulation builds the fleet of a scenario. Ground truth, if truth is
// not nil, is written to it as JSON lines.
func NewSimulation(sc *Scenario, truth io.Writer) *Simulation {
	s := &Simulation{sc: sc, now: sc.Start}
	if truth != nil {
		s.truth = json.NewEncoder(truth)
	}
	for _, ps := range sc.Patients {
		rng := rand.New(rand.NewPCG(sc.Seed, seedOf("patient", ps.ID)))
		p := newPerson(ps.Profile, sc.Start, rng)
		for _, e := range ps.Events {
			if containsStr(clinicalEvents, e.Kind) {
				p.effects = append(p.effects, effect{kind: e.Kind, at: sc.Start.Add(e.At), ramp: e.Ramp, duration: e.For})
			}
		}
		pt := &patientSim{spec: ps, person: p, conds: conditionsFor(ps.Profile, p)}
		for _, k := range ps.Devices {
			d := newDeviceSim(Device{ID: DeviceID(ps.ID, k), Kind: k, Patient: ps.ID}, p, sc, ps.Events)
			pt.devices = append(pt.devices, d)
			s.devices = append(s.devices, d)
		}
		s.patients = append(s.patients, pt)
	}
	return s
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Now is the simulated time reached so far.
func (s *Simulation) Now() time.Time { return s.now }

// End is when the scenario ends.
func (s *Simulation) End() time.Time { return s.sc.Start.Add(s.sc.Duration) }

// Devices lists the simulated devices, in a fixed order.
func (s *Simulation) Devices() []Device {
	out := make([]Device, len(s.devices))
	for i, d := range s.devices {
		out[i] = d.Device
	}
	return out
}

// Advance runs the simulation up to to (not past the scenario's end),
// calling emit for each message in time order, devices in a fixed order
// within a step.
func (s *Simulation) Advance(to time.Time, emit func(Emission)) error {
	if end := s.End(); to.After(end) {
		to = end
	}
	for t := s.now.Add(step); !t.After(to); t = t.Add(step) {
		for _, p := range s.patients {
			p.person.step(t, step)
			for _, d := range p.devices {
				d.step(t, emit)
			}
			if err := s.writeTruth(p, t); err != nil {
				return err
			}
		}
		s.now = t
	}
	return nil
}

// TruthRow is one line of the ground truth: a patient's true state at a
// whole minute, its NEWS2 from that state, and the conditions that hold.
type TruthRow struct {
	Time       time.Time `json:"t"`
	Patient    string    `json:"patient"`
	Profile    Profile   `json:"profile"`
	Vitals     Vitals    `json:"vitals"`
	NEWS2      int       `json:"news2"`
	Band       string    `json:"news2_band"`
	Conditions []string  `json:"conditions"`
	// Possible are the conditions whose test holds or might: the true
	// values are within the sensors' noise of the level (no duration).
	Possible []string `json:"possible,omitempty"`
}

// TruthEvent marks the instant a condition starts or stops holding, and
// the instant within an episode it becomes evident: a measurement shows it
// beyond the sensors' noise, for the condition's duration.
type TruthEvent struct {
	Time      time.Time `json:"t"`
	Patient   string    `json:"patient"`
	Condition string    `json:"condition"`
	State     string    `json:"state"` // start, evident or end
}

func (s *Simulation) writeTruth(p *patientSim, t time.Time) error {
	v := p.person.state
	// The conditions are those monitoring can know of: each vital's true
	// value at its last measurement, and NEWS2 from the parameters measured
	// within the last hour (as a clinician scores from the latest
	// observations).
	minute := t.Truncate(time.Minute) == t
	j := judged{at: t, seen: p.person.observed(t, 0), params: observedParams(p.spec.Profile, p.person.observed(t, time.Hour))}
	j.score = news2.Compute(j.params)
	var holding, possible []string
	for _, c := range p.conds {
		if c.observe != nil {
			c.observe(t)
		}
		changed, evident := c.update(t, &j, p.person.measuredAt(t, c.from))
		if changed && s.truth != nil {
			state, at := "end", t
			if c.holds {
				state, at = "start", c.heldFrom
			}
			if err := s.truth.Encode(TruthEvent{Time: at, Patient: p.spec.ID, Condition: c.name, State: state}); err != nil {
				return err
			}
		}
		if evident && s.truth != nil {
			if err := s.truth.Encode(TruthEvent{Time: t, Patient: p.spec.ID, Condition: c.name, State: "evident"}); err != nil {
				return err
			}
		}
		if c.holds {
			holding = append(holding, c.name)
		}
		if minute && c.maybe(&j) {
			possible = append(possible, c.name)
		}
	}
	for _, d := range p.devices {
		if d.removedAt(t) {
			holding = append(holding, "no_data:"+d.Kind)
		}
		if off, _ := d.offlineAt(t); off {
			holding = append(holding, "offline:"+d.Kind)
		}
	}
	if s.truth == nil || !minute {
		return nil
	}
	if holding == nil {
		holding = []string{}
	}
	return s.truth.Encode(TruthRow{Time: t, Patient: p.spec.ID, Profile: p.spec.Profile, Vitals: round2(v),
		NEWS2: j.score.Total, Band: string(j.score.Band), Conditions: holding, Possible: possible})
}

func round2(v Vitals) Vitals {
	r := func(x float64) float64 { return math.Round(x*100) / 100 }
	return Vitals{r(v.HeartRate), r(v.RespRate), r(v.SpO2), r(v.Temperature), r(v.Systolic), r(v.Diastolic), r(v.Glucose), r(v.Weight), r(v.Steps)}
}

// newsParams builds NEWS2 inputs from a state: the patient is alert, and
// breathes oxygen per the profile.
func newsParams(p Profile, v Vitals) news2.Params {
	scale := news2.Scale1
	if p.Scale2() {
		scale = news2.Scale2
	}
	return news2.Params{RespiratoryRate: news2.F(v.RespRate), SpO2: news2.F(v.SpO2), Scale: scale, OnOxygen: p.OnOxygen(),
		Systolic: news2.F(v.Systolic), Pulse: news2.F(v.HeartRate), Consciousness: news2.Alert, Temperature: news2.F(v.Temperature)}
}

// observedParams builds NEWS2 inputs from observed values; a NaN (not
// measured within the hour) is a missing parameter.
func observedParams(p Profile, v Vitals) news2.Params {
	f := func(x float64) *float64 {
		if math.IsNaN(x) {
			return nil
		}
		return news2.F(x)
	}
	ps := newsParams(p, v)
	ps.RespiratoryRate, ps.SpO2, ps.Systolic, ps.Pulse, ps.Temperature = f(v.RespRate), f(v.SpO2), f(v.Systolic), f(v.HeartRate), f(v.Temperature)
	return ps
}

// NEWS2 scores a state as the ground truth does.
func NEWS2(p Profile, v Vitals) news2.Score { return news2.Compute(newsParams(p, v)) }
