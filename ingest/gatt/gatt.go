// Package gatt decodes the Bluetooth GATT characteristics that personal
// health devices send (heart rate strap, blood pressure cuff, thermometer,
// pulse oximeter, scale, glucose meter) by the field definitions of the
// Bluetooth SIG's service specifications and GATT Specification
// Supplement, and maps each to the vitals it carries, in units the vitals
// catalog accepts.
//
// It owns the byte layouts: IEEE 11073-20601 SFLOAT and FLOAT with their
// special values, the Date Time field, each characteristic's flags and
// optional fields, and the device's own status bits. It never panics and
// never reads past a value: a value shorter than its flags promise is
// refused with a reason that names the field that is missing. Checking the
// vitals against the catalog (plausible ranges), placing them in time and
// attributing them to a patient are ingest's.
package gatt

import (
	"encoding/binary"
	"fmt"

	"github.com/vitalwire/vitalwire/vitals"
)

// UUID is a characteristic's 16-bit Bluetooth SIG UUID.
type UUID uint16

// The characteristics Vitalwire decodes.
const (
	GlucoseMeasurement       UUID = 0x2A18
	TemperatureMeasurement   UUID = 0x2A1C
	BloodPressureMeasurement UUID = 0x2A35
	HeartRateMeasurement     UUID = 0x2A37
	PLXSpotCheckMeasurement  UUID = 0x2A5E
	PLXContinuousMeasurement UUID = 0x2A5F
	WeightMeasurement        UUID = 0x2A9D
)

// Supported lists the characteristics Decode takes, in UUID order.
func Supported() []UUID {
	return []UUID{GlucoseMeasurement, TemperatureMeasurement, BloodPressureMeasurement,
		HeartRateMeasurement, PLXSpotCheckMeasurement, PLXContinuousMeasurement, WeightMeasurement}
}

// MaxValue is the longest attribute value the Bluetooth Core
// Specification allows (Vol 3, Part F, 3.2.9): no characteristic is longer.
const MaxValue = 512

func (u UUID) String() string { return fmt.Sprintf("0x%04X", uint16(u)) }

// baseSuffix is the Bluetooth Base UUID after a 16-bit UUID's place:
// 0000xxxx-0000-1000-8000-00805F9B34FB.
const baseSuffix = "-0000-1000-8000-00805f9b34fb"

// ParseUUID reads a 16-bit UUID written as "2A35", "0x2A35" or in the
// 128-bit Bluetooth Base UUID form "00002a35-0000-1000-8000-00805f9b34fb"
// (hex digits in either case).
func ParseUUID(s []byte) (UUID, bool) {
	switch len(s) {
	case 4:
	case 6:
		if s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
			return 0, false
		}
		s = s[2:]
	case 36:
		if string(s[:4]) != "0000" {
			return 0, false
		}
		for i := range len(baseSuffix) {
			c := s[8+i]
			if c >= 'A' && c <= 'F' {
				c += 'a' - 'A'
			}
			if c != baseSuffix[i] {
				return 0, false
			}
		}
		s = s[4:8]
	default:
		return 0, false
	}
	var u uint16
	for _, c := range s {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(d)
	}
	return UUID(u), true
}

// Reading is one vital a characteristic carries, in a unit the catalog
// accepts for its type. Refused, when set, refuses this reading alone
// (a special value, a fault the device flagged): the characteristic's
// other readings stand.
type Reading struct {
	Type vitals.Type
	// Unit is a UCUM unit the catalog accepts for Type.
	Unit string
	// Value, and for blood pressure Diastolic, in Unit.
	Value, Diastolic float64
	// Time is the characteristic's own time stamp when HasTime, plus
	// Offset (the glucose record's time offset).
	Time    DateTime
	HasTime bool
	Offset  int16 // minutes
	Refused *vitals.RejectError
}

// Decode decodes a characteristic's value and appends the readings it
// carries to dst. The error refuses the value as a whole: an unsupported
// characteristic, a value shorter than its flags promise, a time stamp
// that is no date.
func Decode(u UUID, value []byte, dst []Reading) ([]Reading, *vitals.RejectError) {
	if len(value) > MaxValue {
		return dst, &vitals.RejectError{Reason: vitals.ReasonMalformed,
			Detail: fmt.Sprintf("gatt value is longer than a characteristic can be (%d bytes)", MaxValue)}
	}
	switch u {
	case HeartRateMeasurement:
		m, err := DecodeHeartRate(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	case BloodPressureMeasurement:
		m, err := DecodeBloodPressure(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	case TemperatureMeasurement:
		m, err := DecodeTemperature(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	case PLXSpotCheckMeasurement:
		m, err := DecodePLXSpotCheck(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	case PLXContinuousMeasurement:
		m, err := DecodePLXContinuous(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	case WeightMeasurement:
		m, err := DecodeWeight(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	case GlucoseMeasurement:
		m, err := DecodeGlucose(value)
		if err != nil {
			return dst, err
		}
		return append(dst, m.Readings()...), nil
	}
	return dst, &vitals.RejectError{Reason: vitals.ReasonUnknownType,
		Detail: "characteristic " + u.String() + " is not one Vitalwire decodes: 0x2A18 glucose, 0x2A1C temperature, " +
			"0x2A35 blood pressure, 0x2A37 heart rate, 0x2A5E and 0x2A5F pulse oximetry, 0x2A9D weight"}
}

// reader takes a characteristic's fields in order. The first field that
// is not all there stops it; every later read returns zero.
type reader struct {
	u   UUID
	b   []byte
	err *vitals.RejectError
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = &vitals.RejectError{Reason: vitals.ReasonMalformed,
			Detail: fmt.Sprintf("%s value ends before its %s (%d bytes needed, %d left)", r.u, field, n, len(r.b))}
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(field string) uint8 {
	if b := r.take(1, field); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if b := r.take(2, field); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u24(field string) uint32 {
	if b := r.take(3, field); b != nil {
		return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if b := r.take(4, field); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) sfloat(field string) SFloat { return SFloat(r.u16(field)) }

// dateTime reads a Date Time field; known is false when the device says
// it does not know the date. A date that does not exist refuses the value.
func (r *reader) dateTime(field string) (d DateTime, known bool) {
	b := r.take(7, field)
	if b == nil {
		return DateTime{}, false
	}
	d = DateTime{Year: binary.LittleEndian.Uint16(b), Month: b[2], Day: b[3], Hours: b[4], Minutes: b[5], Seconds: b[6]}
	if !d.Known() {
		return d, false
	}
	if !d.valid() {
		r.err = &vitals.RejectError{Reason: vitals.ReasonBadTime,
			Detail: fmt.Sprintf("%s %s is not a date and time (year 1582-9999, month 1-12, a day of that month, 00:00:00-23:59:59)", r.u, field)}
		return DateTime{}, false
	}
	return d, true
}

// flag is a refusal of one reading because of a device's status bit.
func flagged(u UUID, what string) *vitals.RejectError {
	return &vitals.RejectError{Reason: vitals.ReasonDeviceFlagged, Detail: u.String() + " " + what}
}

// number refuses a reading whose field holds a special value.
func number(u UUID, field string, s Special) *vitals.RejectError {
	if s != None {
		return &vitals.RejectError{Reason: vitals.ReasonSpecialValue, Detail: u.String() + " " + field + " is " + s.Explain()}
	}
	return nil
}
