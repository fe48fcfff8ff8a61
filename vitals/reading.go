package vitals

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Reading is one vital-sign measurement, normalized to the canonical unit of
// its type. For blood pressure, Value is the systolic and Diastolic the
// diastolic pressure; Diastolic is zero for every other type.
type Reading struct {
	Device  string
	Patient string
	Type    Type
	Time    time.Time
	Value   float64
	// Diastolic is set for blood pressure only.
	Diastolic float64
	// Unit is the canonical UCUM unit of Type once normalized.
	Unit string
	// ReceivedTime is true when the device sent no time and Time is the
	// time Vitalwire received the reading.
	ReceivedTime bool
}

// Key is the identity of a reading: a device measures one value of a type at
// a time. Two readings with the same key are the same reading delivered twice.
type Key struct {
	Device string
	Type   Type
	Time   int64 // Unix nanoseconds
}

// Key returns the identity of r.
func (r *Reading) Key() Key { return Key{r.Device, r.Type, r.Time.UnixNano()} }

// Reason says why a reading or a message was refused. Reasons are metric
// label values and appear on the device's rejects topic, so they are fixed
// snake_case words.
type Reason string

// Reasons for refusing a reading or a whole message.
const (
	ReasonMalformed     Reason = "malformed"      // not valid JSON, or not a reading
	ReasonOversized     Reason = "oversized"      // payload over the size limit
	ReasonUnknownType   Reason = "unknown_type"   // type not in the catalog
	ReasonWrongUnit     Reason = "wrong_unit"     // unit not accepted for the type
	ReasonMissingValue  Reason = "missing_value"  // no value (or no systolic/diastolic)
	ReasonImplausible   Reason = "implausible"    // outside the physically possible range
	ReasonBadTime       Reason = "bad_time"       // time not an RFC 3339 string (a number too)
	ReasonFutureTime    Reason = "future_time"    // time too far ahead of the server clock
	ReasonTooOld        Reason = "too_old"        // time older than the accepted back-fill window
	ReasonUnknownDevice Reason = "unknown_device" // no such device
	ReasonRevoked       Reason = "revoked_device" // the device's credentials were revoked
	ReasonUnbound       Reason = "unbound_device" // the device was bound to no patient at the reading's time
)

// Reasons of the Bluetooth GATT form of a reading, where the device itself
// says a value is not a measurement.
const (
	// ReasonSpecialValue: an IEEE 11073 special value (NaN, NRes, +INF,
	// -INF, reserved) or a characteristic's "measurement unsuccessful"
	// stands where a measurement should be.
	ReasonSpecialValue Reason = "special_value"
	// ReasonDeviceFlagged: the device's own status bits say the value is
	// unreliable (sensor fault, no skin contact, out of its range) or not
	// the patient's (a control solution, demonstration or test data).
	ReasonDeviceFlagged Reason = "device_flagged"
)

// Reasons lists every reason, for metrics that should show zeros.
func Reasons() []Reason {
	return []Reason{ReasonMalformed, ReasonOversized, ReasonUnknownType, ReasonWrongUnit,
		ReasonMissingValue, ReasonImplausible, ReasonBadTime, ReasonFutureTime, ReasonTooOld,
		ReasonUnknownDevice, ReasonRevoked, ReasonUnbound, ReasonSpecialValue, ReasonDeviceFlagged}
}

// RejectError is a refusal with its reason.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

// Normalize converts a measured value in unit to the canonical unit of the
// spec and checks it is plausible. For a panel, second is the diastolic in the
// same unit. The detail of a returned error says what to send instead; it
// names fields, units and ranges, never the value, so it can be logged and
// sent back to the device. Details are built only on refusal: an accepted
// reading costs no allocation.
func (s *Spec) Normalize(unit []byte, value, second float64) (v, v2 float64, err error) {
	var conv func(float64) float64
	for i := range s.Units {
		if s.Units[i].UCUM == string(unit) {
			conv = s.Units[i].ToCanonic
			break
		}
	}
	if conv == nil {
		return 0, 0, &RejectError{ReasonWrongUnit, s.wrongUnit(unit)}
	}
	v = conv(value)
	if s.Percent && v >= 0 && v <= 1 {
		return 0, 0, &RejectError{ReasonImplausible, string(s.Type) + " is a percentage and a value at or below 1 looks like a fraction: send 97, not 0.97"}
	}
	if math.IsNaN(v) || !s.Plausible.Contains(v) {
		field := "value"
		if s.IsPanel() {
			field = "systolic"
		}
		return 0, 0, &RejectError{ReasonImplausible, s.outside(field, s.Plausible, unit)}
	}
	if s.IsPanel() {
		v2 = conv(second)
		if math.IsNaN(v2) || !s.Diastolic.Contains(v2) {
			return 0, 0, &RejectError{ReasonImplausible, s.outside("diastolic", s.Diastolic, unit)}
		}
		if v2 >= v {
			return 0, 0, &RejectError{ReasonImplausible, "diastolic is not below systolic: send the higher pressure as systolic (were they swapped?)"}
		}
	}
	return v, v2, nil
}

// maxEchoedUnit bounds how much of a refused unit is repeated back.
const maxEchoedUnit = 24

// wrongUnit says which units the type takes. It repeats the unit sent
// only when it is short printable ASCII: the detail travels to the device
// and may reach logs, so device bytes are never passed on raw.
func (s *Spec) wrongUnit(unit []byte) string {
	var b strings.Builder
	switch {
	case len(unit) == 0:
		b.WriteString("no unit for ")
	case printable(unit, maxEchoedUnit):
		b.WriteString("unit ")
		b.Write(unit)
		b.WriteString(" is not accepted for ")
	default:
		b.WriteString("unit is not accepted for ")
	}
	b.WriteString(string(s.Type))
	b.WriteString(": send ")
	if len(s.Units) > 1 {
		b.WriteString("one of ")
	}
	for i, u := range s.Units {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(u.UCUM)
	}
	b.WriteString(" (UCUM, exactly as written)")
	return b.String()
}

// outside says what range a field must lie in, in the canonical unit.
func (s *Spec) outside(field string, r Range, unit []byte) string {
	d := field + " outside the plausible range of " + string(s.Type) + ": " +
		strconv.FormatFloat(r.Min, 'g', -1, 64) + " to " + strconv.FormatFloat(r.Max, 'g', -1, 64) + " " + s.Canonical
	if string(unit) != s.Canonical {
		d += " after conversion"
	}
	return d + ": check the sensor and that the unit matches the value"
}

// printable reports whether b is at most n bytes of printable ASCII
// without quotes or backslashes.
func printable(b []byte, n int) bool {
	if len(b) > n {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
