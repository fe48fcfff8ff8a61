package simulators

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vitalwire/vitalwire/topic"
	"github.com/vitalwire/vitalwire/vitals"
)

// Device kinds.
const (
	Watch       = "watch"       // heart rate every 5 s, SpO2 every 2 min, steps
	Ring        = "ring"        // SpO2 every minute through the night, heart rate
	Patch       = "patch"       // chest patch: heart rate, respiration, temperature
	Cuff        = "cuff"        // blood pressure three times a day
	Thermometer = "thermometer" // twice a day
	CGM         = "cgm"         // glucose every 5 minutes
	Scale       = "scale"       // weight once a day
)

// Kinds lists the device kinds a default patient wears.
var Kinds = []string{Watch, Patch, Cuff}

// measure is one thing a device measures: either every Every (within the
// hours of Night when set), or at the given times of day.
type measure struct {
	typ     vitals.Type
	every   time.Duration
	night   bool
	daily   []time.Duration // times of day
	jitter  time.Duration   // random delay of a daily measurement
	reading func(v Vitals, d *deviceSim) (float64, float64)
}

type kindSpec struct {
	measures []measure
	upload   time.Duration // 0: as soon as measured
	drain    float64       // battery fraction per hour
	wrist    bool          // motion artifacts
}

func noisy(sd float64) func(v float64, d *deviceSim) float64 {
	return func(v float64, d *deviceSim) float64 { return v + sd*d.rng.NormFloat64() }
}

var (
	hrNoise   = noisy(1.5)
	rrNoise   = noisy(0.8)
	tempNoise = noisy(0.08)
)

func heartRate(v Vitals, d *deviceSim) (float64, float64) {
	x := hrNoise(v.HeartRate, d)
	if d.spec.wrist && v.Steps > 0 && d.rng.Float64() < 0.03 {
		x += 20 + 20*d.rng.Float64() // motion artifact: cadence locking
	}
	return math.Round(x), 0
}

func spo2(v Vitals, d *deviceSim) (float64, float64) {
	x := v.SpO2 + 0.6*d.rng.NormFloat64()
	if d.spec.wrist && d.rng.Float64() < 0.01 {
		x -= 4 + 8*d.rng.Float64() // motion artifact: a brief false desaturation
	}
	return math.Round(math.Min(100, x)), 0
}

var kinds = map[string]kindSpec{
	Watch: {upload: time.Minute, drain: 0.02, wrist: true, measures: []measure{
		{typ: vitals.HeartRate, every: 5 * time.Second, reading: heartRate},
		{typ: vitals.SpO2, every: 2 * time.Minute, reading: spo2},
		{typ: vitals.Steps, every: time.Minute, reading: func(v Vitals, d *deviceSim) (float64, float64) {
			return math.Max(0, math.Round(v.Steps+3*d.rng.NormFloat64())), 0
		}},
	}},
	Ring: {upload: 5 * time.Minute, drain: 0.01, wrist: true, measures: []measure{
		{typ: vitals.SpO2, every: time.Minute, night: true, reading: spo2},
		{typ: vitals.HeartRate, every: 5 * time.Minute, reading: heartRate},
	}},
	Patch: {upload: 30 * time.Second, drain: 0.008, measures: []measure{
		{typ: vitals.HeartRate, every: 15 * time.Second, reading: heartRate},
		{typ: vitals.RespiratoryRate, every: 15 * time.Second, reading: func(v Vitals, d *deviceSim) (float64, float64) {
			return math.Round(math.Max(4, rrNoise(v.RespRate, d))), 0
		}},
		{typ: vitals.BodyTemperature, every: 5 * time.Minute, reading: func(v Vitals, d *deviceSim) (float64, float64) {
			return math.Round(tempNoise(v.Temperature, d)*10) / 10, 0
		}},
	}},
	Cuff: {drain: 0.001, measures: []measure{
		{typ: vitals.BloodPressure, daily: []time.Duration{8 * time.Hour, 14 * time.Hour, 20 * time.Hour}, jitter: 10 * time.Minute,
			reading: func(v Vitals, d *deviceSim) (float64, float64) {
				return math.Round(v.Systolic + 4*d.rng.NormFloat64()), math.Round(v.Diastolic + 3*d.rng.NormFloat64())
			}},
	}},
	Thermometer: {drain: 0.0005, measures: []measure{
		{typ: vitals.BodyTemperature, daily: []time.Duration{8 * time.Hour, 20 * time.Hour}, jitter: 15 * time.Minute,
			reading: func(v Vitals, d *deviceSim) (float64, float64) {
				return math.Round(tempNoise(v.Temperature, d)*10) / 10, 0
			}},
	}},
	CGM: {drain: 0.005, measures: []measure{
		{typ: vitals.BloodGlucose, every: 5 * time.Minute, reading: func(v Vitals, d *deviceSim) (float64, float64) {
			return math.Max(40, v.Glucose*(1+0.06*d.rng.NormFloat64())), 0 // sensors read 40-400
		}},
	}},
	Scale: {drain: 0.0002, measures: []measure{
		{typ: vitals.BodyWeight, daily: []time.Duration{7*time.Hour + 30*time.Minute}, jitter: 20 * time.Minute,
			reading: func(v Vitals, d *deviceSim) (float64, float64) { return v.Weight + 0.2*d.rng.NormFloat64(), 0 }},
	}},
}

