package gatt_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/ingest/gatt"
	"github.com/vitalwire/vitalwire/vitals"
)

// The vectors below are built field by field from the characteristics'
// definitions in the GATT Specification Supplement (flags first, then each
// field in the order listed, present only when its flag says so, all
// little-endian), for every combination of the flag bits the definition
// names; the reserved bits are set on every other combination, since a
// receiver ignores them.

// le appends little-endian fields.
type le []byte

func (b le) u8(v uint8) le   { return append(b, v) }
func (b le) u16(v uint16) le { return binary.LittleEndian.AppendUint16(b, v) }
func (b le) u24(v uint32) le { return append(b, byte(v), byte(v>>8), byte(v>>16)) }
func (b le) u32(v uint32) le { return binary.LittleEndian.AppendUint32(b, v) }

// stamp is 2026-03-01 07:59:30 as a Date Time field.
var stamp = gatt.DateTime{Year: 2026, Month: 3, Day: 1, Hours: 7, Minutes: 59, Seconds: 30}

func (b le) dateTime(d gatt.DateTime) le {
	return b.u16(d.Year).u8(d.Month).u8(d.Day).u8(d.Hours).u8(d.Minutes).u8(d.Seconds)
}

// rfu sets a characteristic's reserved flag bits on odd combinations.
func rfu(flags, named uint8) uint8 {
	if flags&1 == 1 {
		return flags | ^named
	}
	return flags
}

// truncations checks that every proper prefix of a value is refused as
// malformed, with the field that is missing named, and never panics.
func truncations(t *testing.T, u gatt.UUID, v []byte) {
	t.Helper()
	for k := range len(v) {
		_, err := gatt.Decode(u, v[:k], nil)
		require.NotNil(t, err, "%s truncated to %d of %d bytes", u, k, len(v))
		require.Equal(t, vitals.ReasonMalformed, err.Reason, "%s truncated to %d bytes", u, k)
		require.Contains(t, err.Detail, "ends before its", "%s truncated to %d bytes", u, k)
	}
}

func one(t *testing.T, u gatt.UUID, v []byte) []gatt.Reading {
	t.Helper()
	rs, err := gatt.Decode(u, v, nil)
	require.Nil(t, err, "%s % X", u, v)
	return rs
}

func TestHeartRateMeasurement(t *testing.T) {
	const named = 0x1F
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			v := le{flags}
			want := gatt.HeartRate{BPM: 72}
			if f&0x01 != 0 {
				want.BPM = 300
				v = v.u16(300)
			} else {
				v = v.u8(72)
			}
			switch f & 0x06 {
			case 0x04:
				want.Contact = gatt.ContactLost
			case 0x06:
				want.Contact = gatt.ContactDetected
			}
			if f&0x08 != 0 {
				v, want.EnergyKJ, want.HasEnergy = v.u16(1234), 1234, true
			}
			head := len(v)
			if f&0x10 != 0 {
				v = v.u16(1024).u16(512).u16(870)
				want.RR = []time.Duration{time.Second, 500 * time.Millisecond, 870 * time.Second / 1024}
			}
			m, err := gatt.DecodeHeartRate(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.HeartRateMeasurement, v)
			require.Len(t, rs, 1)
			require.Equal(t, vitals.HeartRate, rs[0].Type)
			require.Equal(t, "/min", rs[0].Unit)
			require.Equal(t, float64(want.BPM), rs[0].Value)
			if want.Contact == gatt.ContactLost {
				require.Equal(t, vitals.ReasonDeviceFlagged, rs[0].Refused.Reason, "no skin contact: no heart rate")
			} else {
				require.Nil(t, rs[0].Refused)
			}
			truncations(t, gatt.HeartRateMeasurement, v[:head])
			if f&0x10 != 0 {
				for _, cut := range []int{head, head + 1, head + 3, head + 5} {
					_, err := gatt.DecodeHeartRate(v[:cut])
					require.NotNil(t, err, "RR-intervals cut to %d bytes", cut-head)
					require.Contains(t, err.Detail, "RR-intervals")
				}
			}
		})
	}
	t.Run("a hand-written value: uint8 rate, contact detected, two RR-intervals", func(t *testing.T) {
		m, err := gatt.DecodeHeartRate([]byte{0x16, 0x3C, 0x00, 0x04, 0x33, 0x03})
		require.Nil(t, err)
		require.Equal(t, uint16(60), m.BPM)
		require.Equal(t, gatt.ContactDetected, m.Contact)
		require.Equal(t, []time.Duration{time.Second, 819 * time.Second / 1024}, m.RR)
	})
}

