package devices

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// A phone relaying its paired devices' Bluetooth values, as the GATT
// Specification Supplement lays them out: flags, then each field the flags
// announce, little-endian.

type value []byte

func (v value) u8(b uint8) value   { return append(v, b) }
func (v value) u16(x uint16) value { return binary.LittleEndian.AppendUint16(v, x) }
func (v value) u32(x uint32) value { return binary.LittleEndian.AppendUint32(v, x) }

// stamp is a Date Time field: the device's wall clock, no zone.
func (v value) stamp(t time.Time) value {
	return v.u16(uint16(t.Year())).u8(uint8(t.Month())).u8(uint8(t.Day())).u8(uint8(t.Hour())).u8(uint8(t.Minute())).u8(uint8(t.Second()))
}

func (v value) b64() string { return base64.StdEncoding.EncodeToString(v) }

// gattReading renders the GATT form of a reading; extra is more members
// of the reading object (a time) or of the gatt object (after a comma).
func gattReading(uuid string, v value, gattExtra, readingExtra string) string {
	return fmt.Sprintf(`{"gatt":{"uuid":%q,"value":%q%s}%s}`, uuid, v.b64(), gattExtra, readingExtra)
}

type rejectReport struct {
	Seq      int64 `json:"seq"`
	Accepted int   `json:"accepted"`
	Rejects  []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	} `json:"rejects"`
}

func subscribeRejects(t *testing.T, d *harness.Device) <-chan rejectReport {
	t.Helper()
	out := make(chan rejectReport, 16)
	tok := d.Client.Subscribe("vitalwire/v1/devices/"+d.ID+"/rejects", 1, func(_ mqtt.Client, m mqtt.Message) {
		var r rejectReport
		if json.Unmarshal(m.Payload(), &r) == nil {
			out <- r
		}
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	return out
}

func nextReport(t *testing.T, c <-chan rejectReport, seq int64) rejectReport {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-c:
			if r.Seq == seq {
				return r
			}
		case <-deadline:
			t.Fatalf("no rejects report for message %d within 5 s", seq)
		}
	}
}