// sample is a measurement waiting for upload.
type sample struct {
	typ  vitals.Type
	at   time.Time
	v    float64
	v2   float64
	unit string
}

// window is a time interval [from, to); a zero to lasts forever.
type window struct{ from, to time.Time }

func (w window) has(t time.Time) bool { return !t.Before(w.from) && (w.to.IsZero() || t.Before(w.to)) }

type offlineWindow struct {
	window
	shuffled bool
}

// deviceSim is one simulated device: it samples its patient's physiology,
// buffers, and turns samples into the messages of the MQTT contract.
type deviceSim struct {
	Device
	spec     kindSpec
	person   *person
	rng      *rand.Rand
	locale   string
	upload   time.Duration
	next     []time.Time // per measure
	buffer   []sample
	nextUp   time.Time
	seq      int64
	battery  float64
	nextStat time.Time
	removed  []window
	offline  []offlineWindow
	skew     time.Duration
	dup      float64
	wrong    float64
	garbage  float64
	wasOff   bool
	// repeating: the next blood-pressure reading repeats a high one.
	repeating bool
	// shuffleBack: the late upload after the offline period is out of order.
	shuffleBack bool
}

func seedOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func newDeviceSim(d Device, p *person, sc *Scenario, events []Event) *deviceSim {
	spec := kinds[d.Kind]
	rng := rand.New(rand.NewPCG(sc.Seed, seedOf("device", d.ID)))
	ds := &deviceSim{Device: d, spec: spec, person: p, rng: rng, locale: sc.Locale,
		upload: spec.upload, battery: 0.55 + 0.45*rng.Float64()}
	if sc.UploadEvery > 0 && spec.upload > 0 {
		ds.upload = sc.UploadEvery
	}
	ds.nextUp = sc.Start.Add(time.Duration(rng.IntN(int(max(ds.upload, step)/step))) * step)
	for _, m := range spec.measures {
		if m.every > 0 {
			// A device-specific phase on the step grid, within the first
			// half minute so that every periodic vital shows up early.
			ds.next = append(ds.next, sc.Start.Add(time.Duration(rng.IntN(int(min(m.every, 30*time.Second)/step)))*step))
		} else {
			ds.next = append(ds.next, ds.nextDaily(m, sc.Start))
		}
	}
	for _, e := range events {
		if e.Device != d.Kind {
			continue
		}
		w := window{from: sc.Start.Add(e.At)}
		if e.For > 0 {
			w.to = w.from.Add(e.For)
		}
		switch e.Kind {
		case EventRemoval:
			ds.removed = append(ds.removed, w)
		case EventOffline:
			ds.offline = append(ds.offline, offlineWindow{w, e.Order == "shuffled"})
		case EventClockSkew:
			ds.skew = e.Offset
		case EventDuplicate:
			ds.dup = e.Probability
		case EventWrongUnit:
			ds.wrong = e.Probability
		case EventGarbage:
			ds.garbage = e.Probability
		}
	}
	return ds
}

