package gatt

import (
	"math"
	"time"
)

// Special is an IEEE 11073-20601 special value: a number field that holds
// no measurement.
type Special uint8

// The special values of SFLOAT and FLOAT. None is an ordinary number.
const (
	None     Special = iota
	NaN              // not a number: the device has no valid value
	NRes             // not at this resolution: the value does not fit the field
	PosInf           // +INF: above what the device can measure
	NegInf           // -INF: below what the device can measure
	Reserved         // reserved for a future special value
)

// Explain says what the device meant, for a refusal's detail.
func (s Special) Explain() string {
	switch s {
	case NaN:
		return "NaN (the device has no valid value)"
	case NRes:
		return "NRes (the value does not fit the field's resolution)"
	case PosInf:
		return "+INF (above what the device can measure)"
	case NegInf:
		return "-INF (below what the device can measure)"
	case Reserved:
		return "a reserved special value"
	}
	return "a number"
}

// SFloat is the 16-bit IEEE 11073 SFLOAT as sent: a 4-bit signed exponent
// (base 10) over a 12-bit signed mantissa.
type SFloat uint16

func (f SFloat) parts() (mantissa, exponent int) {
	m := int(f & 0x0FFF)
	if m >= 0x0800 {
		m -= 0x1000
	}
	e := int(f >> 12)
	if e >= 8 {
		e -= 16
	}
	return m, e
}

// special reports the special value a mantissa stands for. The standard
// defines them with exponent 0; a number's mantissa is never one of these
// five (its range is -2045..2045), so any exponent over them is refused
// too, as reserved.
func special(m, e, max int) Special {
	var s Special
	switch m {
	case max:
		s = NaN
	case -max - 1:
		s = NRes
	case max - 1:
		s = PosInf
	case -(max - 1):
		s = NegInf
	case -max:
		s = Reserved
	default:
		return None
	}
	if e != 0 {
		return Reserved
	}
	return s
}

// Value returns the number, or the special value the field holds.
func (f SFloat) Value() (float64, Special) { return f.Scaled(0) }

// Scaled returns the number times 10^shift, computed on the exponent so
// that a unit prefix (kg/L to mg/dL is 10^5) adds no rounding error.
func (f SFloat) Scaled(shift int) (float64, Special) {
	m, e := f.parts()
	if s := special(m, e, 0x07FF); s != None {
		return 0, s
	}
	return scale(float64(m), e+shift), None
}

// Float is the 32-bit IEEE 11073 FLOAT as sent: an 8-bit signed exponent
// (base 10) over a 24-bit signed mantissa.
type Float uint32

// Value returns the number, or the special value the field holds.
func (f Float) Value() (float64, Special) {
	m := int(f & 0x00FFFFFF)
	if m >= 0x00800000 {
		m -= 0x01000000
	}
	e := int(int8(f >> 24))
	if s := special(m, e, 0x007FFFFF); s != None {
		return 0, s
	}
	return scale(float64(m), e), None
}

// scale is m * 10^e. A negative exponent divides by an exact power of ten,
// so 1205e-1 is the float64 nearest 120.5, not 1205 * 0.1.
func scale(m float64, e int) float64 {
	if e >= 0 {
		return m * math.Pow10(e)
	}
	if e >= -22 {
		return m / math.Pow10(-e)
	}
	return m * math.Pow10(e)
}

// DateTime is the Bluetooth Date Time field (7 octets): the device's wall
// clock, with no time zone. A zero year, month or day means "not known".
type DateTime struct {
	Year                    uint16
	Month, Day              uint8
	Hours, Minutes, Seconds uint8
}

// Known reports whether the device gave a date: the field's zero year,
// month or day mean it does not know the time.
func (d DateTime) Known() bool { return d.Year != 0 && d.Month != 0 && d.Day != 0 }

// valid reports whether a known date and time exist in the calendar and
// lie in the field's range (years 1582-9999).
func (d DateTime) valid() bool {
	if d.Year < 1582 || d.Year > 9999 || d.Month > 12 || d.Hours > 23 || d.Minutes > 59 || d.Seconds > 59 {
		return false
	}
	t := time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC)
	return t.Day() == int(d.Day) // 31 April normalizes to 1 May
}

// In returns the time the device's clock showed, read at the given UTC
// offset (the device's clock has none of its own).
func (d DateTime) In(offset *time.Location) time.Time {
	return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), int(d.Hours), int(d.Minutes), int(d.Seconds), 0, offset)
}
