package ingest

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// MaxPayload is the largest message accepted (the MQTT contract's 64 KiB).
const MaxPayload = 64 << 10

// maxDepth bounds nesting in skipped values so that a hostile payload
// cannot exhaust the stack.
const maxDepth = 32

// Raw is one reading as decoded from a payload, before validation. Byte
// slices point into the payload (or into the Message's scratch space when
// the JSON string had escapes) and are valid until the next Decode.
type Raw struct {
	Type, Unit, Time           []byte
	Value, Systolic, Diastolic float64
	HasValue, HasSystolic      bool
	HasDiastolic, HasTime      bool
	// Malformed is set when the item is not an object, a field has the
	// wrong JSON type, a number is past float64's range, or a field is
	// given twice; the rest of the message is still usable.
	Malformed bool
	// HasGATT: the reading is in its Bluetooth form (NormalizeGATT).
	HasGATT bool
	GATT    GATT
	// seen has a bit per contract field met so far (duplicates).
	seen uint8
	// at is the bit of the field being decoded; flaw and flawAt say what
	// first made the reading malformed, for the detail sent back.
	at, flawAt uint8
	flaw       flaw
}

// flaw is what made a reading malformed.
type flaw uint8

const (
	flawNone      flaw = iota
	flawNotObject      // an item of the batch is not an object
	flawWrongType      // a field's value is of the wrong JSON type
	flawNumber         // a number where a string belongs (an epoch time)
	flawInfinite       // a number past float64's range
	flawTwice          // a field given twice
)

// malformed marks the reading, remembering the first flaw.
func (r *Raw) malformed(f flaw) {
	if !r.Malformed {
		r.flaw, r.flawAt = f, r.at
	}
	r.Malformed = true
}

// GATT is the Bluetooth form of a reading: {"gatt": {"uuid": "2A35",
// "value": "<base64>", "utc_offset": "+01:00"}}, the characteristic as
// the device sent it, and the UTC offset of the device's clock.
type GATT struct {
	UUID, Value, UTCOffset []byte
	HasUUID, HasValue      bool
	HasOffset              bool
}

// Bits of Raw.seen.
const (
	seenType uint8 = 1 << iota
	seenUnit
	seenTime
	seenValue
	seenSystolic
	seenDiastolic
	seenGATT
)

// seenPlain are the fields of a reading's plain form.
const seenPlain = seenType | seenUnit | seenValue | seenSystolic | seenDiastolic

// Message is a decoded payload. Reuse one Message across Decode calls to
// avoid allocations.
type Message struct {
	Seq      int64
	HasSeq   bool
	Batch    bool // the payload was {"readings": [...]}
	Readings []Raw
	scratch  []byte
}

// Errors of Decode for a payload that cannot be used at all.
var (
	// ErrOversized: the payload is over MaxPayload.
	ErrOversized = errors.New("payload over 64 KiB: split the readings over several messages")
	// ErrMalformed: the payload is not JSON of the contract's shape.
	ErrMalformed = errors.New("payload is not a reading or a batch of readings: send JSON such as " +
		exampleReading + ` or {"seq":1,"readings":[` + exampleReading + `]}`)
)

type decoder struct {
	b   []byte
	i   int
	msg *Message
}