func TestBloodPressureMeasurement(t *testing.T) {
	const named = 0x1F
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			kpa := f&0x01 != 0
			// 120/80 mmHg, MAP 93; in kPa 16.0/10.7, MAP 12.4
			sys, dia, mean := uint16(0x0078), uint16(0x0050), uint16(0x005D)
			if kpa {
				sys, dia, mean = 0xF0A0, 0xF06B, 0xF07C
			}
			v := le{flags}.u16(sys).u16(dia).u16(mean)
			want := gatt.BloodPressure{KPa: kpa, Systolic: gatt.SFloat(sys), Diastolic: gatt.SFloat(dia), MAP: gatt.SFloat(mean)}
			if f&0x02 != 0 {
				v, want.Time, want.HasTime = v.dateTime(stamp), stamp, true
			}
			if f&0x04 != 0 {
				v, want.PulseRate, want.HasPulse = v.u16(0x0048), 0x0048, true
			}
			if f&0x08 != 0 {
				v, want.User, want.HasUser = v.u8(2), 2, true
			}
			if f&0x10 != 0 {
				st := gatt.IrregularPulse | gatt.CuffTooLoose | 1<<3 // pulse above range
				v, want.Status, want.HasStatus = v.u16(uint16(st)), st, true
			}
			m, err := gatt.DecodeBloodPressure(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.BloodPressureMeasurement, v)
			require.Equal(t, vitals.BloodPressure, rs[0].Type)
			require.Equal(t, "mm[Hg]", rs[0].Unit, "kPa is given in mmHg")
			if kpa {
				require.InDelta(t, 120.01, rs[0].Value, 0.01)
				require.InDelta(t, 80.26, rs[0].Diastolic, 0.01)
			} else {
				require.Equal(t, 120.0, rs[0].Value)
				require.Equal(t, 80.0, rs[0].Diastolic)
			}
			require.Nil(t, rs[0].Refused, "a cuff's status bits refuse nothing")
			require.Equal(t, want.HasTime, rs[0].HasTime)
			if want.HasPulse {
				require.Len(t, rs, 2)
				require.Equal(t, gatt.Reading{Type: vitals.HeartRate, Unit: "/min", Value: 72, Time: want.Time, HasTime: want.HasTime}, rs[1])
			} else {
				require.Len(t, rs, 1)
			}
			if want.HasStatus {
				require.EqualValues(t, 1, m.Status.PulseRange())
			}
			truncations(t, gatt.BloodPressureMeasurement, v)
		})
	}
	t.Run("special values: systolic or diastolic refuse the pressure, the pulse rate its own reading, MAP nothing", func(t *testing.T) {
		for _, tc := range []struct {
			sys, dia, mean, pulse uint16
			bp, pr                vitals.Reason
			detail                string
		}{
			{0x07FF, 0x0050, 0x005D, 0x0048, vitals.ReasonSpecialValue, "", "systolic is NaN"},
			{0x0078, 0x07FE, 0x005D, 0x0048, vitals.ReasonSpecialValue, "", "diastolic is +INF"},
			{0x0078, 0x0050, 0x07FF, 0x0048, "", "", ""},
			{0x0078, 0x0050, 0x0800, 0x0802, "", vitals.ReasonSpecialValue, "pulse rate is -INF"},
			{0x0078, 0x0050, 0x005D, 0x0800, "", vitals.ReasonSpecialValue, "pulse rate is NRes"},
			{0x0801, 0x0050, 0x005D, 0x0048, vitals.ReasonSpecialValue, "", "systolic is a reserved special value"},
		} {
			rs := one(t, gatt.BloodPressureMeasurement, le{0x04}.u16(tc.sys).u16(tc.dia).u16(tc.mean).u16(tc.pulse))
			require.Len(t, rs, 2)
			for i, want := range []vitals.Reason{tc.bp, tc.pr} {
				if want == "" {
					require.Nil(t, rs[i].Refused, "% X", tc)
					continue
				}
				require.Equal(t, want, rs[i].Refused.Reason)
				require.Contains(t, rs[i].Refused.Detail, tc.detail)
			}
		}
	})
}

