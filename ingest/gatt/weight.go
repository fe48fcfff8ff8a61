package gatt

import "github.com/vitalwire/vitalwire/vitals"

// Weight is a Weight Measurement (0x2A9D).
type Weight struct {
	// Imperial: weight in 0.01 lb and height in 0.1 inch; otherwise SI,
	// weight in 0.005 kg and height in 0.001 m.
	Imperial bool
	// Raw is the weight field as sent; 0xFFFF is "measurement unsuccessful".
	Raw     uint16
	Time    DateTime
	HasTime bool
	// User is the scale's user index (0xFF: unknown user).
	User    uint8
	HasUser bool
	// BMI in 0.1 kg/m², Height in the resolution of the unit system.
	BMI, Height uint16
	HasBMI      bool
}

// Weight Measurement flags.
const (
	wmImperial = 1 << 0
	wmTime     = 1 << 1
	wmUser     = 1 << 2
	wmBMI      = 1 << 3
)

// weightUnsuccessful is the weight field's special value.
const weightUnsuccessful = 0xFFFF

// DecodeWeight decodes a Weight Measurement value.
func DecodeWeight(v []byte) (Weight, *vitals.RejectError) {
	r := reader{u: WeightMeasurement, b: v}
	var m Weight
	flags := r.u8("flags")
	m.Imperial = flags&wmImperial != 0
	m.Raw = r.u16("weight")
	if flags&wmTime != 0 {
		m.Time, m.HasTime = r.dateTime("time stamp")
	}
	if flags&wmUser != 0 {
		m.User, m.HasUser = r.u8("user id"), true
	}
	if flags&wmBMI != 0 {
		m.BMI = r.u16("BMI")
		m.Height = r.u16("height")
		m.HasBMI = true
	}
	if r.err != nil {
		return Weight{}, r.err
	}
	return m, nil
}

// Mass is the weight and its UCUM unit: kg (SI) or [lb_av] (imperial).
func (m Weight) Mass() (float64, string) {
	if m.Imperial {
		return float64(m.Raw) / 100, "[lb_av]"
	}
	return float64(m.Raw) * 5 / 1000, "kg"
}

// HeightValue is the height and its UCUM unit: m (SI) or [in_i] (imperial).
func (m Weight) HeightValue() (float64, string) {
	if m.Imperial {
		return float64(m.Height) / 10, "[in_i]"
	}
	return float64(m.Height) / 1000, "m"
}

// Readings: the body weight. BMI and height have no vital type and are
// not kept.
func (m Weight) Readings() []Reading {
	w := Reading{Type: vitals.BodyWeight, Time: m.Time, HasTime: m.HasTime}
	w.Value, w.Unit = m.Mass()
	if m.Raw == weightUnsuccessful {
		w.Value = 0
		w.Refused = &vitals.RejectError{Reason: vitals.ReasonSpecialValue,
			Detail: "0x2A9D weight is 0xFFFF (the scale reports the measurement unsuccessful)"}
	}
	return []Reading{w}
}
