package alerts_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestWebhooksAreSignedRetriedThroughAnOutageAndDeliveredOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a one-minute receiver outage: not in -short")
	}
	t.Parallel()
	port := testenv.FreePort(t)
	const secret = "hook-secret-for-test"
	cfg := harness.Config(t)
	cfg.Alerts.Webhooks = []alerts.Webhook{{URL: fmt.Sprintf("http://127.0.0.1:%d/hook", port), Secret: secret}}
	cfg.Alerts.EscalateAfter = 2 * time.Second
	svc := harness.Start(t, cfg)
	svc.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	secretDev := svc.AddDevice(t, "cuff-1", "p1")
	d := harness.Connect(t, svc.BrokerURL(), "cuff-1", secretDev)
	// Systolic 82: systolic_low (high) fires; nobody acknowledges, so it
	// escalates two seconds later.
	d.Publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)

	// The receiver is down for a minute.
	time.Sleep(time.Minute)
	var mu sync.Mutex
	byKey := map[string]int{}
	events := map[string]string{}
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
		byKey[r.Header.Get("Idempotency-Key")]++
		events[fmt.Sprintf("%s %s", p.Alert.Rule, p.Event)] = p.Alert.Severity
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))

	want := map[string]string{"systolic_low alert.firing": "high", "systolic_low alert.escalated": "critical"}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == len(want)
	}, 90*time.Second, 100*time.Millisecond, "every alert change delivered once the receiver is back")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, want, events, "signed deliveries of each change, escalation raising the severity")
	for key, n := range byKey {
		require.Equal(t, 1, n, "delivered once: %s", key)
	}
}
