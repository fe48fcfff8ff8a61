package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

func TestDecode(t *testing.T) {
	t.Run("a single reading", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(`{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01T08:00:00Z"}`), &m))
		require.False(t, m.Batch)
		require.Len(t, m.Readings, 1)
		r := m.Readings[0]
		require.Equal(t, "heart_rate", string(r.Type))
		require.Equal(t, "/min", string(r.Unit))
		require.Equal(t, 72.0, r.Value)
		require.True(t, r.HasValue)
		require.True(t, r.HasTime)
	})
	t.Run("a batch with its sequence number and a bad item among good ones", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(` { "seq": 17, "readings": [
			{"type":"spo2","value":97.5,"unit":"%"},
			42,
			{"type":"blood_pressure","systolic":120,"diastolic":80,"unit":"mm[Hg]","extra":{"a":[1,2,{"b":null}]}},
			{"type":"heart_rate","value":"high","unit":"/min"}
		] } `), &m))
		require.True(t, m.Batch)
		require.True(t, m.HasSeq)
		require.EqualValues(t, 17, m.Seq)
		require.Len(t, m.Readings, 4)
		require.Equal(t, 97.5, m.Readings[0].Value)
		require.True(t, m.Readings[1].Malformed)
		require.Equal(t, 120.0, m.Readings[2].Systolic)
		require.Equal(t, 80.0, m.Readings[2].Diastolic)
		require.False(t, m.Readings[2].Malformed)
		require.True(t, m.Readings[3].Malformed)
	})
	t.Run("escaped strings are unescaped", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(`{"type":"heart\u005frate","unit":"\/min","value":1}`), &m))
		require.Equal(t, "heart_rate", string(m.Readings[0].Type))
		require.Equal(t, "/min", string(m.Readings[0].Unit))
	})
	for _, bad := range []string{
		``, `[]`, `{`, `{"type":}`, `{"type":"x",}`, `{"readings":[1,]}`, `{"readings":{}}`,
		`{"value":01}`, `{"value":1.}`, `{"value":-}`, `{"type":"a"} x`, `{"seq":1.5,"readings":[]}`,
		`{"readings":[],"type":"heart_rate"}`, `{"readings":[],"readings":[]}`, "{\"type\":\"a\nb\"}",
		strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
	} {
		t.Run(fmt.Sprintf("malformed payload %q is refused whole", bad), func(t *testing.T) {
			var m Message
			require.ErrorIs(t, Decode([]byte(bad), &m), ErrMalformed)
		})
	}
	t.Run("a field given twice makes its reading malformed, and only that one", func(t *testing.T) {
		for _, dup := range []string{
			`{"type":"heart_rate","type":"spo2","value":1,"unit":"/min"}`,
			`{"type":"heart_rate","value":70,"value":71,"unit":"/min"}`,
			`{"type":"heart_rate","value":70,"unit":"/min","unit":"%"}`,
			`{"type":"heart_rate","value":70,"unit":"/min","time":"2026-03-01T08:00:00Z","time":"2026-03-01T08:00:01Z"}`,
			`{"type":"blood_pressure","systolic":120,"systolic":90,"diastolic":80,"unit":"mm[Hg]"}`,
			`{"type":"blood_pressure","systolic":120,"diastolic":80,"diastolic":60,"unit":"mm[Hg]"}`,
		} {
			var m Message
			require.NoError(t, Decode([]byte(`{"readings":[`+dup+`,{"type":"spo2","value":97,"unit":"%"}]}`), &m), dup)
			require.True(t, m.Readings[0].Malformed, dup)
			require.False(t, m.Readings[1].Malformed, dup)
			require.NoError(t, Decode([]byte(dup), &m), dup)
			require.True(t, m.Readings[0].Malformed, "a single reading: %s", dup)
		}
		var m Message
		require.NoError(t, Decode([]byte(`{"type":"heart_rate","value":70,"unit":"/min","note":1,"note":2}`), &m))
		require.False(t, m.Readings[0].Malformed, "fields outside the contract are skipped, twice or not")
	})
	t.Run("a number past float64 makes its reading malformed, and only that one", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(`{"readings":[{"type":"heart_rate","value":1e309,"unit":"/min"},{"type":"heart_rate","value":-1e309,"unit":"/min"},`+
			`{"type":"blood_pressure","systolic":120,"diastolic":1e999,"unit":"mm[Hg]"},{"type":"spo2","value":97,"unit":"%","x":1e999}]}`), &m))
		require.Len(t, m.Readings, 4)
		require.True(t, m.Readings[0].Malformed)
		require.True(t, m.Readings[1].Malformed)
		require.True(t, m.Readings[2].Malformed)
		require.False(t, m.Readings[3].Malformed, "an unknown field's number is skipped")
	})
	for _, seq := range []string{`1e309`, `9223372036854775808`, `-1e19`, `1e19`, `1, "seq": 2`} {
		t.Run("a seq no int64 holds, or given twice, is refused whole: "+seq, func(t *testing.T) {
			var m Message
			require.ErrorIs(t, Decode([]byte(`{"seq":`+seq+`,"readings":[]}`), &m), ErrMalformed)
		})
	}
	t.Run("an oversized payload is refused before parsing", func(t *testing.T) {
		var m Message
		big := `{"type":"heart_rate","value":1,"pad":"` + strings.Repeat("x", MaxPayload) + `"}`
		require.ErrorIs(t, Decode([]byte(big), &m), ErrOversized)
	})
	t.Run("numbers match strconv", func(t *testing.T) {
		for _, s := range []string{"0", "-0", "36.6", "98.60", "0.1", "123456789012345", "1234567890123456789",
			"1e2", "1.5E-3", "-40", "0.000000000000000000001", "1e400"} {
			var m Message
			require.NoError(t, Decode([]byte(`{"value":`+s+`}`), &m), s)
			var want float64
			json.Unmarshal([]byte(s), &want)
			if s == "1e400" {
				require.True(t, m.Readings[0].Value > 1e308)
				continue
			}
			require.Equal(t, want, m.Readings[0].Value, s)
		}
	})
}

