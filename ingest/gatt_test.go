package ingest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

func TestDecodeGATTForm(t *testing.T) {
	t.Run("the gatt object's members are taken, unknown ones skipped", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(`{"gatt":{"uuid":"2A37","value":"AEg=","utc_offset":"+01:00","note":[1]},"time":"2026-03-01T08:00:00Z"}`), &m))
		r := m.Readings[0]
		require.True(t, r.HasGATT)
		require.False(t, r.Malformed)
		require.Equal(t, "2A37", string(r.GATT.UUID))
		require.Equal(t, "AEg=", string(r.GATT.Value))
		require.Equal(t, "+01:00", string(r.GATT.UTCOffset))
		require.True(t, r.HasTime)
	})
	for _, bad := range []string{
		`{"gatt":"2A37"}`,
		`{"gatt":{"uuid":"2A37","uuid":"2A35","value":"AEg="}}`,
		`{"gatt":{"uuid":"2A37","value":"AEg=","value":"AFA="}}`,
		`{"gatt":{"uuid":2637,"value":"AEg="}}`,
		`{"gatt":{"uuid":"2A37","value":"AEg="},"gatt":{"uuid":"2A37","value":"AEg="}}`,
	} {
		t.Run("malformed in a batch, the next item kept: "+bad, func(t *testing.T) {
			var m Message
			require.NoError(t, Decode([]byte(`{"readings":[`+bad+`,{"gatt":{"uuid":"2A37","value":"AEg="}}]}`), &m))
			require.True(t, m.Readings[0].Malformed)
			require.False(t, m.Readings[1].Malformed)
		})
	}
	t.Run("a gatt object that is no JSON refuses the message", func(t *testing.T) {
		var m Message
		require.ErrorIs(t, Decode([]byte(`{"gatt":{"uuid":"2A37",}}`), &m), ErrMalformed)
	})
}