func TestBluetoothGATTValuesRelayedOverMQTTAreStoredAsReadings(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	secret := svc.AddDevice(t, "hub-1", "patient-g")
	hub := harness.Connect(t, svc.BrokerURL(), "hub-1", secret)
	reports := subscribeRejects(t, hub)

	// The devices' clocks keep local time at UTC+01:00; the hub says so.
	zone := time.FixedZone("", 3600)
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	local := func(d time.Duration) time.Time { return base.Add(d).In(zone) }
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	from, to := base.Add(-time.Minute), base.Add(time.Hour)

	hub.Publish(harness.Batch(1,
		// A cuff in kPa, with its time stamp and a pulse rate: 16.0/10.7 kPa, 64 /min.
		gattReading("2A35", value{0x07}.u16(0xF0A0).u16(0xF06B).u16(0x07FF).stamp(local(0)).u16(0x0040), `,"utc_offset":"+01:00"`, ""),
		// A strap: uint8 72 /min, contact detected, two RR-intervals; the hub's time.
		gattReading("00002a37-0000-1000-8000-00805f9b34fb", value{0x16, 72}.u16(1024).u16(820), "", `,"time":"`+rfc(base.Add(time.Minute))+`"`),
		// A thermometer in Fahrenheit with its time stamp, ear: 98.6 [degF].
		gattReading("0x2A1C", value{0x07}.u32(0xFF0003DA).stamp(local(2*time.Minute)).u8(3), `,"utc_offset":"+01:00"`, ""),
		// An oximeter's spot check: 97 %, 61 /min; the hub's time.
		gattReading("2a5e", value{0x00}.u16(0x0061).u16(0x003D), "", `,"time":"`+rfc(base.Add(3*time.Minute))+`"`),
		// A scale in pounds with its time stamp: 154.32 lb.
		gattReading("2A9D", value{0x03}.u16(15432).stamp(local(4*time.Minute)), `,"utc_offset":"+01:00"`, ""),
		// A glucose meter's record 7, in mol/L: 5.5 mmol/L, base time plus 5 minutes.
		gattReading("2A18", value{0x07}.u16(7).stamp(local(0)).u16(5).u16(0xC037).u8(0x11), `,"utc_offset":"+01:00"`, ""),
	))

	t.Run("each characteristic becomes the readings it carries, in canonical units at the device's own time", func(t *testing.T) {
		svc.WaitCount(t, "patient-g", vitals.BloodGlucose, from, to, 1, 10*time.Second)
		got := func(typ vitals.Type) []harness.StoredReading {
			return svc.Readings(t, "patient-g", typ, from, to)
		}
		bp := got(vitals.BloodPressure)
		require.Len(t, bp, 1)
		require.InDelta(t, 120.0, bp[0].Value, 0.05, "16.0 kPa in mmHg")
		require.NotNil(t, bp[0].Diastolic)
		require.InDelta(t, 80.3, *bp[0].Diastolic, 0.05, "10.7 kPa in mmHg")
		require.Equal(t, "mm[Hg]", bp[0].Unit)
		require.True(t, bp[0].Time.Equal(base), "the cuff's local time stamp at +01:00: %v, want %v", bp[0].Time, base)
		require.False(t, bp[0].ReceivedTime)

		hr := got(vitals.HeartRate)
		require.Len(t, hr, 3, "the cuff's pulse rate, the strap and the oximeter's pulse rate")
		byTime := map[time.Duration]float64{}
		for _, r := range hr {
			byTime[r.Time.Sub(base)] = r.Value
		}
		require.Equal(t, map[time.Duration]float64{0: 64, time.Minute: 72, 3 * time.Minute: 61}, byTime)

		temp := got(vitals.BodyTemperature)
		require.Len(t, temp, 1)
		require.InDelta(t, 37.0, temp[0].Value, 1e-9)
		require.Equal(t, "Cel", temp[0].Unit)
		require.True(t, temp[0].Time.Equal(base.Add(2*time.Minute)))

		spo2 := got(vitals.SpO2)
		require.Len(t, spo2, 1)
		require.Equal(t, 97.0, spo2[0].Value)

		w := got(vitals.BodyWeight)
		require.Len(t, w, 1)
		require.InDelta(t, 70.0, w[0].Value, 0.01, "154.32 lb in kg")
		require.Equal(t, "kg", w[0].Unit)

		g := got(vitals.BloodGlucose)
		require.Len(t, g, 1)
		require.InDelta(t, 99.088, g[0].Value, 1e-9, "5.5 mmol/L in mg/dL")
		require.True(t, g[0].Time.Equal(base.Add(5*time.Minute)), "base time plus the time offset")
	})

	t.Run("bad values are refused one by one with their reason on the rejects topic, the good kept", func(t *testing.T) {
		good := gattReading("2A37", value{0x00, 88}, "", `,"time":"`+rfc(base.Add(10*time.Minute))+`"`)
		hub.Publish(harness.Batch(2,
			gattReading("2A35", value{0x00}.u16(0x07FF).u16(0x0050).u16(0x005D), "", `,"time":"`+rfc(base.Add(11*time.Minute))+`"`),
			gattReading("2A35", value{0x04}.u16(0x0078).u16(0x0050), "", ""),
			gattReading("2A19", value{0x50}, "", ""),
			gattReading("2A18", value{0x02}.u16(8).stamp(local(0)).u16(0xB064).u8(0x4A), `,"utc_offset":"Z"`, ""),
			gattReading("2A1C", value{0x02}.u32(0xFF00016F).stamp(local(0)), "", ""),
			`{"gatt":{"uuid":"2A37","value":"not base64!"}}`,
			`{"gatt":{"uuid":"2A37","value":"AEg="},"type":"heart_rate","value":72,"unit":"/min"}`,
			gattReading("2A37", value{0x04, 0}, "", ""),
			good,
		))
		r := nextReport(t, reports, 2)
		require.Equal(t, 1, r.Accepted)
		got := map[int]string{}
		for _, rej := range r.Rejects {
			got[rej.Index] = rej.Reason
			require.NotEmpty(t, rej.Detail, "every refusal says why")
			require.NotContains(t, rej.Detail, "AEg=", "no payload bytes in a detail")
		}
		require.Equal(t, map[int]string{
			0: "special_value",  // a NaN systolic
			1: "malformed",      // truncated before the MAP
			2: "unknown_type",   // the battery level is no vital
			3: "device_flagged", // a control solution test
			4: "bad_time",       // a local time stamp and no utc_offset
			5: "malformed",      // not base64
			6: "malformed",      // gatt and type/value/unit mixed
			7: "device_flagged", // a strap without skin contact
		}, got)
		for _, rej := range r.Rejects {
			switch rej.Index {
			case 0:
				require.Contains(t, rej.Detail, "systolic is NaN")
			case 1:
				require.Contains(t, rej.Detail, "mean arterial pressure")
			case 4:
				require.Contains(t, rej.Detail, "utc_offset")
			}
		}
		svc.WaitCount(t, "patient-g", vitals.HeartRate, from, to, 4, 10*time.Second)
		n, _ := svc.Stats(t, "patient-g", vitals.BloodPressure, from, to)
		require.EqualValues(t, 1, n, "no blood pressure from the refused values")
	})

	t.Run("the same value relayed twice is stored once", func(t *testing.T) {
		at := `,"time":"` + rfc(base.Add(20*time.Minute)) + `"`
		hub.Publish(gattReading("2A5E", value{0x00}.u16(0x0060).u16(0x0042), "", at))
		hub.Publish(gattReading("2A5E", value{0x00}.u16(0x0060).u16(0x0042), "", at))
		svc.WaitCount(t, "patient-g", vitals.SpO2, from, to, 2, 10*time.Second)
		require.Eventually(t, func() bool { return svc.Metrics(t)["vitalwire_readings_duplicate_total"] >= 2 }, 10*time.Second, 20*time.Millisecond)
		n, _ := svc.Stats(t, "patient-g", vitals.SpO2, from, to)
		require.EqualValues(t, 2, n)
	})

	t.Run("the refusals are counted by their reason", func(t *testing.T) {
		m := svc.Metrics(t)
		for _, reason := range []string{"special_value", "device_flagged"} {
			key := `vitalwire_readings_refused_total{reason="` + reason + `"}`
			require.GreaterOrEqual(t, m[key], 1.0, "%s in %v", key, strings.Join(keysOf(m, "refused"), " "))
		}
	})
}

func keysOf(m map[string]float64, sub string) []string {
	var out []string
	for k := range m {
		if strings.Contains(k, sub) {
			out = append(out, k)
		}
	}
	return out
}