func TestParseTime(t *testing.T) {
	for _, s := range []string{"2026-03-01T08:00:00Z", "2026-03-01T08:00:00.123456789Z", "2026-03-01T08:00:00.5+01:30",
		"2024-02-29T23:59:59-05:00", "2026-12-31t00:00:00z", "2026-03-01T08:00:00.1234567891Z"} {
		got, ok := ParseTime([]byte(s))
		require.True(t, ok, s)
		want, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
		require.NoError(t, err)
		require.True(t, want.Equal(got), "%s: %v != %v", s, got, want)
	}
	for _, s := range []string{"", "2026-03-01", "2026-03-01 08:00:00Z", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-03-01T24:00:00Z", "2026-03-01T08:00:00", "2026-03-01T08:00:00+0100", "2026-03-01T08:00:00.Z", "2026-03-01T08:00:00Zjunk"} {
		_, ok := ParseTime([]byte(s))
		require.False(t, ok, s)
	}
}

func TestNormalize(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	norm := func(payload string) (vitals.Reading, *vitals.RejectError) {
		var m Message
		require.NoError(t, Decode([]byte(payload), &m))
		var r vitals.Reading
		err := Normalize(&m.Readings[0], "dev", now, 5*time.Minute, 30*24*time.Hour, &r)
		return r, err
	}
	t.Run("Fahrenheit is stored in Celsius", func(t *testing.T) {
		r, err := norm(`{"type":"body_temperature","value":98.6,"unit":"[degF]","time":"2026-03-01T07:59:00Z"}`)
		require.Nil(t, err)
		require.Equal(t, "Cel", r.Unit)
		require.InDelta(t, 37.0, r.Value, 1e-9)
		require.False(t, r.ReceivedTime)
	})
	t.Run("mmol/L glucose is stored in mg/dL", func(t *testing.T) {
		r, err := norm(`{"type":"blood_glucose","value":5.5,"unit":"mmol/L"}`)
		require.Nil(t, err)
		require.Equal(t, "mg/dL", r.Unit)
		require.InDelta(t, 99.088, r.Value, 1e-9)
		require.True(t, r.ReceivedTime, "no time: receive time, flagged")
		require.True(t, r.Time.Equal(now))
	})
	t.Run("pounds are stored in kilograms", func(t *testing.T) {
		r, err := norm(`{"type":"body_weight","value":154,"unit":"[lb_av]"}`)
		require.Nil(t, err)
		require.InDelta(t, 69.853, r.Value, 1e-3)
	})
	for _, tc := range []struct {
		name, payload string
		want          vitals.Reason
	}{
		{"unknown type", `{"type":"mood","value":1,"unit":"1"}`, vitals.ReasonUnknownType},
		{"wrong unit", `{"type":"heart_rate","value":70,"unit":"Hz"}`, vitals.ReasonWrongUnit},
		{"missing value", `{"type":"heart_rate","unit":"/min"}`, vitals.ReasonMissingValue},
		{"blood pressure without diastolic", `{"type":"blood_pressure","systolic":120,"unit":"mm[Hg]"}`, vitals.ReasonMissingValue},
		{"impossible value", `{"type":"spo2","value":140,"unit":"%"}`, vitals.ReasonImplausible},
		{"negative heart rate", `{"type":"heart_rate","value":-1,"unit":"/min"}`, vitals.ReasonImplausible},
		{"diastolic above systolic", `{"type":"blood_pressure","systolic":80,"diastolic":120,"unit":"mm[Hg]"}`, vitals.ReasonImplausible},
		{"time in the future", `{"type":"heart_rate","value":70,"unit":"/min","time":"2026-03-01T09:00:00Z"}`, vitals.ReasonFutureTime},
		{"time too old", `{"type":"heart_rate","value":70,"unit":"/min","time":"2025-03-01T09:00:00Z"}`, vitals.ReasonTooOld},
		{"bad time", `{"type":"heart_rate","value":70,"unit":"/min","time":"yesterday"}`, vitals.ReasonBadTime},
		{"value of the wrong JSON type", `{"type":"heart_rate","value":"70","unit":"/min"}`, vitals.ReasonMalformed},
		{"value past float64", `{"type":"heart_rate","value":70e999,"unit":"/min"}`, vitals.ReasonMalformed},
		{"value given twice", `{"type":"heart_rate","value":70,"value":71,"unit":"/min"}`, vitals.ReasonMalformed},
	} {
		t.Run("refused for "+tc.name, func(t *testing.T) {
			_, err := norm(tc.payload)
			require.NotNil(t, err)
			require.Equal(t, tc.want, err.Reason)
			require.NotContains(t, err.Error(), "70", "reasons carry no values")
		})
	}
}

