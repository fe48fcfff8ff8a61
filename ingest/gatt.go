package ingest

import (
	"encoding/base64"
	"time"

	"github.com/vitalwire/vitalwire/ingest/gatt"
	"github.com/vitalwire/vitalwire/vitals"
)

// errGATTForm answers Normalize for an item in the GATT form, whose
// readings only NormalizeGATT gives.
var errGATTForm = &vitals.RejectError{Reason: vitals.ReasonMalformed, Detail: "a gatt reading is read from its characteristic"}

// maxValueBase64 is the longest base64 text of a characteristic value.
var maxValueBase64 = base64.StdEncoding.EncodedLen(gatt.MaxValue)

// NormalizeGATT validates an item in its Bluetooth form and appends the
// readings its characteristic carries to out, each in the canonical unit
// of its type, and the refused ones to refused: one characteristic gives
// several readings (a cuff's pressure and pulse rate), each refused or
// kept on its own.
//
// A reading's time is the characteristic's own time stamp, read at the
// item's gatt.utc_offset (a device's clock keeps local time and says no
// zone; without the offset the reading is refused); for a characteristic
// without one, the item's time, else the receive time (flagged).
func NormalizeGATT(raw *Raw, device string, now time.Time, maxFuture, maxAge time.Duration, out []vitals.Reading, refused []*vitals.RejectError) ([]vitals.Reading, []*vitals.RejectError) {
	refuse := func(reason vitals.Reason, detail string) ([]vitals.Reading, []*vitals.RejectError) {
		return out, append(refused, &vitals.RejectError{Reason: reason, Detail: detail})
	}
	g := &raw.GATT
	switch {
	case raw.Malformed:
		return refuse(vitals.ReasonMalformed, "reading is not an object of the contract's fields")
	case raw.seen&seenPlain != 0:
		return refuse(vitals.ReasonMalformed, "a gatt reading has no type, value or unit: its characteristic gives them")
	case !g.HasUUID || !g.HasValue:
		return refuse(vitals.ReasonMalformed, "gatt needs uuid and value")
	}
	u, ok := gatt.ParseUUID(g.UUID)
	if !ok {
		return refuse(vitals.ReasonMalformed, `gatt.uuid is not a 16-bit UUID: "2A35", "0x2A35" or "00002a35-0000-1000-8000-00805f9b34fb"`)
	}
	if len(g.Value) > maxValueBase64 {
		return refuse(vitals.ReasonMalformed, "gatt.value is longer than a characteristic can be (512 bytes)")
	}
	var buf [gatt.MaxValue + 3]byte
	enc := base64.StdEncoding
	if len(g.Value)%4 != 0 {
		enc = base64.RawStdEncoding // padding left off
	}
	n, err := enc.Decode(buf[:], g.Value)
	if err != nil {
		return refuse(vitals.ReasonMalformed, "gatt.value is not base64 (RFC 4648, standard alphabet)")
	}
	var zone *time.Location
	if g.HasOffset {
		if zone, ok = parseOffset(g.UTCOffset); !ok {
			return refuse(vitals.ReasonBadTime, `gatt.utc_offset is not a UTC offset such as "+01:00", "-05:00" or "Z"`)
		}
	}
	itemTime, hasItemTime := now, false
	if raw.HasTime {
		if itemTime, ok = ParseTime(raw.Time); !ok {
			return refuse(vitals.ReasonBadTime, "time is not RFC 3339")
		}
		hasItemTime = true
	}
	var parts [4]gatt.Reading
	rs, rej := gatt.Decode(u, buf[:n], parts[:0])
	if rej != nil {
		return out, append(refused, rej)
	}
	for _, p := range rs {
		if p.Refused != nil {
			refused = append(refused, p.Refused)
			continue
		}
		spec, _ := vitals.Lookup(p.Type)
		v, dia, err := spec.Normalize([]byte(p.Unit), p.Value, p.Diastolic)
		if err != nil {
			refused = append(refused, err.(*vitals.RejectError))
			continue
		}
		t, received := itemTime, !hasItemTime
		if p.HasTime {
			if zone == nil {
				refused = append(refused, &vitals.RejectError{Reason: vitals.ReasonBadTime,
					Detail: u.String() + ` time stamp is the device's local time: send gatt.utc_offset ("+01:00", "Z")`})
				continue
			}
			t, received = p.Time.In(zone).Add(time.Duration(p.Offset)*time.Minute), false
		}
		if !received {
			if t.Sub(now) > maxFuture {
				refused = append(refused, &vitals.RejectError{Reason: vitals.ReasonFutureTime, Detail: "time ahead of the server clock"})
				continue
			}
			if maxAge > 0 && now.Sub(t) > maxAge {
				refused = append(refused, &vitals.RejectError{Reason: vitals.ReasonTooOld, Detail: "time older than the back-fill window"})
				continue
			}
		}
		out = append(out, vitals.Reading{Device: device, Type: spec.Type, Time: t.UTC(), Value: v, Diastolic: dia,
			Unit: spec.Canonical, ReceivedTime: received})
	}
	return out, refused
}

// parseOffset reads "Z" or "+hh:mm" / "-hh:mm" (RFC 3339's time-offset).
func parseOffset(b []byte) (*time.Location, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return time.UTC, true
	}
	if len(b) != 6 || (b[0] != '+' && b[0] != '-') || b[3] != ':' {
		return nil, false
	}
	d := func(c byte) (int, bool) { return int(c - '0'), c >= '0' && c <= '9' }
	h1, ok1 := d(b[1])
	h2, ok2 := d(b[2])
	m1, ok3 := d(b[4])
	m2, ok4 := d(b[5])
	h, m := h1*10+h2, m1*10+m2
	if !(ok1 && ok2 && ok3 && ok4) || h > 23 || m > 59 {
		return nil, false
	}
	sec := h*3600 + m*60
	if b[0] == '-' {
		sec = -sec
	}
	return time.FixedZone("", sec), true
}