// nextDaily is the next time of day of m at or after t, with jitter, on
// the step grid.
func (d *deviceSim) nextDaily(m measure, t time.Time) time.Time {
	day := t.Truncate(24 * time.Hour)
	for i := 0; i < 3; i++ {
		for _, tod := range m.daily {
			at := day.Add(tod).Add(time.Duration(d.rng.Float64() * float64(m.jitter))).Truncate(step)
			if !at.Before(t) {
				return at
			}
		}
		day = day.Add(24 * time.Hour)
	}
	return t.Add(24 * time.Hour)
}

// unit returns the unit the device reports a type in, and converts v.
func (d *deviceSim) unit(typ vitals.Type, v float64) (string, float64) {
	us := d.locale == "us"
	switch typ {
	case vitals.BodyTemperature:
		if us {
			return "[degF]", math.Round((v*9/5+32)*10) / 10
		}
	case vitals.BodyWeight:
		if us {
			return "[lb_av]", math.Round(v/0.45359237*10) / 10
		}
		return "kg", math.Round(v*10) / 10
	case vitals.BloodGlucose:
		if !us {
			return "mmol/L", math.Round(v/18.016*10) / 10
		}
		return "mg/dL", math.Round(v)
	}
	spec, _ := vitals.Lookup(typ)
	return spec.Canonical, v
}

var wrongUnits = map[vitals.Type]string{
	vitals.HeartRate: "Hz", vitals.RespiratoryRate: "Hz", vitals.SpO2: "1", vitals.BodyTemperature: "K",
	vitals.BloodPressure: "kPa", vitals.BodyWeight: "[oz_av]", vitals.BloodGlucose: "g/L", vitals.Steps: "/min",
}

func (d *deviceSim) removedAt(t time.Time) bool {
	for _, w := range d.removed {
		if w.has(t) {
			return true
		}
	}
	return false
}

func (d *deviceSim) offlineAt(t time.Time) (bool, bool) {
	for _, w := range d.offline {
		if w.has(t) {
			return true, w.shuffled
		}
	}
	return false, false
}

// maxPerMessage keeps a late upload's messages well under 64 KiB.
const maxPerMessage = 100

