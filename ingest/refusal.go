package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// The details of refusals. Each says what to send instead; none repeats a
// measured value (the detail is sent back on the device's rejects topic
// and may be logged), and device bytes are repeated only when they are
// short printable ASCII. They are built only when a reading is refused.

// exampleReading is the contract's reading, as the details show it.
const exampleReading = `{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01T08:00:00Z"}`

// rfc3339Examples are the time forms a detail offers.
const rfc3339Examples = `send an RFC 3339 string such as "2026-03-01T08:00:00Z" (UTC) or "2026-03-01T09:00:00+01:00"`

const badTime = "time is not RFC 3339: " + rfc3339Examples + ", with seconds and a zone"

// maxEchoed bounds how much of a device's string a detail repeats.
const maxEchoed = 32

// fieldName names a contract field by its bit in Raw.seen.
func fieldName(bit uint8) string {
	switch bit {
	case seenType:
		return "type"
	case seenUnit:
		return "unit"
	case seenTime:
		return "time"
	case seenValue:
		return "value"
	case seenSystolic:
		return "systolic"
	case seenDiastolic:
		return "diastolic"
	}
	return "a field"
}

// malformedReading is the refusal of a reading marked Malformed, for its
// first flaw. A time that is not a string is a bad time, not a broken
// reading: a number there is most often an epoch.
func malformedReading(raw *Raw) *vitals.RejectError {
	field := `"` + fieldName(raw.flawAt) + `"`
	if raw.flawAt == seenTime && (raw.flaw == flawNumber || raw.flaw == flawWrongType) {
		d := "time must be a string, not a number (an epoch?): " + rfc3339Examples
		if raw.flaw == flawWrongType {
			d = "time must be a string: " + rfc3339Examples + "; or leave time out to use the receive time"
		}
		return &vitals.RejectError{Reason: vitals.ReasonBadTime, Detail: d}
	}
	var d string
	switch raw.flaw {
	case flawNotObject:
		d = "reading is not an object: send " + exampleReading
	case flawWrongType, flawNumber:
		kind := "a JSON string"
		switch raw.flawAt {
		case seenValue, seenSystolic, seenDiastolic:
			kind = "a JSON number (72, not \"72\")"
		}
		d = field + " must be " + kind + ": send " + exampleReading
	case flawInfinite:
		d = field + " is too large for a 64-bit float: send the measurement as a plain decimal"
	case flawTwice:
		d = field + " is given twice: send each field once"
	default:
		d = "reading is not an object of the contract's fields: send " + exampleReading
	}
	return &vitals.RejectError{Reason: vitals.ReasonMalformed, Detail: d}
}

// catalogTypes lists the vital types for unknown_type's detail.
var catalogTypes = func() string {
	var ts []string
	for _, t := range vitals.Types() {
		ts = append(ts, string(t))
	}
	return strings.Join(ts, ", ")
}()

func unknownType(typ []byte) string {
	switch {
	case len(typ) == 0:
		return "no type: send one of " + catalogTypes
	case echoable(typ):
		return "type " + string(typ) + " is not in the catalog: send one of " + catalogTypes
	}
	return "type is not in the catalog: send one of " + catalogTypes
}

func missingValue(spec *vitals.Spec) string {
	if spec.IsPanel() {
		return string(spec.Type) + ` needs "systolic" and "diastolic", numbers in ` + spec.Canonical + ` (not "value")`
	}
	return string(spec.Type) + ` needs "value", a number in ` + spec.Canonical
}

func futureTime(ahead, maxFuture time.Duration) string {
	return "time is " + span(ahead) + " ahead of the server clock (at most " + span(maxFuture) +
		" is accepted): set the device's clock (NTP) and send the time the measurement was taken"
}

func tooOld(maxAge time.Duration) string {
	return "time is older than the " + span(maxAge) + " back-fill window: such readings are not taken; check the device's clock"
}

// ResolveDetail is the detail of a refusal by the device registry: what
// the device maker or an admin must do.
func ResolveDetail(reason vitals.Reason) string {
	switch reason {
	case vitals.ReasonUnknownDevice:
		return "device is not registered: ask an admin to enrol it, and publish under its own id"
	case vitals.ReasonRevoked:
		return "device's credentials were revoked: it may not publish; ask an admin to enrol a replacement"
	case vitals.ReasonUnbound:
		return "device was bound to no patient at the reading's time: ask an admin to bind it from that time, or check the device's clock"
	}
	return "device cannot publish readings for this time"
}

// span writes a duration as people say it: "5m", "1h30m", "30 days".
func span(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
	}
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	h, m, sec := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	var b strings.Builder
	if h > 0 {
		b.WriteString(strconv.FormatInt(h, 10) + "h")
	}
	if m > 0 {
		b.WriteString(strconv.FormatInt(m, 10) + "m")
	}
	if sec > 0 && h == 0 {
		b.WriteString(strconv.FormatInt(sec, 10) + "s")
	}
	return b.String()
}

// echoable reports whether device bytes may be repeated in a detail.
func echoable(b []byte) bool {
	if len(b) > maxEchoed {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