func TestTemperatureMeasurement(t *testing.T) {
	const named = 0x07
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			raw := uint32(0xFF00016F) // 36.7
			if f&0x01 != 0 {
				raw = 0xFF0003DA // 98.6
			}
			v := le{flags}.u32(raw)
			want := gatt.Temperature{Fahrenheit: f&0x01 != 0, Value: gatt.Float(raw)}
			if f&0x02 != 0 {
				v, want.Time, want.HasTime = v.dateTime(stamp), stamp, true
			}
			if f&0x04 != 0 {
				v, want.Site, want.HasSite = v.u8(uint8(gatt.SiteTympanum)), gatt.SiteTympanum, true
			}
			m, err := gatt.DecodeTemperature(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.TemperatureMeasurement, v)
			require.Len(t, rs, 1)
			require.Equal(t, vitals.BodyTemperature, rs[0].Type)
			if want.Fahrenheit {
				require.Equal(t, "[degF]", rs[0].Unit)
				require.InDelta(t, 98.6, rs[0].Value, 1e-12)
			} else {
				require.Equal(t, "Cel", rs[0].Unit)
				require.InDelta(t, 36.7, rs[0].Value, 1e-12)
			}
			require.Equal(t, want.HasTime, rs[0].HasTime)
			truncations(t, gatt.TemperatureMeasurement, v)
		})
	}
	for raw, name := range map[uint32]string{0x007FFFFF: "NaN", 0x00800000: "NRes", 0x007FFFFE: "+INF", 0x00800002: "-INF", 0x00800001: "a reserved special value"} {
		t.Run("the special value "+name+" is refused with its name", func(t *testing.T) {
			rs := one(t, gatt.TemperatureMeasurement, le{0x00}.u32(raw))
			require.Equal(t, vitals.ReasonSpecialValue, rs[0].Refused.Reason)
			require.Contains(t, rs[0].Refused.Detail, "0x2A1C temperature is "+name)
		})
	}
}

func TestPLXSpotCheckMeasurement(t *testing.T) {
	const named = 0x1F
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			v := le{flags}.u16(0x0061).u16(0x0040) // 97 %, 64 /min
			want := gatt.PLXSpotCheck{SpO2: 0x0061, PulseRate: 0x0040}
			if f&0x01 != 0 {
				v, want.Time, want.HasTime = v.dateTime(stamp), stamp, true
			}
			if f&0x02 != 0 {
				st := gatt.PLXValidated | gatt.PLXQuestionable
				v, want.Status, want.HasStatus = v.u16(uint16(st)), st, true
			}
			if f&0x04 != 0 {
				ss := gatt.PLXSensor(1<<5 | 1<<4) // low perfusion, poor signal
				v, want.Sensor, want.HasSensor = v.u24(uint32(ss)), ss, true
			}
			if f&0x08 != 0 {
				v, want.PAI, want.HasPAI = v.u16(0xF01E), 0xF01E, true // 3.0 %
			}
			if f&0x10 != 0 {
				want.ClockNotSet, want.HasTime = true, false
			}
			m, err := gatt.DecodePLXSpotCheck(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.PLXSpotCheckMeasurement, v)
			require.Equal(t, []gatt.Reading{
				{Type: vitals.SpO2, Unit: "%", Value: 97, Time: want.Time, HasTime: want.HasTime},
				{Type: vitals.HeartRate, Unit: "/min", Value: 64, Time: want.Time, HasTime: want.HasTime},
			}, rs, "the oximeter's caveats refuse nothing; an unset clock's time stamp is not used")
			truncations(t, gatt.PLXSpotCheckMeasurement, v)
		})
	}
	t.Run("status bits that make the value no measurement refuse both readings", func(t *testing.T) {
		for _, tc := range []struct {
			status uint16
			sensor uint32
			detail string
		}{
			{1 << 13, 0, "unavailable"},
			{1 << 15, 0, "invalid measurement"},
			{1 << 10, 0, "demonstration or test"},
			{1 << 11, 0, "demonstration or test"},
			{1 << 12, 0, "calibration"},
			{0, 1 << 1, "malfunction"},
			{0, 1 << 14, "malfunction"},
			{0, 1 << 11, "not on the patient"},
			{0, 1 << 15, "disconnected"},
		} {
			rs := one(t, gatt.PLXSpotCheckMeasurement, le{0x06}.u16(0x0061).u16(0x0040).u16(tc.status).u24(tc.sensor))
			for _, r := range rs {
				require.Equal(t, vitals.ReasonDeviceFlagged, r.Refused.Reason, tc.detail)
				require.Contains(t, r.Refused.Detail, tc.detail)
				require.Contains(t, r.Refused.Detail, "0x2A5E")
			}
		}
	})
	t.Run("a special SpO2 refuses the SpO2 and keeps the pulse rate", func(t *testing.T) {
		rs := one(t, gatt.PLXSpotCheckMeasurement, le{0x00}.u16(0x07FF).u16(0x0040))
		require.Equal(t, vitals.ReasonSpecialValue, rs[0].Refused.Reason)
		require.Contains(t, rs[0].Refused.Detail, "SpO2 is NaN")
		require.Nil(t, rs[1].Refused)
	})
}