func TestNormalizeGATT(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	b64 := func(b ...byte) string { return base64.StdEncoding.EncodeToString(b) }
	// A cuff at 2026-03-01 08:30:00 local time: 120/80 mmHg, pulse 72.
	cuff := b64(0x06, 0x78, 0, 0x50, 0, 0x5D, 0, 0xEA, 0x07, 3, 1, 8, 30, 0, 0x48, 0)
	norm := func(payload string) ([]vitals.Reading, []*vitals.RejectError) {
		t.Helper()
		var m Message
		require.NoError(t, Decode([]byte(payload), &m))
		return NormalizeGATT(&m.Readings[0], "dev", now, 5*time.Minute, 30*24*time.Hour, nil, nil)
	}
	t.Run("a time stamp is read at the utc_offset", func(t *testing.T) {
		rs, rej := norm(`{"gatt":{"uuid":"2A35","value":"` + cuff + `","utc_offset":"+01:00"}}`)
		require.Empty(t, rej)
		require.Len(t, rs, 2)
		want := time.Date(2026, 3, 1, 7, 30, 0, 0, time.UTC)
		require.Equal(t, vitals.Reading{Device: "dev", Type: vitals.BloodPressure, Time: want, Value: 120, Diastolic: 80, Unit: "mm[Hg]"}, rs[0])
		require.Equal(t, vitals.Reading{Device: "dev", Type: vitals.HeartRate, Time: want, Value: 72, Unit: "/min"}, rs[1])
	})
	t.Run("the examples of docs/DEVICES.md read as it says", func(t *testing.T) {
		rs, rej := norm(`{"gatt": {"uuid": "2A35", "value": "BngAUAD/B+oHAwEIHgBIAA==", "utc_offset": "+01:00"}}`)
		require.Empty(t, rej)
		at := time.Date(2026, 3, 1, 7, 30, 0, 0, time.UTC)
		require.Equal(t, []vitals.Reading{
			{Device: "dev", Type: vitals.BloodPressure, Time: at, Value: 120, Diastolic: 80, Unit: "mm[Hg]"},
			{Device: "dev", Type: vitals.HeartRate, Time: at, Value: 72, Unit: "/min"},
		}, rs)
		rs, rej = norm(`{"gatt": {"uuid": "2A37", "value": "FkgABDQD"}, "time": "2026-03-01T07:31:00Z"}`)
		require.Empty(t, rej)
		require.Equal(t, []vitals.Reading{{Device: "dev", Type: vitals.HeartRate, Time: time.Date(2026, 3, 1, 7, 31, 0, 0, time.UTC), Value: 72, Unit: "/min"}}, rs)
	})
	t.Run("the item's time is not used when the characteristic has its own", func(t *testing.T) {
		rs, rej := norm(`{"gatt":{"uuid":"2A35","value":"` + cuff + `","utc_offset":"+01:00"},"time":"2026-03-01T07:00:00Z"}`)
		require.Empty(t, rej)
		require.Equal(t, time.Date(2026, 3, 1, 7, 30, 0, 0, time.UTC), rs[0].Time)
	})
	t.Run("without a time stamp: the item's time, else the receive time flagged", func(t *testing.T) {
		rs, rej := norm(`{"gatt":{"uuid":"2A37","value":"AEg="},"time":"2026-03-01T07:59:00Z"}`)
		require.Empty(t, rej)
		require.Equal(t, time.Date(2026, 3, 1, 7, 59, 0, 0, time.UTC), rs[0].Time)
		require.False(t, rs[0].ReceivedTime)
		rs, rej = norm(`{"gatt":{"uuid":"2A37","value":"AEg"}}`)
		require.Empty(t, rej, "padding may be left off")
		require.True(t, rs[0].ReceivedTime)
		require.Equal(t, now, rs[0].Time)
		require.Equal(t, 72.0, rs[0].Value)
	})
	for _, tc := range []struct {
		name, payload string
		want          vitals.Reason
		detail        string
	}{
		{"a time stamp without utc_offset", `{"gatt":{"uuid":"2A35","value":"` + cuff + `"}}`, vitals.ReasonBadTime, "gatt.utc_offset"},
		{"a utc_offset that is none", `{"gatt":{"uuid":"2A35","value":"` + cuff + `","utc_offset":"+0100"}}`, vitals.ReasonBadTime, "UTC offset"},
		{"an offset past 23 hours", `{"gatt":{"uuid":"2A35","value":"` + cuff + `","utc_offset":"+24:00"}}`, vitals.ReasonBadTime, "UTC offset"},
		{"a time stamp ahead of the clock", `{"gatt":{"uuid":"2A35","value":"` + cuff + `","utc_offset":"-01:00"}}`, vitals.ReasonFutureTime, ""},
		{"an item time that is not RFC 3339", `{"gatt":{"uuid":"2A37","value":"AEg="},"time":"1772352000"}`, vitals.ReasonBadTime, "RFC 3339"},
		{"no uuid", `{"gatt":{"value":"AEg="}}`, vitals.ReasonMalformed, "uuid and value"},
		{"no value", `{"gatt":{"uuid":"2A37"}}`, vitals.ReasonMalformed, "uuid and value"},
		{"a uuid that is none", `{"gatt":{"uuid":"heart","value":"AEg="}}`, vitals.ReasonMalformed, "16-bit UUID"},
		{"a value that is not base64", `{"gatt":{"uuid":"2A37","value":"AE*="}}`, vitals.ReasonMalformed, "base64"},
		{"a value longer than a characteristic", `{"gatt":{"uuid":"2A37","value":"` + strings.Repeat("A", 700) + `"}}`, vitals.ReasonMalformed, "512"},
		{"type beside gatt", `{"gatt":{"uuid":"2A37","value":"AEg="},"type":"heart_rate"}`, vitals.ReasonMalformed, "no type, value or unit"},
		{"value beside gatt", `{"gatt":{"uuid":"2A37","value":"AEg="},"value":72}`, vitals.ReasonMalformed, "no type, value or unit"},
		{"an unsupported characteristic", `{"gatt":{"uuid":"2A19","value":"UA=="}}`, vitals.ReasonUnknownType, "0x2A19"},
		{"a truncated value", `{"gatt":{"uuid":"2A37","value":"AQ=="}}`, vitals.ReasonMalformed, "ends before its heart rate"},
		{"an implausible value", `{"gatt":{"uuid":"2A37","value":"` + b64(0x01, 0xE8, 0x03) + `"}}`, vitals.ReasonImplausible, ""},
		{"a NaN", `{"gatt":{"uuid":"2A5E","value":"` + b64(0, 0xFF, 0x07, 0x48, 0) + `"}}`, vitals.ReasonSpecialValue, "SpO2 is NaN"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			_, rej := norm(tc.payload)
			require.NotEmpty(t, rej)
			require.Equal(t, tc.want, rej[0].Reason, "%v", rej[0])
			require.Contains(t, rej[0].Detail, tc.detail)
		})
	}
	t.Run("Normalize refuses an item in the GATT form rather than guess", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(`{"gatt":{"uuid":"2A37","value":"AEg="}}`), &m))
		var r vitals.Reading
		require.Equal(t, vitals.ReasonMalformed, Normalize(&m.Readings[0], "dev", now, time.Minute, 0, &r).Reason)
	})
}

