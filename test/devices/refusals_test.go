package devices

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// TestRefusalsTellTheDeviceMakerWhatToSend: a device maker publishes what
// phones and firmware really send and reads, on the device's own rejects
// topic, a reason and a detail that says what to send instead.
func TestRefusalsTellTheDeviceMakerWhatToSend(t *testing.T) {
	svc := harness.Start(t, harness.Config(t))
	secret := svc.AddDevice(t, "phone-1", "pat-1")
	dev := harness.Connect(t, svc.BrokerURL(), "phone-1", secret)
	rejects := dev.Rejects(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := now.Add(-time.Minute).Format(time.RFC3339Nano)

	t.Run("an SpO2 sent as a fraction is refused with a hint and not stored", func(t *testing.T) {
		good := harness.Reading(vitals.HeartRate, 71, "/min", now.Add(-time.Minute))
		dev.Publish(harness.Batch(1, `{"type":"spo2","value":0.97,"unit":"%","time":"`+at+`"}`, good))
		rep := harness.NextReject(t, rejects, 5*time.Second)
		require.Equal(t, 1, rep.Accepted, "the good reading beside it is kept")
		require.Len(t, rep.Rejects, 1)
		require.Equal(t, 0, rep.Rejects[0].Index)
		require.Equal(t, "implausible", rep.Rejects[0].Reason)
		require.Contains(t, rep.Rejects[0].Detail, "looks like a fraction: send 97, not 0.97")
		// The message is acknowledged once its good reading is durable.
		require.Empty(t, svc.Readings(t, "pat-1", vitals.SpO2, now.Add(-time.Hour), now.Add(time.Hour)), "no SpO2 of 0.97 % in the record")
		require.Len(t, svc.Readings(t, "pat-1", vitals.HeartRate, now.Add(-time.Hour), now.Add(time.Hour)), 1)
	})

	t.Run("a heart rate in bpm names the unit to send", func(t *testing.T) {
		dev.Publish(`{"type":"heart_rate","value":72,"unit":"bpm","time":"` + at + `"}`)
		rep := harness.NextReject(t, rejects, 5*time.Second)
		require.Equal(t, "wrong_unit", rep.Rejects[0].Reason)
		require.Contains(t, rep.Rejects[0].Detail, "unit bpm is not accepted for heart_rate: send /min")
	})

	t.Run("an epoch time says RFC 3339 is expected, with an example", func(t *testing.T) {
		dev.Publish(fmt.Sprintf(`{"type":"heart_rate","value":72,"unit":"/min","time":%d}`, now.Unix()))
		rep := harness.NextReject(t, rejects, 5*time.Second)
		require.Equal(t, "bad_time", rep.Rejects[0].Reason, "not malformed: the time is what is wrong")
		require.Contains(t, rep.Rejects[0].Detail, "RFC 3339")
		require.Contains(t, rep.Rejects[0].Detail, `"2026-03-01T08:00:00Z"`)
	})

	t.Run("every reason's detail says what to send instead", func(t *testing.T) {
		future := now.Add(time.Hour).Format(time.RFC3339Nano)
		old := now.Add(-40 * 24 * time.Hour).Format(time.RFC3339Nano)
		items := []struct{ reading, reason, detail string }{
			{`{"type":"heart_rate","value":"72","unit":"/min"}`, "malformed", `"value" must be a JSON number`},
			{`{"type":"mood","value":3,"unit":"1"}`, "unknown_type", "send one of blood_glucose, blood_pressure"},
			{`{"type":"body_temperature","value":37,"unit":"C"}`, "wrong_unit", "send one of Cel, [degF]"},
			{`{"type":"blood_pressure","value":120,"unit":"mm[Hg]"}`, "missing_value", `needs "systolic" and "diastolic"`},
			{`{"type":"heart_rate","value":900,"unit":"/min"}`, "implausible", "0 to 350 /min"},
			{`{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-01 08:00"}`, "bad_time", "RFC 3339 string such as"},
			{`{"type":"heart_rate","value":72,"unit":"/min","time":"` + future + `"}`, "future_time", "set the device's clock"},
			{`{"type":"heart_rate","value":72,"unit":"/min","time":"` + old + `"}`, "too_old", "30 days back-fill window"},
		}
		var rs []string
		for _, it := range items {
			rs = append(rs, it.reading)
		}
		dev.Publish(harness.Batch(7, rs...))
		rep := harness.NextReject(t, rejects, 5*time.Second)
		require.Len(t, rep.Rejects, len(items))
		for i, it := range items {
			got := rep.Rejects[i]
			require.Equal(t, i, got.Index)
			require.Equal(t, it.reason, got.Reason, got.Detail)
			require.Contains(t, got.Detail, it.detail, it.reason)
			require.NotContains(t, got.Detail, "900", "a detail never repeats the value")
		}

		dev.Publish(`{"type":"heart_rate","value":72,"unit":"/min","pad":"` + strings.Repeat("x", 65<<10) + `"}`)
		rep = harness.NextReject(t, rejects, 5*time.Second)
		require.Equal(t, "oversized", rep.Rejects[0].Reason)
		require.Contains(t, rep.Rejects[0].Detail, "split the readings over several messages")

		dev.Publish(`[{"type":"heart_rate"}]`)
		rep = harness.NextReject(t, rejects, 5*time.Second)
		require.Equal(t, "malformed", rep.Rejects[0].Reason)
		require.Contains(t, rep.Rejects[0].Detail, `{"seq":1,"readings":[`)
	})

	t.Run("a device bound to no patient at the reading's time is told what an admin must do", func(t *testing.T) {
		s := svc.AddDeviceFrom(t, "phone-2", "", "pat-2", now)
		late := harness.Connect(t, svc.BrokerURL(), "phone-2", s)
		ch := late.Rejects(t)
		late.Publish(harness.Reading(vitals.HeartRate, 72, "/min", now.Add(-time.Hour)))
		rep := harness.NextReject(t, ch, 5*time.Second)
		require.Equal(t, "unbound_device", rep.Rejects[0].Reason)
		require.Contains(t, rep.Rejects[0].Detail, "ask an admin to bind it from that time")
	})
}