// FuzzDecode checks that the decoder never panics, never accepts what is not
// JSON, and agrees with encoding/json on the fields it extracts.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01T08:00:00Z"}`))
	f.Add([]byte(`{"seq":3,"readings":[{"type":"spo2","value":97,"unit":"%"},{"type":"blood_pressure","systolic":120,"diastolic":80,"unit":"mm[Hg]"}]}`))
	f.Add([]byte(`{"seq":4,"readings":[{"type":"heart_rate","value":70,"value":71,"unit":"/min"},{"type":"heart_rate","value":1e309,"unit":"/min"}]}`))
	f.Add([]byte(`{"seq":9223372036854775808,"readings":[]}`))
	f.Add([]byte(`{"type":"heart_rate","type":"spo2","value":-1e309,"unit":"/min","time":"2026-03-01T08:00:00Z","time":"x"}`))
	f.Add([]byte(`{"seq":5,"readings":[{"gatt":{"uuid":"2A35","value":"BngAUABdAOoHAwEIHgBIAA==","utc_offset":"+01:00"}},{"gatt":{"uuid":"2A37","uuid":"x"}}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m Message
		err := Decode(payload, &m)
		if err != nil {
			return
		}
		if !json.Valid(payload) {
			t.Fatalf("accepted invalid JSON %q", payload)
		}
		var refs []json.RawMessage
		if m.Batch {
			var b struct{ Readings []json.RawMessage }
			if json.Unmarshal(payload, &b) != nil {
				t.Fatalf("batch that encoding/json cannot read: %q", payload)
			}
			refs = b.Readings
		} else {
			refs = []json.RawMessage{payload}
		}
		if len(refs) != len(m.Readings) {
			t.Fatalf("%d readings, encoding/json sees %d in %q", len(m.Readings), len(refs), payload)
		}
		for i, raw := range refs {
			// A map, not a struct: encoding/json matches struct fields
			// case-insensitively, the contract does not.
			var it map[string]any
			if json.Unmarshal(raw, &it) != nil {
				continue // not an object
			}
			r := m.Readings[i]
			if r.Malformed {
				continue
			}
			// encoding/json turns invalid UTF-8 into U+FFFD; the decoder keeps
			// the bytes, which then match no catalog type.
			if typ, ok := it["type"].(string); ok && utf8.Valid(r.Type) && typ != string(r.Type) {
				t.Fatalf("type %q, encoding/json says %q", r.Type, typ)
			}
			if v, ok := it["value"].(float64); ok && r.HasValue && v != r.Value {
				t.Fatalf("value %v, encoding/json says %v in %q", r.Value, v, raw)
			}
		}
	})
}

func BenchmarkDecodeAndNormalize(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"seq":1,"readings":[`)
	for i := 0; i < 10; i++ {
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
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Decode(payload, &m); err != nil {
			b.Fatal(err)
		}
		out = out[:0]
		for j := range m.Readings {
			var r vitals.Reading
			if err := Normalize(&m.Readings[j], "dev-1", now, time.Minute, 0, &r); err != nil {
				b.Fatal(err)
			}
			out = append(out, r)
		}
	}
	b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "readings/s")
}