// The GATT form costs the plain form nothing: a message of plain readings
// is still decoded and normalized without allocating.
func TestPlainReadingsDecodeWithoutAllocating(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"seq":1,"readings":[`)
	for i := range 10 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"heart_rate","value":%d.5,"unit":"/min","time":"2026-03-01T08:00:%02d.250Z"}`, 60+i, i)
	}
	sb.WriteString(`]}`)
	payload := []byte(sb.String())
	now := time.Date(2026, 3, 1, 8, 1, 0, 0, time.UTC)
	var m Message
	out := make([]vitals.Reading, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		if Decode(payload, &m) != nil {
			t.Fatal("decode")
		}
		out = out[:0]
		for j := range m.Readings {
			var r vitals.Reading
			if Normalize(&m.Readings[j], "dev-1", now, time.Minute, 0, &r) != nil {
				t.Fatal("normalize")
			}
			out = append(out, r)
		}
	})
	require.Zero(t, allocs)
}

// FuzzNormalizeGATT checks the GATT form end to end from the payload: no
// panic, and every reading it keeps is in its type's canonical unit,
// plausible, and within the time window.
func FuzzNormalizeGATT(f *testing.F) {
	f.Add([]byte(`{"gatt":{"uuid":"2A35","value":"BngAUABdAOoHAwEIHgBIAA==","utc_offset":"+01:00"}}`))
	f.Add([]byte(`{"readings":[{"gatt":{"uuid":"00002a37-0000-1000-8000-00805f9b34fb","value":"FkgABAIC"},"time":"2026-03-01T07:59:00Z"},{"gatt":{"uuid":"2A18","value":"BwcA6gcDAQcAAAUAN8AR","utc_offset":"Z"}}]}`))
	f.Add([]byte(`{"gatt":{"uuid":"0x2A5F","value":"H2IAQQBjAEIAYABDACAAAAIAAgA"}}`))
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m Message
		if Decode(payload, &m) != nil {
			return
		}
		for i := range m.Readings {
			if !m.Readings[i].HasGATT {
				continue
			}
			rs, rej := NormalizeGATT(&m.Readings[i], "dev", now, 5*time.Minute, 30*24*time.Hour, nil, nil)
			for _, r := range rej {
				if r.Reason == "" || r.Detail == "" {
					t.Fatalf("a refusal without reason or detail: %v", r)
				}
			}
			for _, r := range rs {
				spec, ok := vitals.Lookup(r.Type)
				if !ok || r.Unit != spec.Canonical || !spec.Plausible.Contains(r.Value) {
					t.Fatalf("kept %+v from %q", r, payload)
				}
				if r.Time.Sub(now) > 5*time.Minute || now.Sub(r.Time) > 30*24*time.Hour {
					t.Fatalf("kept a reading outside the window: %+v", r)
				}
			}
		}
	})
}
