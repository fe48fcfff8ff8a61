package alerts_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// rcpChart is NEWS2 as the Royal College of Physicians' chart (2017)
// scores a patient on air, SpO2 scale 1, consciousness not recorded:
// written out here from the chart so that the test does not check the
// service's scoring against itself.
func rcpChart(rr, spo2, systolic, pulse, temp float64) int {
	band := func(v float64, edges []float64, points []int) int {
		for i, e := range edges {
			if v <= e {
				return points[i]
			}
		}
		return points[len(points)-1]
	}
	rr, spo2, systolic, pulse = math.Round(rr), math.Round(spo2), math.Round(systolic), math.Round(pulse)
	temp = math.Round(temp*10) / 10
	return band(rr, []float64{8, 11, 20, 24}, []int{3, 1, 0, 2, 3}) +
		band(spo2, []float64{91, 93, 95}, []int{3, 2, 1, 0}) +
		band(systolic, []float64{90, 100, 110, 219}, []int{3, 2, 1, 0, 3}) +
		band(pulse, []float64{40, 50, 90, 110, 130}, []int{3, 1, 0, 1, 2, 3}) +
		band(temp, []float64{35.0, 36.0, 38.0, 39.0}, []int{3, 1, 0, 1, 2})
}

// series is what a test published of one vital: times and values.
type series struct {
	at []time.Time
	v  []float64
}

func (s *series) add(at time.Time, v float64) { s.at, s.v = append(s.at, at), append(s.v, v) }

// latest is the last value published at or before t.
func (s *series) latest(t time.Time) float64 {
	i := sort.Search(len(s.at), func(i int) bool { return s.at[i].After(t) })
	return s.v[i-1]
}

