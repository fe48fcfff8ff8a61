package simulators

import (
	"github.com/vitalwire/vitalwire/vitals"

	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Profile names a kind of simulated patient.
type Profile string

// Profiles. Their baselines, and the ranges their values stay in, are in
// the profiles table below and in docs/SIMULATOR.md.
const (
	Healthy      Profile = "healthy"
	COPD         Profile = "copd"          // on oxygen, SpO2 target 88-92 %, NEWS2 scale 2
	HeartFailure Profile = "heart_failure" // low-normal pressure, weight creeping up
	Type1        Profile = "type1_diabetes"
	PostOp       Profile = "post_operative" // mild fever and tachycardia
)

// Vitals is a patient's physiological state at an instant, in canonical
// units. The ground truth is this state; devices measure it with noise.
type Vitals struct {
	HeartRate   float64 `json:"heart_rate"`
	RespRate    float64 `json:"respiratory_rate"`
	SpO2        float64 `json:"spo2"`
	Temperature float64 `json:"body_temperature"`
	Systolic    float64 `json:"systolic"`
	Diastolic   float64 `json:"diastolic"`
	Glucose     float64 `json:"blood_glucose"`
	Weight      float64 `json:"body_weight"`
	Steps       float64 `json:"steps_per_min"`
}

// spread is a population mean and the standard deviation between people.
type spread struct{ mean, sd float64 }

// profileSpec holds a profile's population baselines and its limits.
type profileSpec struct {
	hr, rr, spo2, temp, sys, dia, glucose, weight spread
	// mealRise is the glucose rise (mg/dL) after a meal.
	mealRise float64
	// glucoseSwing is the slow glucose variability (mg/dL).
	glucoseSwing float64
	// spo2Low and spo2High bound the saturation the profile's lungs reach.
	spo2Low, spo2High float64
	// hrLow is the lowest heart rate of the profile's ordinary days (a
	// healthy sleeper's 45/min); scripted events may go below it.
	hrLow float64
	// weightPerDay is a drift (fluid retention in heart failure).
	weightPerDay float64
	onOxygen     bool
	scale2       bool
}

var profiles = map[Profile]profileSpec{
	Healthy: {hr: spread{68, 7}, rr: spread{14, 1.5}, spo2: spread{97.5, 0.7}, temp: spread{36.7, 0.2},
		sys: spread{118, 9}, dia: spread{76, 6}, glucose: spread{92, 6}, weight: spread{75, 12},
		mealRise: 35, glucoseSwing: 6, spo2Low: 94, spo2High: 100, hrLow: 45},
	COPD: {hr: spread{86, 6}, rr: spread{20, 1.5}, spo2: spread{90, 0.5}, temp: spread{36.7, 0.2},
		sys: spread{128, 9}, dia: spread{80, 6}, glucose: spread{100, 8}, weight: spread{70, 10},
		mealRise: 35, glucoseSwing: 6, spo2Low: 86.5, spo2High: 93.5, onOxygen: true, scale2: true},
	HeartFailure: {hr: spread{78, 7}, rr: spread{17, 1.5}, spo2: spread{95, 0.8}, temp: spread{36.6, 0.2},
		sys: spread{106, 7}, dia: spread{68, 5}, glucose: spread{104, 8}, weight: spread{86, 12},
		mealRise: 35, glucoseSwing: 6, spo2Low: 91, spo2High: 99, weightPerDay: 0.15},
	Type1: {hr: spread{72, 6}, rr: spread{14, 1.5}, spo2: spread{97.5, 0.7}, temp: spread{36.7, 0.2},
		sys: spread{118, 8}, dia: spread{76, 6}, glucose: spread{140, 15}, weight: spread{72, 12},
		mealRise: 100, glucoseSwing: 25, spo2Low: 94, spo2High: 100},
	PostOp: {hr: spread{88, 5}, rr: spread{17, 1.2}, spo2: spread{95.5, 0.6}, temp: spread{37.3, 0.15},
		sys: spread{126, 8}, dia: spread{80, 5}, glucose: spread{115, 8}, weight: spread{78, 12},
		mealRise: 35, glucoseSwing: 8, spo2Low: 92, spo2High: 99.5},
}

// Profiles lists the profile names.
func Profiles() []Profile { return []Profile{Healthy, COPD, HeartFailure, Type1, PostOp} }

// OnOxygen reports whether the profile breathes supplemental oxygen.
func (p Profile) OnOxygen() bool { return profiles[p].onOxygen }

// Scale2 reports whether the profile is scored on NEWS2 SpO2 scale 2.
func (p Profile) Scale2() bool { return profiles[p].scale2 }

func (p Profile) valid() error {
	if _, ok := profiles[p]; !ok {
		return fmt.Errorf("unknown profile %q (healthy, copd, heart_failure, type1_diabetes, post_operative)", p)
	}
	return nil
}

// person is one simulated patient's physiology. It advances in fixed steps
// from its own random stream, so its path depends only on the seed, the
// patient id and the scenario, never on the wall clock.
type person struct {
	spec  profileSpec
	base  Vitals
	start time.Time
	rng   *rand.Rand
	// slow physiological variability (minutes to hours), per vital
	drift [7]float64
	// activity bout
	intensity float64
	boutEnd   time.Time
	effects   []effect
	state     Vitals
	// seen is, per vital, the true value at the last instant one of the
	// person's devices measured it: what monitoring can know.
	seen map[vitals.Type]seenValue
	hist history
}

type seenValue struct {
	at time.Time
	v  float64
}

// observe notes that a device measured typ at t (the true value, before
// the sensor's noise).
func (p *person) observe(typ vitals.Type, t time.Time) {
	if p.seen == nil {
		p.seen = map[vitals.Type]seenValue{}
	}
	s := p.state
	v := map[vitals.Type]float64{vitals.HeartRate: s.HeartRate, vitals.RespiratoryRate: s.RespRate, vitals.SpO2: s.SpO2,
		vitals.BodyTemperature: s.Temperature, vitals.BloodPressure: s.Systolic, vitals.BloodGlucose: s.Glucose,
		vitals.BodyWeight: s.Weight, vitals.Steps: s.Steps}[typ]
	p.seen[typ] = seenValue{t, v}
	p.hist.observe(typ, t, s)
}

// observed returns the state as monitoring can know it at t: each vital
// at its last measurement (NaN if never measured, or measured more than
// maxAge ago when maxAge > 0).
func (p *person) observed(t time.Time, maxAge time.Duration) Vitals {
	get := func(typ vitals.Type) float64 {
		sv, ok := p.seen[typ]
		if !ok || (maxAge > 0 && t.Sub(sv.at) > maxAge) {
			return math.NaN()
		}
		return sv.v
	}
	return Vitals{HeartRate: get(vitals.HeartRate), RespRate: get(vitals.RespiratoryRate), SpO2: get(vitals.SpO2),
		Temperature: get(vitals.BodyTemperature), Systolic: get(vitals.BloodPressure), Glucose: get(vitals.BloodGlucose),
		Weight: get(vitals.BodyWeight), Steps: get(vitals.Steps)}
}

func newPerson(profile Profile, start time.Time, rng *rand.Rand) *person {
	spec := profiles[profile]
	draw := func(s spread) float64 { return s.mean + s.sd*rng.NormFloat64() }
	p := &person{spec: spec, start: start, rng: rng}
	p.base = Vitals{
		HeartRate: draw(spec.hr), RespRate: draw(spec.rr), SpO2: math.Min(draw(spec.spo2), spec.spo2High-0.5),
		Temperature: draw(spec.temp), Systolic: draw(spec.sys), Diastolic: draw(spec.dia),
		Glucose: draw(spec.glucose), Weight: math.Max(35, draw(spec.weight)),
	}
	p.base.Diastolic = math.Min(p.base.Diastolic, p.base.Systolic-30)
	return p
}

// driftSD is each vital's slow variability; driftKeep is how much of it a
// 5-second step keeps (a time constant of about 20 minutes).
var driftSD = [7]float64{3, 0.8, 0.4, 0.08, 4, 3, 0}

const driftKeep = 0.9958

func asleep(t time.Time) bool { h := t.Hour(); return h >= 23 || h < 7 }

// circadian is +1 at 16:00 and -1 at 04:00.
func circadian(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return math.Cos(2 * math.Pi * (h - 16) / 24)
}

// mealCurve is a glucose excursion shape: 0 at the meal, 1 at 45 minutes,
// decaying over the next two hours.
func mealCurve(since time.Duration) float64 {
	if since < 0 {
		return 0
	}
	x := since.Minutes() / 45
	return x * math.Exp(1-x)
}

var meals = []time.Duration{7*time.Hour + 30*time.Minute, 12*time.Hour + 30*time.Minute, 18*time.Hour + 30*time.Minute}

// step advances the person to t (one simulation step after the last).
func (p *person) step(t time.Time, dt time.Duration) {
	r := p.rng
	for i := range p.drift {
		p.drift[i] = driftKeep*p.drift[i] + driftSD[i]*math.Sqrt(1-driftKeep*driftKeep)*r.NormFloat64()
	}
	// Activity bouts while awake: about one every 45 minutes, 5-30 minutes
	// long.
	if !t.Before(p.boutEnd) {
		p.intensity = 0
		if !asleep(t) && r.Float64() < dt.Minutes()/45 {
			p.intensity = 0.2 + 0.8*r.Float64()
			p.boutEnd = t.Add(time.Duration(5+25*r.Float64()) * time.Minute)
		}
	}
	c := circadian(t)
	a := p.intensity
	s := p.spec
	v := Vitals{
		HeartRate:   p.base.HeartRate + 6*c + 30*a + p.drift[0],
		RespRate:    p.base.RespRate + 0.8*c + 4*a + p.drift[1],
		SpO2:        p.base.SpO2 + p.drift[2],
		Temperature: p.base.Temperature + 0.3*c + 0.2*a + p.drift[3],
		Systolic:    p.base.Systolic + 6*c + 18*a + p.drift[4],
		Diastolic:   p.base.Diastolic + 3*c + 5*a + p.drift[5],
		Weight:      p.base.Weight + s.weightPerDay*t.Sub(p.start).Hours()/24,
	}
	if asleep(t) {
		v.HeartRate -= 4
		v.SpO2 -= 0.4
	}
	if a > 0 {
		v.Steps = math.Round(70 + 70*a)
	}
	day := t.Truncate(24 * time.Hour)
	g := p.base.Glucose + s.glucoseSwing*math.Sin(2*math.Pi*t.Sub(day).Hours()/5.3)
	for _, m := range meals {
		g += s.mealRise * mealCurve(t.Sub(day.Add(m)))
		// yesterday's dinner still counts after midnight
		g += s.mealRise * mealCurve(t.Sub(day.Add(m-24*time.Hour)))
	}
	v.Glucose = g
	v.SpO2 = clamp(v.SpO2, s.spo2Low, s.spo2High)
	v.HeartRate = math.Max(v.HeartRate, s.hrLow)
	for _, e := range p.effects {
		e.apply(t, &v)
	}
	v.SpO2 = math.Min(v.SpO2, 100)
	v.Diastolic = math.Min(v.Diastolic, v.Systolic-20)
	p.state = v
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// effect is a clinical event changing the physiology from At on.
type effect struct {
	kind     string
	at       time.Time
	ramp     time.Duration // time to full effect
	duration time.Duration // 0: lasts
}

// level is 0 before the event, rising over the ramp to 1, and back to 0
// over the same ramp after a finite duration.
func (e effect) level(t time.Time) float64 {
	d := t.Sub(e.at)
	if d < 0 {
		return 0
	}
	up := 1.0
	if e.ramp > 0 {
		up = math.Min(1, float64(d)/float64(e.ramp))
	}
	if e.duration > 0 && d > e.duration {
		if e.ramp == 0 {
			return 0
		}
		return math.Max(0, up-float64(d-e.duration)/float64(e.ramp))
	}
	return up
}

func (e effect) apply(t time.Time, v *Vitals) {
	f := e.level(t)
	if f == 0 {
		return
	}
	switch e.kind {
	case EventSepsis:
		v.HeartRate += 52 * f
		v.RespRate += 14 * f
		v.Temperature += 2.6 * f
		v.Systolic -= 42 * f
		v.Diastolic -= 22 * f
		v.SpO2 -= 4 * f
	case EventHypoxemia:
		v.SpO2 -= 10 * f
		v.RespRate += 3 * f
		v.HeartRate += 8 * f
	case EventHypoglycaemia:
		v.Glucose = v.Glucose*(1-f) + 42*f
		v.HeartRate += 14 * f
	case EventTachyarrhythmia:
		v.HeartRate = v.HeartRate*(1-f) + 158*f
	case EventHFDecompensation:
		// Fluid retained at a kilogram a day over the ramp, and the heart
		// and lungs working a little harder (small rises, under what the
		// resting-rate baselines call a change).
		v.Weight += e.ramp.Hours() / 24 * f
		v.HeartRate += 5 * f
		v.RespRate += 1.5 * f
	case EventInfection:
		// Before symptoms: the resting heart rate up by 15/min, a little
		// warmer, breathing barely faster (smartwatch studies of infection).
		v.HeartRate += 15 * f
		v.RespRate += f
		v.Temperature += 0.3 * f
	case EventHypertension:
		// Hypertensive urgency: the pressure held near 196/104 whatever
		// the patient does.
		v.Systolic = v.Systolic*(1-f) + 196*f
		v.Diastolic = v.Diastolic*(1-f) + 104*f
	}
}