// TestRefusalsSayWhatToSend: every reason's detail tells a device maker
// what to send instead, and none echoes a measured value.
func TestRefusalsSayWhatToSend(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, payload string
		reason        vitals.Reason
		detail        []string
	}{
		{"an SpO2 sent as a fraction is refused with a hint to send percent", `{"type":"spo2","value":0.93,"unit":"%"}`,
			vitals.ReasonImplausible, []string{"looks like a fraction", "send 97, not 0.97"}},
		{"an SpO2 of exactly 1 is a fraction too", `{"type":"spo2","value":1,"unit":"%"}`,
			vitals.ReasonImplausible, []string{"looks like a fraction"}},
		{"a heart rate in bpm names the accepted unit", `{"type":"heart_rate","value":72,"unit":"bpm"}`,
			vitals.ReasonWrongUnit, []string{"unit bpm is not accepted for heart_rate: send /min"}},
		{"a temperature in C names both accepted units", `{"type":"body_temperature","value":37.1,"unit":"C"}`,
			vitals.ReasonWrongUnit, []string{"unit C is not accepted for body_temperature: send one of Cel, [degF]"}},
		{"a missing unit says which to send", `{"type":"spo2","value":96}`,
			vitals.ReasonWrongUnit, []string{"no unit for spo2: send %"}},
		{"a unit that is not printable is not echoed", `{"type":"spo2","value":96,"unit":"\u0007\n"}`,
			vitals.ReasonWrongUnit, []string{"unit is not accepted for spo2: send %"}},
		{"an epoch time says RFC 3339 is expected, with an example", `{"type":"heart_rate","value":72,"unit":"/min","time":1772352000}`,
			vitals.ReasonBadTime, []string{"RFC 3339", `"2026-03-01T08:00:00Z"`, "not a number"}},
		{"a time without its zone shows the forms taken", `{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01 08:00:00"}`,
			vitals.ReasonBadTime, []string{"RFC 3339", `"2026-03-01T08:00:00Z"`, `"2026-03-01T09:00:00+01:00"`}},
		{"an unknown type lists the catalog", `{"type":"mood","value":1,"unit":"1"}`,
			vitals.ReasonUnknownType, []string{"type mood is not in the catalog: send one of", "heart_rate", "spo2", "blood_pressure"}},
		{"a missing value names the field and its unit", `{"type":"heart_rate","unit":"/min"}`,
			vitals.ReasonMissingValue, []string{`heart_rate needs "value", a number in /min`}},
		{"a blood pressure without diastolic names both fields", `{"type":"blood_pressure","systolic":120,"unit":"mm[Hg]"}`,
			vitals.ReasonMissingValue, []string{`blood_pressure needs "systolic" and "diastolic"`, "mm[Hg]"}},
		{"an impossible value states the plausible range", `{"type":"spo2","value":140,"unit":"%"}`,
			vitals.ReasonImplausible, []string{"outside the plausible range of spo2", "0 to 100 %"}},
		{"an impossible converted value states the range in the canonical unit", `{"type":"body_temperature","value":200,"unit":"[degF]"}`,
			vitals.ReasonImplausible, []string{"10 to 47 Cel", "after conversion"}},
		{"a diastolic above the systolic asks for them the right way round", `{"type":"blood_pressure","systolic":80,"diastolic":120,"unit":"mm[Hg]"}`,
			vitals.ReasonImplausible, []string{"diastolic is not below systolic", "swapped"}},
		{"a time in the future says by how much and what to fix", `{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01T09:00:00Z"}`,
			vitals.ReasonFutureTime, []string{"1h ahead of the server clock", "at most 5m", "clock"}},
		{"a time too old names the back-fill window", `{"type":"heart_rate","value":72,"unit":"/min","time":"2025-03-01T09:00:00Z"}`,
			vitals.ReasonTooOld, []string{"30 days", "back-fill window"}},
		{"a value of the wrong JSON type names the field and the type", `{"type":"heart_rate","value":"72","unit":"/min"}`,
			vitals.ReasonMalformed, []string{`"value" must be a JSON number`}},
		{"a unit of the wrong JSON type names the field", `{"type":"heart_rate","value":72,"unit":7}`,
			vitals.ReasonMalformed, []string{`"unit" must be a JSON string`}},
		{"a number past float64 says so", `{"type":"heart_rate","value":72e999,"unit":"/min"}`,
			vitals.ReasonMalformed, []string{`"value" is too large`}},
		{"a field given twice names it", `{"type":"heart_rate","value":72,"value":73,"unit":"/min"}`,
			vitals.ReasonMalformed, []string{`"value" is given twice: send each field once`}},
		{"an item of a batch that is not an object shows the shape", `{"readings":[42]}`,
			vitals.ReasonMalformed, []string{"not an object", `{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01T08:00:00Z"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			require.NoError(t, Decode([]byte(tc.payload), &m))
			var r vitals.Reading
			err := Normalize(&m.Readings[0], "dev", now, 5*time.Minute, 30*24*time.Hour, &r)
			require.NotNil(t, err, "refused")
			require.Equal(t, tc.reason, err.Reason, err.Detail)
			for _, w := range tc.detail {
				require.Contains(t, err.Detail, w)
			}
			require.NotContains(t, err.Detail, "0.93", "a detail never echoes the value")
			require.NotContains(t, err.Detail, "140")
		})
	}
	t.Run("a valid SpO2 just above 1 percent's fraction range is a value, not a fraction", func(t *testing.T) {
		var m Message
		require.NoError(t, Decode([]byte(`{"type":"spo2","value":97,"unit":"%"}`), &m))
		var r vitals.Reading
		require.Nil(t, Normalize(&m.Readings[0], "dev", now, 5*time.Minute, 30*24*time.Hour, &r))
		require.Equal(t, 97.0, r.Value)
	})
	t.Run("a payload that cannot be used at all says what shape to send", func(t *testing.T) {
		var m Message
		err := Decode([]byte(`[1,2]`), &m)
		require.ErrorIs(t, err, ErrMalformed)
		require.Contains(t, err.Error(), `{"seq":1,"readings":[`)
		big := `{"type":"heart_rate","value":1,"pad":"` + strings.Repeat("x", MaxPayload) + `"}`
		err = Decode([]byte(big), &m)
		require.ErrorIs(t, err, ErrOversized)
		require.Contains(t, err.Error(), "split")
	})
	for _, tc := range []struct {
		reason vitals.Reason
		want   string
	}{
		{vitals.ReasonUnknownDevice, "not registered"},
		{vitals.ReasonRevoked, "revoked"},
		{vitals.ReasonUnbound, "bound to no patient at the reading's time"},
	} {
		t.Run("a device refused as "+string(tc.reason)+" is told what an admin must do", func(t *testing.T) {
			d := ResolveDetail(tc.reason)
			require.Contains(t, d, tc.want)
			require.Contains(t, d, "admin")
		})
	}
}

func TestSpanReadsAsPeopleSayIt(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Minute: "1h30m", 30 * 24 * time.Hour: "30 days",
		90 * time.Second: "1m30s", 1500 * time.Millisecond: "1.5s",
	} {
		require.Equal(t, want, span(d), d.String())
	}
}