// Decode parses a payload: one reading object, or {"seq": n, "readings":
// [...]}. It fails only when the payload as a whole is unusable; a bad item
// in a batch is marked Malformed and the others are kept.
func Decode(payload []byte, m *Message) error {
	m.Seq, m.HasSeq, m.Batch = 0, false, false
	m.Readings = m.Readings[:0]
	m.scratch = m.scratch[:0]
	if len(payload) > MaxPayload {
		return ErrOversized
	}
	d := decoder{b: payload, msg: m}
	var top Raw
	topFields := 0
	d.ws()
	if !d.eat('{') {
		return ErrMalformed
	}
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "seq":
			if m.HasSeq {
				return false // two "seq" keys
			}
			f, ok := d.number()
			// An integer that an int64 holds exactly (±2^63 does not).
			if !ok || f != math.Trunc(f) || f >= 1<<63 || f < -(1<<63) {
				return false
			}
			m.Seq, m.HasSeq = int64(f), true
			return true
		case "readings":
			if m.Batch {
				return false // two "readings" keys
			}
			m.Batch = true
			return d.readings()
		}
		known, ok := d.field(key, &top)
		if known {
			topFields++
		}
		return ok
	})
	if !ok {
		return ErrMalformed
	}
	d.ws()
	if d.i != len(d.b) {
		return ErrMalformed
	}
	if m.Batch {
		if topFields > 0 {
			return ErrMalformed // a batch with reading fields beside it
		}
		return nil
	}
	m.Readings = append(m.Readings, top)
	return nil
}

func (d *decoder) readings() bool {
	d.ws()
	if !d.eat('[') {
		return false
	}
	d.ws()
	if d.eat(']') {
		return true
	}
	for {
		d.ws()
		var r Raw
		if d.peek() == '{' {
			d.i++
			if !d.object(func(key []byte) bool {
				_, ok := d.field(key, &r)
				return ok
			}) {
				return false
			}
		} else {
			if !d.skip(1) {
				return false
			}
			r.malformed(flawNotObject)
		}
		d.msg.Readings = append(d.msg.Readings, r)
		d.ws()
		if d.eat(',') {
			continue
		}
		return d.eat(']')
	}
}

// field decodes one member of a reading object. known says the key is a
// reading field; ok is false only when the JSON itself is broken.
// A field given twice makes the reading malformed: readers that take the
// first and readers that take the last would see different readings.
func (d *decoder) field(key []byte, r *Raw) (known, ok bool) {
	switch string(key) {
	case "type":
		r.once(seenType)
		return true, d.stringField(&r.Type, r)
	case "unit":
		r.once(seenUnit)
		return true, d.stringField(&r.Unit, r)
	case "time":
		r.once(seenTime)
		r.HasTime = true
		return true, d.stringField(&r.Time, r)
	case "value":
		r.once(seenValue)
		return true, d.numberField(&r.Value, &r.HasValue, r)
	case "systolic":
		r.once(seenSystolic)
		return true, d.numberField(&r.Systolic, &r.HasSystolic, r)
	case "diastolic":
		r.once(seenDiastolic)
		return true, d.numberField(&r.Diastolic, &r.HasDiastolic, r)
	case "gatt":
		r.once(seenGATT)
		r.HasGATT = true
		return true, d.gattField(r)
	}
	return false, d.skip(1)
}

// gattField decodes the members of a reading's "gatt" object; like the
// reading's own fields, one given twice or of the wrong JSON type makes
// the reading malformed.
func (d *decoder) gattField(r *Raw) bool {
	d.ws()
	if d.peek() != '{' {
		r.Malformed = true
		return d.skip(1)
	}
	d.i++
	g := &r.GATT
	str := func(dst *[]byte, has *bool) bool {
		if *has {
			r.Malformed = true
		}
		*has = true
		return d.stringField(dst, r)
	}
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "uuid":
			return str(&g.UUID, &g.HasUUID)
		case "value":
			return str(&g.Value, &g.HasValue)
		case "utc_offset":
			return str(&g.UTCOffset, &g.HasOffset)
		}
		return d.skip(1)
	})
}

// once records a field and marks the reading malformed on its second time.
func (r *Raw) once(bit uint8) {
	r.at = bit
	if r.seen&bit != 0 {
		r.malformed(flawTwice)
	}
	r.seen |= bit
}

func (d *decoder) stringField(dst *[]byte, r *Raw) bool {
	d.ws()
	if c := d.peek(); c != '"' {
		if c == '-' || (c >= '0' && c <= '9') {
			r.malformed(flawNumber)
		} else {
			r.malformed(flawWrongType)
		}
		return d.skip(1)
	}
	s, ok := d.str()
	*dst = s
	return ok
}