func TestPLXContinuousMeasurement(t *testing.T) {
	const named = 0x1F
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			v := le{flags}.u16(0x0062).u16(0x0041) // 98 %, 65 /min
			want := gatt.PLXContinuous{SpO2PR: gatt.SpO2PR{SpO2: 0x0062, PulseRate: 0x0041}}
			if f&0x01 != 0 {
				v, want.Fast, want.HasFast = v.u16(0x0063).u16(0x0042), gatt.SpO2PR{SpO2: 0x0063, PulseRate: 0x0042}, true
			}
			if f&0x02 != 0 {
				v, want.Slow, want.HasSlow = v.u16(0x0060).u16(0x0043), gatt.SpO2PR{SpO2: 0x0060, PulseRate: 0x0043}, true
			}
			if f&0x04 != 0 {
				v, want.Status, want.HasStatus = v.u16(uint16(gatt.PLXOngoing)), gatt.PLXOngoing, true
			}
			if f&0x08 != 0 {
				v, want.Sensor, want.HasSensor = v.u24(1<<9), 1<<9, true
			}
			if f&0x10 != 0 {
				v, want.PAI, want.HasPAI = v.u16(0x0002), 0x0002, true
			}
			m, err := gatt.DecodePLXContinuous(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.PLXContinuousMeasurement, v)
			require.Equal(t, []gatt.Reading{
				{Type: vitals.SpO2, Unit: "%", Value: 98},
				{Type: vitals.HeartRate, Unit: "/min", Value: 65},
			}, rs, "the normal pair, with no time stamp of its own")
			truncations(t, gatt.PLXContinuousMeasurement, v)
		})
	}
}

