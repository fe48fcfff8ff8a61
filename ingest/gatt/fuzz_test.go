package gatt_test

import (
	"math"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/ingest/gatt"
	"github.com/vitalwire/vitalwire/vitals"
)

// check is what every decoder keeps for any bytes: no panic; a refusal of
// the whole value is malformed or bad_time with a detail; otherwise each
// reading is of a catalog type in a unit the catalog accepts for it, a
// number unless refused for a reason of its own, and its time stamp a
// real date.
func check(t *testing.T, u gatt.UUID, v []byte) {
	rs, err := gatt.Decode(u, v, nil)
	if err != nil {
		if (err.Reason != vitals.ReasonMalformed && err.Reason != vitals.ReasonBadTime) || err.Detail == "" {
			t.Fatalf("%s % X: whole-value refusal %v", u, v, err)
		}
		return
	}
	if len(rs) == 0 {
		t.Fatalf("%s % X: decoded to no reading", u, v)
	}
	for _, r := range rs {
		spec, ok := vitals.Lookup(r.Type)
		if !ok {
			t.Fatalf("%s: type %q not in the catalog", u, r.Type)
		}
		if _, ok := spec.Unit(r.Unit); !ok {
			t.Fatalf("%s: unit %q not accepted for %s", u, r.Unit, r.Type)
		}
		if r.Refused != nil {
			switch r.Refused.Reason {
			case vitals.ReasonSpecialValue, vitals.ReasonDeviceFlagged, vitals.ReasonMissingValue:
			default:
				t.Fatalf("%s % X: reading refused for %v", u, v, r.Refused)
			}
			continue
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || math.IsNaN(r.Diastolic) || math.IsInf(r.Diastolic, 0) {
			t.Fatalf("%s % X: %v is no number", u, v, r)
		}
		if r.HasTime {
			d := r.Time
			if !d.Known() || d.In(time.UTC).Day() != int(d.Day) || d.In(time.UTC).Hour() != int(d.Hours) {
				t.Fatalf("%s % X: time stamp %+v is no date", u, v, d)
			}
		}
	}
}

func fuzz(f *testing.F, u gatt.UUID, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v []byte) { check(t, u, v) })
}

func FuzzHeartRate(f *testing.F) {
	fuzz(f, gatt.HeartRateMeasurement, []byte{0x00, 0x48}, []byte{0x1F, 0x2C, 0x01, 0xE8, 0x03, 0x00, 0x04, 0x00, 0x02}, []byte{0x10, 0x48, 0x00})
}

func FuzzBloodPressure(f *testing.F) {
	fuzz(f, gatt.BloodPressureMeasurement,
		le{0x1F}.u16(0xF0A0).u16(0xF06B).u16(0xF07C).dateTime(stamp).u16(0x48).u8(1).u16(0x24),
		le{0x04}.u16(0x07FF).u16(0x50).u16(0x07FF).u16(0x48))
}

func FuzzTemperature(f *testing.F) {
	fuzz(f, gatt.TemperatureMeasurement, le{0x07}.u32(0xFF0003DA).dateTime(stamp).u8(2), le{0x00}.u32(0x007FFFFE))
}

func FuzzPLXSpotCheck(f *testing.F) {
	fuzz(f, gatt.PLXSpotCheckMeasurement, le{0x1F}.u16(0x61).u16(0x40).dateTime(stamp).u16(0x80).u24(0x20).u16(0xF01E), le{0x02}.u16(0x61).u16(0x40).u16(0x8000))
}

func FuzzPLXContinuous(f *testing.F) {
	fuzz(f, gatt.PLXContinuousMeasurement, le{0x1F}.u16(0x62).u16(0x41).u16(0x63).u16(0x42).u16(0x60).u16(0x43).u16(0x20).u24(0x200).u16(2))
}

func FuzzWeight(f *testing.F) {
	fuzz(f, gatt.WeightMeasurement, le{0x0F}.u16(15432).dateTime(stamp).u8(0xFF).u16(229).u16(689), le{0x00}.u16(0xFFFF))
}

func FuzzGlucose(f *testing.F) {
	fuzz(f, gatt.GlucoseMeasurement, le{0x1F}.u16(17).dateTime(stamp).u16(0xFFF1).u16(0xC037).u8(0x11).u16(0x0801), le{0x02}.u16(1).dateTime(gatt.DateTime{}).u16(0xB064).u8(0x4A))
}