func (d *decoder) numberField(dst *float64, has *bool, r *Raw) bool {
	d.ws()
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		r.malformed(flawWrongType)
		return d.skip(1)
	}
	f, ok := d.number()
	if math.IsInf(f, 0) {
		// Valid JSON, but no measurement: the number is past float64.
		r.malformed(flawInfinite)
	}
	*dst, *has = f, ok
	return ok
}

// object parses members up to and including the closing brace; the opening
// brace is already consumed. member is called positioned at the value.
func (d *decoder) object(member func(key []byte) bool) bool {
	d.ws()
	if d.eat('}') {
		return true
	}
	for {
		d.ws()
		if d.peek() != '"' {
			return false
		}
		key, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if !d.eat(':') {
			return false
		}
		d.ws()
		if !member(key) {
			return false
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str parses a JSON string at d.i and returns its content. Without escapes
// it is a sub-slice of the payload; with them it is unescaped into scratch.
func (d *decoder) str() ([]byte, bool) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, true
		case c == '\\':
			return d.strEscaped(start)
		case c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

func (d *decoder) strEscaped(start int) ([]byte, bool) {
	out := len(d.msg.scratch)
	d.msg.scratch = append(d.msg.scratch, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			s := d.msg.scratch[out:len(d.msg.scratch):len(d.msg.scratch)]
			return s, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			d.msg.scratch = append(d.msg.scratch, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return nil, false
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			d.msg.scratch = append(d.msg.scratch, e)
		case 'b':
			d.msg.scratch = append(d.msg.scratch, '\b')
		case 'f':
			d.msg.scratch = append(d.msg.scratch, '\f')
		case 'n':
			d.msg.scratch = append(d.msg.scratch, '\n')
		case 'r':
			d.msg.scratch = append(d.msg.scratch, '\r')
		case 't':
			d.msg.scratch = append(d.msg.scratch, '\t')
		case 'u':
			if d.i+4 > len(d.b) {
				return nil, false
			}
			v, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 16)
			if err != nil {
				return nil, false
			}
			d.i += 4
			r := rune(v)
			if r >= 0xD800 && r < 0xDC00 && d.i+6 <= len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
				if lo, err := strconv.ParseUint(string(d.b[d.i+2:d.i+6]), 16, 16); err == nil && lo >= 0xDC00 && lo < 0xE000 {
					r = (r-0xD800)<<10 + (rune(lo) - 0xDC00) + 0x10000
					d.i += 6
				}
			}
			d.msg.scratch = appendRune(d.msg.scratch, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func appendRune(b []byte, r rune) []byte {
	var buf [4]byte
	n := encodeRune(buf[:], r)
	return append(b, buf[:n]...)
}

func encodeRune(p []byte, r rune) int {
	switch {
	case r < 0x80:
		p[0] = byte(r)
		return 1
	case r < 0x800:
		p[0], p[1] = 0xC0|byte(r>>6), 0x80|byte(r)&0x3F
		return 2
	case r >= 0xD800 && r < 0xE000, r > 0x10FFFF:
		p[0], p[1], p[2] = 0xEF, 0xBF, 0xBD // U+FFFD
		return 3
	case r < 0x10000:
		p[0], p[1], p[2] = 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F
		return 3
	default:
		p[0], p[1], p[2], p[3] = 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F
		return 4
	}
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number parses a JSON number. Plain decimals with at most 15 significant
// digits are computed exactly without allocating (mantissa and power of ten
// are both exact in a float64, so one division rounds correctly); anything
// else goes through strconv.
func (d *decoder) number() (float64, bool) {
	start := d.i
	neg := d.eat('-')
	intStart := d.i
	var mant uint64
	digits := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		mant = mant*10 + uint64(d.b[d.i]-'0')
		digits++
		d.i++
	}
	if d.i == intStart || (d.b[intStart] == '0' && d.i-intStart > 1) {
		return 0, false // no digits, or a leading zero
	}
	frac := 0
	if d.eat('.') {
		fs := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			mant = mant*10 + uint64(d.b[d.i]-'0')
			digits++
			d.i++
		}
		frac = d.i - fs
		if frac == 0 {
			return 0, false
		}
	}
	slow := false
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		es := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		if d.i == es {
			return 0, false
		}
		slow = true
	}
	if slow || digits > 15 || frac > 22 {
		f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		// Out of range is valid JSON: ±Inf (a reading's field then makes
		// the reading malformed) or 0.
		return f, true
	}
	f := float64(mant) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

// skip passes over one JSON value of any kind.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	d.ws()
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '{':
		d.i++
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		d.ws()
		if d.eat(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			return d.eat(']')
		}
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := d.number()
		return ok
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
				d.i += len(lit)
				return true
			}
		}
		return false
	}
}