// step samples what is due at t and emits what is due for upload.
func (d *deviceSim) step(t time.Time, emit func(Emission)) {
	if t.Equal(d.nextStat) || t.After(d.nextStat) {
		d.nextStat = t.Add(30 * time.Minute)
		emit(Emission{At: t, Device: d.ID, Topic: topic.Status(d.ID), Retained: true, Payload: d.status(true)})
	}
	d.battery = math.Max(0.02, d.battery-d.spec.drain*step.Hours())
	for i, m := range d.spec.measures {
		for !d.next[i].After(t) {
			at := d.next[i]
			if m.every > 0 {
				d.next[i] = at.Add(m.every)
			} else {
				d.next[i] = d.nextDaily(m, at.Add(step))
			}
			if m.night && !asleep(at) || d.removedAt(at) {
				continue
			}
			if off, _ := d.offlineAt(at); !off {
				d.person.observe(m.typ, at) // an offline device's reading comes too late to act on
			}
			v, v2 := m.reading(d.person.state, d)
			unit, v := d.unit(m.typ, v)
			if m.typ == vitals.BloodPressure {
				_, v2 = d.unit(m.typ, v2)
				// A reading of 180/120 or more is repeated two minutes
				// later, as home blood-pressure programs ask: one high
				// reading alone is not acted on.
				switch {
				case d.repeating:
					// past this slot's jitter: the repeat is not taken for
					// the slot's own reading
					d.repeating, d.next[i] = false, d.nextDaily(m, at.Add(m.jitter))
				case v >= 180 || v2 >= 120:
					d.repeating, d.next[i] = true, at.Add(2*time.Minute)
				}
			}
			if d.wrong > 0 && d.rng.Float64() < d.wrong {
				unit = wrongUnits[m.typ]
			}
			d.buffer = append(d.buffer, sample{typ: m.typ, at: at.Add(d.skew), v: v, v2: v2, unit: unit})
		}
	}
	off, shuffled := d.offlineAt(t)
	if off {
		d.wasOff, d.shuffleBack = true, shuffled
		return
	}
	if d.wasOff {
		// Back online: the whole buffer goes up at once, late.
		d.wasOff = false
		if d.shuffleBack {
			d.rng.Shuffle(len(d.buffer), func(i, j int) { d.buffer[i], d.buffer[j] = d.buffer[j], d.buffer[i] })
		}
		d.flush(t, emit)
		d.nextUp = t.Add(d.upload)
		return
	}
	if d.upload == 0 || !t.Before(d.nextUp) {
		if d.upload > 0 {
			for !d.nextUp.After(t) {
				d.nextUp = d.nextUp.Add(d.upload)
			}
		}
		d.flush(t, emit)
	}
}

func (d *deviceSim) flush(t time.Time, emit func(Emission)) {
	for len(d.buffer) > 0 {
		n := min(len(d.buffer), maxPerMessage)
		d.seq++
		payload := encodeBatch(d.seq, d.buffer[:n])
		if d.garbage > 0 && d.rng.Float64() < d.garbage {
			payload = d.garbageBytes()
		}
		e := Emission{At: t, Device: d.ID, Topic: topic.Readings(d.ID), Payload: payload, Readings: n}
		emit(e)
		if d.dup > 0 && d.rng.Float64() < d.dup {
			emit(e) // a resend after a lost acknowledgement
		}
		d.buffer = d.buffer[n:]
	}
	d.buffer = d.buffer[:0:0]
}

func (d *deviceSim) garbageBytes() []byte {
	switch d.rng.IntN(3) {
	case 0:
		return []byte(`{"seq":1,"readings":[{"type":"heart_rate","val`)
	case 1:
		b := make([]byte, 16+d.rng.IntN(48))
		for i := range b {
			b[i] = byte(d.rng.IntN(256))
		}
		return b
	default:
		return []byte(`not json at all`)
	}
}

func (d *deviceSim) status(online bool) []byte {
	b := []byte(`{"online":`)
	b = strconv.AppendBool(b, online)
	b = append(b, `,"battery":`...)
	b = strconv.AppendFloat(b, math.Round(d.battery*100)/100, 'f', -1, 64)
	b = append(b, `,"firmware":"sim-`...)
	b = append(b, d.Kind...)
	b = append(b, `-2.3"}`...)
	return b
}

// encodeBatch writes the MQTT contract's batch JSON, byte for byte the
// same for the same samples.
func encodeBatch(seq int64, ss []sample) []byte {
	b := make([]byte, 0, 32+96*len(ss))
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"readings":[`...)
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"`...)
		b = append(b, s.typ...)
		if s.typ == vitals.BloodPressure {
			b = append(b, `","systolic":`...)
			b = strconv.AppendFloat(b, s.v, 'f', -1, 64)
			b = append(b, `,"diastolic":`...)
			b = strconv.AppendFloat(b, s.v2, 'f', -1, 64)
		} else {
			b = append(b, `","value":`...)
			b = strconv.AppendFloat(b, s.v, 'f', -1, 64)
		}
		b = append(b, `,"unit":"`...)
		b = append(b, s.unit...)
		b = append(b, `","time":"`...)
		b = s.at.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}
