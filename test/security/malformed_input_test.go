package security

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// rejects subscribes a device to its own rejects topic.
func rejects(t *testing.T, d *harness.Device) <-chan map[string]any {
	t.Helper()
	out := make(chan map[string]any, 16)
	tok := d.Client.Subscribe("vitalwire/v1/devices/"+d.ID+"/rejects", 1, func(_ mqtt.Client, m mqtt.Message) {
		var r map[string]any
		if json.Unmarshal(m.Payload(), &r) == nil {
			out <- r
		}
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	return out
}

func nextReject(t *testing.T, c <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no rejects report within 5 s")
		return nil
	}
}

func TestMalformedReadingsAreRefusedOneByOneAndTheRestKept(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	d := devs["p1"]
	reports := rejects(t, d)
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	hr := func(i int, value string) string {
		return fmt.Sprintf(`{"type":"heart_rate","value":%s,"unit":"/min","time":%q}`, value, at.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC3339))
	}
	count := func() int64 {
		n, _ := s.Stats(t, "p1", vitals.HeartRate, at.Add(-time.Second), at.Add(time.Minute))
		return n
	}

	t.Run("a number past float64 refuses its reading only", func(t *testing.T) {
		d.Publish(harness.Batch(1, hr(0, "70"), hr(1, "1e309"), hr(2, "-1e309"), hr(3, "72")))
		r := nextReject(t, reports)
		require.EqualValues(t, 2, r["accepted"], "%v", r)
		idx := map[float64]string{}
		for _, x := range r["rejects"].([]any) {
			m := x.(map[string]any)
			idx[m["index"].(float64)] = m["reason"].(string)
		}
		require.Equal(t, map[float64]string{1: "malformed", 2: "malformed"}, idx)
		require.EqualValues(t, 2, count())
	})

	t.Run("a reading with a key given twice is refused, not read last-wins", func(t *testing.T) {
		dup := fmt.Sprintf(`{"type":"heart_rate","value":70,"value":71,"unit":"/min","time":%q}`, at.Add(10*time.Second).UTC().Format(time.RFC3339))
		dupTime := fmt.Sprintf(`{"type":"heart_rate","value":70,"unit":"/min","time":%q,"time":%q}`,
			at.Add(11*time.Second).UTC().Format(time.RFC3339), at.Add(12*time.Second).UTC().Format(time.RFC3339))
		d.Publish(harness.Batch(2, dup, hr(13, "73"), dupTime))
		r := nextReject(t, reports)
		require.EqualValues(t, 1, r["accepted"], "%v", r)
		require.Len(t, r["rejects"], 2)
		for _, x := range r["rejects"].([]any) {
			require.Equal(t, "malformed", x.(map[string]any)["reason"])
		}
		require.EqualValues(t, 3, count())
		// A single reading with a key twice is refused too.
		d.Publish(fmt.Sprintf(`{"type":"heart_rate","type":"spo2","value":97,"unit":"%%","time":%q}`, at.Add(20*time.Second).UTC().Format(time.RFC3339)))
		r = nextReject(t, reports)
		require.EqualValues(t, 0, r["accepted"], "%v", r)
		n, _ := s.Stats(t, "p1", vitals.SpO2, at.Add(-time.Second), at.Add(time.Minute))
		require.Zero(t, n)
	})
}

func TestFHIRSearchOffsetsPastAnyPageAreRefused(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	doc1 := s.Clinician("doc1")
	for _, off := range []string{"9223372036854775807", "9223372036854775000", "9223372036854775808", "100000000"} {
		req, err := http.NewRequest("GET", s.URL()+"/fhir/r4/Observation?patient=p1&_offset="+off, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+doc1)
		resp, err := s.HTTP.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "_offset=%s: %s", off, body)
		require.Contains(t, string(body), "OperationOutcome")
	}
	s.MustCall(t, http.StatusOK, "GET", "/healthz", "", nil, nil)
}

func TestBreakGlassOnAPatientWhoDoesNotExistIsRefused(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	reason := map[string]string{"reason": "patient collapsed in the corridor"}
	s.MustCall(t, http.StatusNotFound, "POST", "/api/v1/patients/nobody-here/break-glass", s.Clinician("doc3"), reason, nil)
	var grants []map[string]any
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/break-glass", s.Admin(), nil, &grants)
	require.Empty(t, grants, "no grant is recorded for a patient who does not exist")
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/break-glass", s.Clinician("doc3"), reason, nil)
}
