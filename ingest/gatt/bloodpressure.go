package gatt

import "github.com/vitalwire/vitalwire/vitals"

// BloodPressure is a Blood Pressure Measurement (0x2A35).
type BloodPressure struct {
	// KPa: the pressures are in kPa; otherwise mmHg.
	KPa                      bool
	Systolic, Diastolic, MAP SFloat
	Time                     DateTime
	HasTime                  bool
	// PulseRate in beats per minute.
	PulseRate SFloat
	HasPulse  bool
	// User is the cuff's user index (0xFF: unknown user).
	User    uint8
	HasUser bool
	Status  BPStatus
	// HasStatus: the cuff sent its measurement status.
	HasStatus bool
}

// BPStatus is the cuff's Measurement Status field.
type BPStatus uint16

// Measurement Status bits. The cuff reports them; the reading stands (a
// clinician judges an irregular pulse or a loose cuff, as on the cuff's
// own display).
const (
	BodyMovement     BPStatus = 1 << 0
	CuffTooLoose     BPStatus = 1 << 1
	IrregularPulse   BPStatus = 1 << 2
	ImproperPosition BPStatus = 1 << 5
)

// PulseRange is the status's pulse rate range: 0 within range, 1 above
// the upper limit, 2 below the lower limit, 3 reserved.
func (s BPStatus) PulseRange() uint8 { return uint8(s>>3) & 3 }

// Blood Pressure Measurement flags.
const (
	bpKPa    = 1 << 0
	bpTime   = 1 << 1
	bpPulse  = 1 << 2
	bpUser   = 1 << 3
	bpStatus = 1 << 4
)

// mmHgPerKPa converts kPa to mmHg (1 mmHg = 133.322387415 Pa).
const mmHgPerKPa = 1000 / 133.322387415

// DecodeBloodPressure decodes a Blood Pressure Measurement value.
func DecodeBloodPressure(v []byte) (BloodPressure, *vitals.RejectError) {
	r := reader{u: BloodPressureMeasurement, b: v}
	var m BloodPressure
	flags := r.u8("flags")
	m.KPa = flags&bpKPa != 0
	m.Systolic = r.sfloat("systolic")
	m.Diastolic = r.sfloat("diastolic")
	m.MAP = r.sfloat("mean arterial pressure")
	if flags&bpTime != 0 {
		m.Time, m.HasTime = r.dateTime("time stamp")
	}
	if flags&bpPulse != 0 {
		m.PulseRate, m.HasPulse = r.sfloat("pulse rate"), true
	}
	if flags&bpUser != 0 {
		m.User, m.HasUser = r.u8("user id"), true
	}
	if flags&bpStatus != 0 {
		m.Status, m.HasStatus = BPStatus(r.u16("measurement status")), true
	}
	if r.err != nil {
		return BloodPressure{}, r.err
	}
	return m, nil
}

// Readings: the blood pressure in mmHg and, when the cuff sent one, the
// pulse rate as a heart rate. The mean arterial pressure is not kept (the
// reading model has systolic and diastolic), so its NaN, which cuffs send
// when they do not compute it, refuses nothing.
func (m BloodPressure) Readings() []Reading {
	u := BloodPressureMeasurement
	bp := Reading{Type: vitals.BloodPressure, Unit: "mm[Hg]", Time: m.Time, HasTime: m.HasTime}
	var sys, dia Special
	bp.Value, sys = m.pressure(m.Systolic)
	bp.Diastolic, dia = m.pressure(m.Diastolic)
	if bp.Refused = number(u, "systolic", sys); bp.Refused == nil {
		bp.Refused = number(u, "diastolic", dia)
	}
	out := []Reading{bp}
	if m.HasPulse {
		pr := Reading{Type: vitals.HeartRate, Unit: "/min", Time: m.Time, HasTime: m.HasTime}
		var s Special
		pr.Value, s = m.PulseRate.Value()
		pr.Refused = number(u, "pulse rate", s)
		out = append(out, pr)
	}
	return out
}

func (m BloodPressure) pressure(f SFloat) (float64, Special) {
	v, s := f.Value()
	if m.KPa {
		v *= mmHgPerKPa
	}
	return v, s
}