func TestWeightMeasurement(t *testing.T) {
	const named = 0x0F
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			imperial := f&0x01 != 0
			raw := uint16(14000) // 70 kg at 0.005 kg
			if imperial {
				raw = 15432 // 154.32 lb at 0.01 lb
			}
			v := le{flags}.u16(raw)
			want := gatt.Weight{Imperial: imperial, Raw: raw}
			if f&0x02 != 0 {
				v, want.Time, want.HasTime = v.dateTime(stamp), stamp, true
			}
			if f&0x04 != 0 {
				v, want.User, want.HasUser = v.u8(0xFF), 0xFF, true
			}
			if f&0x08 != 0 {
				h := uint16(1750) // 1.750 m
				if imperial {
					h = 689 // 68.9 in
				}
				v, want.BMI, want.Height, want.HasBMI = v.u16(229).u16(h), 229, h, true
			}
			m, err := gatt.DecodeWeight(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.WeightMeasurement, v)
			require.Len(t, rs, 1)
			require.Equal(t, vitals.BodyWeight, rs[0].Type)
			if imperial {
				require.Equal(t, "[lb_av]", rs[0].Unit)
				require.Equal(t, 154.32, rs[0].Value)
			} else {
				require.Equal(t, "kg", rs[0].Unit)
				require.Equal(t, 70.0, rs[0].Value)
			}
			if want.HasBMI {
				h, unit := m.HeightValue()
				if imperial {
					require.Equal(t, 68.9, h)
					require.Equal(t, "[in_i]", unit)
				} else {
					require.Equal(t, 1.75, h)
					require.Equal(t, "m", unit)
				}
			}
			truncations(t, gatt.WeightMeasurement, v)
		})
	}
	t.Run("the resolutions: 0.005 kg and 0.01 lb", func(t *testing.T) {
		rs := one(t, gatt.WeightMeasurement, le{0x00}.u16(1))
		require.Equal(t, 0.005, rs[0].Value)
		rs = one(t, gatt.WeightMeasurement, le{0x01}.u16(1))
		require.Equal(t, 0.01, rs[0].Value)
	})
	t.Run("0xFFFF is a measurement unsuccessful, refused", func(t *testing.T) {
		rs := one(t, gatt.WeightMeasurement, le{0x00}.u16(0xFFFF))
		require.Equal(t, vitals.ReasonSpecialValue, rs[0].Refused.Reason)
		require.Contains(t, rs[0].Refused.Detail, "unsuccessful")
	})
}

func TestGlucoseMeasurement(t *testing.T) {
	const named = 0x1F
	for f := range uint8(named + 1) {
		flags := rfu(f, named)
		t.Run(fmt.Sprintf("flags 0x%02X", flags), func(t *testing.T) {
			v := le{flags}.u16(17).dateTime(stamp)
			want := gatt.Glucose{Seq: 17, Base: stamp, HasBase: true, MolPerL: f&0x04 != 0, ContextFollows: f&0x10 != 0}
			if f&0x01 != 0 {
				v, want.Offset, want.HasOffset = v.u16(0xFFF1), -15, true
			}
			if f&0x02 != 0 {
				conc := uint16(0xB064) // 100 x 10^-5 kg/L
				if want.MolPerL {
					conc = 0xC037 // 55 x 10^-4 mol/L
				}
				// capillary whole blood (low nibble) from a finger (high nibble)
				v, want.Concentration, want.HasConcentration = v.u16(conc).u8(0x11), gatt.SFloat(conc), true
				want.Type, want.Location = gatt.CapillaryWholeBlood, gatt.LocationFinger
			}
			if f&0x08 != 0 {
				v, want.Status, want.HasStatus = v.u16(uint16(gatt.BatteryLow|gatt.TimeFault)), gatt.BatteryLow|gatt.TimeFault, true
			}
			m, err := gatt.DecodeGlucose(v)
			require.Nil(t, err)
			require.Equal(t, want, m)
			rs := one(t, gatt.GlucoseMeasurement, v)
			require.Len(t, rs, 1)
			g := rs[0]
			require.Equal(t, vitals.BloodGlucose, g.Type)
			require.Equal(t, stamp, g.Time)
			require.True(t, g.HasTime)
			require.Equal(t, want.Offset, g.Offset)
			switch {
			case !want.HasConcentration:
				require.Equal(t, vitals.ReasonMissingValue, g.Refused.Reason)
			case want.MolPerL:
				require.Nil(t, g.Refused, "a low battery or a time fault refuses nothing")
				require.Equal(t, "mmol/L", g.Unit)
				require.Equal(t, 5.5, g.Value)
			default:
				require.Nil(t, g.Refused)
				require.Equal(t, "mg/dL", g.Unit)
				require.Equal(t, 100.0, g.Value)
			}
			truncations(t, gatt.GlucoseMeasurement, v)
		})
	}
	conc := func(typeLoc uint8, status uint16) gatt.Reading {
		return one(t, gatt.GlucoseMeasurement, le{0x0A}.u16(1).dateTime(stamp).u16(0xB064).u8(typeLoc).u16(status))[0]
	}
	t.Run("the nibbles: type low, sample location high", func(t *testing.T) {
		m, err := gatt.DecodeGlucose(le{0x02}.u16(1).dateTime(stamp).u16(0xB064).u8(0xF9))
		require.Nil(t, err)
		require.Equal(t, gatt.InterstitialFluid, m.Type)
		require.Equal(t, gatt.LocationNotAvailable, m.Location)
	})
	t.Run("a control solution test is refused, by type or by location", func(t *testing.T) {
		for _, tl := range []uint8{0x1A, 0x41} {
			g := conc(tl, 0)
			require.Equal(t, vitals.ReasonDeviceFlagged, g.Refused.Reason)
			require.Contains(t, g.Refused.Detail, "control solution")
		}
	})
	t.Run("a result the meter flagged is refused, each fault bit", func(t *testing.T) {
		for bit := 1; bit <= 10; bit++ {
			g := conc(0x11, 1<<bit)
			require.NotNil(t, g.Refused, "status bit %d", bit)
			require.Equal(t, vitals.ReasonDeviceFlagged, g.Refused.Reason, "status bit %d", bit)
		}
		require.Contains(t, conc(0x11, 1<<5).Refused.Detail, "outside what it can measure")
	})
	t.Run("a special concentration is refused", func(t *testing.T) {
		g := conc(0x11, 0)
		require.Nil(t, g.Refused)
		g = one(t, gatt.GlucoseMeasurement, le{0x02}.u16(1).dateTime(stamp).u16(0x07FE).u8(0x11))[0]
		require.Equal(t, vitals.ReasonSpecialValue, g.Refused.Reason)
		require.Contains(t, g.Refused.Detail, "+INF")
	})
	t.Run("a base time the meter does not know leaves the reading without one", func(t *testing.T) {
		g := one(t, gatt.GlucoseMeasurement, le{0x02}.u16(1).dateTime(gatt.DateTime{}).u16(0xB064).u8(0x11))[0]
		require.False(t, g.HasTime)
	})
}

