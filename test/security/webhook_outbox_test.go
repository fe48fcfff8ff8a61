package security

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: the alert webhooks, which name patients and their values, are
// sent where they should not go: in the clear to another host, unsigned,
// or on to wherever a receiver redirects them.

func TestWebhookDeliveriesGoOnlyWhereConfiguredAndSigned(t *testing.T) {
	t.Parallel()
	t.Run("a receiver in the clear off loopback, or without a secret, is a configuration error", func(t *testing.T) {
		for name, hook := range map[string]alerts.Webhook{
			"plaintext off loopback": {URL: "http://10.20.30.40/hook", Secret: "a-secret-of-20-chars"},
			"no secret":              {URL: "https://pager.example/hook"},
			"credentials in the URL": {URL: "https://user:pw@pager.example/hook", Secret: "a-secret-of-20-chars"},
		} {
			cfg := harness.Config(t)
			cfg.Alerts.Webhooks = []alerts.Webhook{hook}
			cfg.Finish()
			err := cfg.Validate() // what serve checks before it starts
			require.Error(t, err, name)
			require.Contains(t, err.Error(), "alerts.webhooks.0", name)
		}
	})

	t.Run("a receiver's redirect is not followed with the delivery", func(t *testing.T) {
		var elsewhere atomic.Int32
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
		t.Cleanup(other.Close)
		var asked atomic.Int32
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			asked.Add(1)
			http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
		}))
		t.Cleanup(receiver.Close)
		cfg := harness.Config(t)
		cfg.Alerts.Webhooks = []alerts.Webhook{{URL: receiver.URL + "/hook", Secret: "hook-secret-for-test"}}
		s := harness.Start(t, cfg)
		s.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
		secret := s.AddDevice(t, "cuff-1", "p1")
		harness.Connect(t, s.BrokerURL(), "cuff-1", secret).
			Publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)
		require.Eventually(t, func() bool { return asked.Load() > 0 }, 15*time.Second, 50*time.Millisecond, "the alert is delivered to the receiver")
		time.Sleep(time.Second) // a followed redirect would have arrived by now
		require.Zero(t, elsewhere.Load(), "the delivery followed the redirect to another host")
		require.Positive(t, s.Metrics(t)["vitalwire_webhook_outbox_pending"], "the redirected delivery waits, visible to the operator")
	})
}