func TestASepticPatientIsOneNotificationWithTheHighestSeverityAndOneWebhook(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	const secret = "hook-secret-for-problems"
	cfg := harness.Config(t)
	cfg.Alerts.Webhooks = []alerts.Webhook{{URL: fmt.Sprintf("http://127.0.0.1:%d/hook", port), Secret: secret}}
	type delivery struct {
		key string
		p   alerts.WebhookPayload
	}
	var mu sync.Mutex
	var got []delivery
	harness.ServeOn(t, port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("X-Vitalwire-Timestamp"), 10, 64)
		if r.Header.Get("X-Vitalwire-Signature") != alerts.Sign(secret, ts, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p alerts.WebhookPayload
		if json.Unmarshal(body, &p) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, delivery{r.Header.Get("webhook-id"), p})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	svc := harness.Start(t, cfg)
	chartWard(t, svc, "p1", "doc")
	doc := svc.Clinician("doc")
	patch := harness.Connect(t, svc.BrokerURL(), "patch-1", svc.AddDevice(t, "patch-1", "p1"))
	cuff := harness.Connect(t, svc.BrokerURL(), "cuff-1", svc.AddDevice(t, "cuff-1", "p1"))

	conn, _, err := websocket.DefaultDialer.Dial(svc.WSURL()+"/ws/v1/live?access_token="+doc, nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1"}}))
	var ack struct{ Type string }
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	require.NoError(t, conn.ReadJSON(&ack))
	require.Equal(t, "subscribed", ack.Type)

	// Nine minutes of a sepsis: the heart and breathing quicken, the
	// temperature climbs, SpO2 and the blood pressure fall (the cuff every
	// two minutes, the chest patch every 10 s).
	start := time.Now().UTC().Add(-9 * time.Minute)
	var rr, spo2, sys, hr, temp series
	var cuffMsgs []string
	for i, s := range []float64{118, 104, 96, 90, 86} {
		at := start.Add(time.Duration(i) * 2 * time.Minute)
		sys.add(at, s)
		cuffMsgs = append(cuffMsgs, cuffReading(s, s-35, at))
	}
	var rs []string
	for s := 0; s <= 540; s += 10 {
		at := start.Add(time.Duration(s) * time.Second)
		f := math.Min(float64(s)/240, 1) // the ramp of the first four minutes
		vals := []struct {
			typ  vitals.Type
			ser  *series
			v    float64
			unit string
		}{
			{vitals.HeartRate, &hr, math.Round(95 + 45*f), "/min"},
			{vitals.RespiratoryRate, &rr, math.Round(18 + 10*f), "/min"},
			{vitals.SpO2, &spo2, math.Round(96 - 4*f), "%"},
			{vitals.BodyTemperature, &temp, math.Round((38.0+1.4*f)*10) / 10, "Cel"},
		}
		for _, x := range vals {
			x.ser.add(at, x.v)
			rs = append(rs, harness.Reading(x.typ, x.v, x.unit, at))
		}
	}
	for _, m := range cuffMsgs {
		cuff.Publish(m)
	}
	patch.Publish(harness.Batch(1, rs...))

	// The live view: one problem, led by the most severe alert, the others
	// inside it.
	var problems []alerts.Problem
	deadline := time.Now().Add(20 * time.Second)
	for len(problems) == 0 || problems[len(problems)-1].Lead.Rule != "news2_high" {
		var m struct {
			Type    string
			Problem *alerts.Problem
		}
		conn.SetReadDeadline(deadline)
		require.NoError(t, conn.ReadJSON(&m), "a live problem led by news2_high")
		if m.Type == "problem" {
			problems = append(problems, *m.Problem)
		}
	}
	for _, p := range problems {
		require.Equal(t, problems[0].ID, p.ID, "every live change is of one problem")
	}
	live := problems[len(problems)-1]
	require.Equal(t, alerts.Critical, live.Severity, "the highest severity of its alerts")
	require.Equal(t, alerts.Firing, live.State)
	rules := map[string]alerts.Alert{}
	for _, a := range live.Alerts {
		rules[a.Rule] = a
		require.Equal(t, live.ID, a.Group, "%s is linked to the problem", a.Rule)
	}
	for _, r := range []string{"news2_high", "news2_medium", "news2_single_3", "heart_rate_high", "respiratory_rate_high", "temperature_high"} {
		require.Contains(t, rules, r, "the others are visible inside it")
	}

	// The alerts list: one problem.
	var listed []alerts.Problem
	require.Equal(t, http.StatusOK, svc.Call(t, "GET", "/api/v1/alerts?view=problems&patient=p1", doc, nil, &listed))
	require.Len(t, listed, 1, "one notification for one deterioration")
	require.Equal(t, live.ID, listed[0].ID)
	require.Equal(t, alerts.Critical, listed[0].Severity)
	require.Equal(t, "news2_high", listed[0].Lead.Rule)
	require.Len(t, listed[0].Alerts, len(live.Alerts))
	require.Equal(t, http.StatusBadRequest, svc.Call(t, "GET", "/api/v1/alerts?view=everything", doc, nil, nil))

	// The NEWS2 alert shows the score at its firing, as the RCP chart gives
	// it from the readings then; the stored alert names what the score
	// lacked.
	high := listed[0].Lead
	want := rcpChart(rr.latest(high.FiredAt), spo2.latest(high.FiredAt), sys.latest(high.FiredAt), hr.latest(high.FiredAt), temp.latest(high.FiredAt))
	require.Equal(t, float64(want), high.Value, "NEWS2 at %s", high.FiredAt.Format(time.RFC3339))
	require.True(t, high.Partial)
	require.Equal(t, []string{"consciousness"}, high.Missing, "stored alerts keep what the score lacked")

	// Acknowledging the notification acknowledges the problem: every alert
	// in it.
	require.Equal(t, http.StatusOK, svc.Call(t, "POST", "/api/v1/alerts/"+strconv.FormatInt(high.ID, 10)+"/ack", doc, nil, nil))
	require.Equal(t, http.StatusOK, svc.Call(t, "GET", "/api/v1/alerts?view=problems&patient=p1", doc, nil, &listed))
	require.Equal(t, alerts.Acknowledged, listed[0].State)
	for _, a := range listed[0].Alerts {
		require.Equal(t, alerts.Acknowledged, a.State, a.Rule)
	}

	// Webhooks: one delivery for the problem, then its acknowledgement (the
	// outbox delivers in order, so a second firing would have come first).
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1].p.Event == "alert.acknowledged"
	}, 30*time.Second, 50*time.Millisecond, "the acknowledgement delivered")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2, "one delivery per problem and one for its acknowledgement: %v", got)
	fired := got[0].p
	require.Equal(t, "alert.firing", fired.Event)
	require.Equal(t, "news2_high", fired.Alert.Rule)
	require.Equal(t, alerts.Critical, fired.Alert.Severity)
	require.NotNil(t, fired.Problem, "the delivery carries the problem")
	require.Equal(t, live.ID, fired.Problem.ID)
	require.Len(t, fired.Problem.Alerts, len(live.Alerts), "the others inside it")
}