// ParseTime parses an RFC 3339 time ("2026-03-01T08:00:00.5Z",
// "...+01:00") without allocating in the common forms.
func ParseTime(b []byte) (time.Time, bool) {
	// YYYY-MM-DDTHH:MM:SS is 19 bytes.
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		fs := i
		scale := 100_000_000
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-fs < 9 {
				nsec += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == fs {
			return time.Time{}, false
		}
	}
	if i >= len(b) {
		return time.Time{}, false
	}
	offset := 0
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return time.Time{}, false
		}
		oh, ok1 := num(b[i+1 : i+3])
		om, ok2 := num(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(b) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// Normalize validates a decoded reading and converts it to the canonical
// unit of its type. now is the receive time: it stands in for a missing time
// and bounds how far in the future a time may be. A refusal's detail says
// what to send instead (refusal.go); it is built only on refusal.
func Normalize(raw *Raw, device string, now time.Time, maxFuture, maxAge time.Duration, out *vitals.Reading) *vitals.RejectError {
	if raw.Malformed {
		return malformedReading(raw)
	}
	if raw.HasGATT {
		// Its readings are NormalizeGATT's: one item, several readings.
		return errGATTForm
	}
	spec, ok := vitals.LookupBytes(raw.Type)
	if !ok {
		return &vitals.RejectError{Reason: vitals.ReasonUnknownType, Detail: unknownType(raw.Type)}
	}
	var v1, v2 float64
	if spec.IsPanel() {
		if !raw.HasSystolic || !raw.HasDiastolic {
			return &vitals.RejectError{Reason: vitals.ReasonMissingValue, Detail: missingValue(spec)}
		}
		v1, v2 = raw.Systolic, raw.Diastolic
	} else {
		if !raw.HasValue {
			return &vitals.RejectError{Reason: vitals.ReasonMissingValue, Detail: missingValue(spec)}
		}
		v1 = raw.Value
	}
	v, dia, err := spec.Normalize(raw.Unit, v1, v2)
	if err != nil {
		return err.(*vitals.RejectError)
	}
	t := now
	if raw.HasTime {
		var ok bool
		if t, ok = ParseTime(raw.Time); !ok {
			return &vitals.RejectError{Reason: vitals.ReasonBadTime, Detail: badTime}
		}
		if t.Sub(now) > maxFuture {
			return &vitals.RejectError{Reason: vitals.ReasonFutureTime, Detail: futureTime(t.Sub(now), maxFuture)}
		}
		if maxAge > 0 && now.Sub(t) > maxAge {
			return &vitals.RejectError{Reason: vitals.ReasonTooOld, Detail: tooOld(maxAge)}
		}
	}
	*out = vitals.Reading{Device: device, Type: spec.Type, Time: t, Value: v, Diastolic: dia, Unit: spec.Canonical, ReceivedTime: !raw.HasTime}
	return nil
}