func TestDecodeRefusals(t *testing.T) {
	t.Run("an unsupported characteristic names the supported ones", func(t *testing.T) {
		_, err := gatt.Decode(0x2A19, []byte{0x50}, nil) // Battery Level
		require.Equal(t, vitals.ReasonUnknownType, err.Reason)
		require.Contains(t, err.Detail, "0x2A19")
		require.Contains(t, err.Detail, "0x2A35")
	})
	t.Run("a time stamp that is no date refuses the value", func(t *testing.T) {
		for _, d := range []gatt.DateTime{
			{Year: 2026, Month: 13, Day: 1}, {Year: 2026, Month: 2, Day: 29}, {Year: 2026, Month: 4, Day: 31},
			{Year: 2026, Month: 3, Day: 1, Hours: 24}, {Year: 2026, Month: 3, Day: 1, Minutes: 60},
			{Year: 2026, Month: 3, Day: 1, Seconds: 60}, {Year: 1581, Month: 3, Day: 1}, {Year: 10000, Month: 3, Day: 1},
		} {
			_, err := gatt.Decode(gatt.BloodPressureMeasurement, le{0x02}.u16(0x78).u16(0x50).u16(0x5D).dateTime(d), nil)
			require.NotNil(t, err, "%+v", d)
			require.Equal(t, vitals.ReasonBadTime, err.Reason, "%+v", d)
		}
		rs := one(t, gatt.BloodPressureMeasurement, le{0x02}.u16(0x78).u16(0x50).u16(0x5D).dateTime(gatt.DateTime{Year: 2024, Month: 2, Day: 29}))
		require.True(t, rs[0].HasTime, "a leap day is a date")
	})
	t.Run("a value over the attribute maximum is refused", func(t *testing.T) {
		v := append(le{0x10, 60}, make([]byte, gatt.MaxValue)...)
		_, err := gatt.Decode(gatt.HeartRateMeasurement, v, nil)
		require.Equal(t, vitals.ReasonMalformed, err.Reason)
	})
}
