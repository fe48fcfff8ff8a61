package alerts_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// hookSecret is a Standard Webhooks secret (whsec_ and base64 of 24 bytes).
const hookSecret = "whsec_ZXNjYWxhdGlvbi13ZWJob29rLXNlY3JldA=="

func TestAnUnacknowledgedAlertPagesTheTeamsEscalationContacts(t *testing.T) {
	t.Parallel()
	port := testenv.FreePort(t)
	var mu sync.Mutex
	var got []alerts.WebhookPayload
	harness.ServeOn(t, port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// A receiver using Standard Webhooks (auth's verifier, checked
		// against the reference implementation) accepts it.
		key, _ := auth.ParseWebhookSecret(hookSecret)
		if err := auth.VerifyWebhook(key, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			r.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("Standard Webhooks signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p alerts.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body: %v", err)
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))

	cfg := harness.Config(t)
	cfg.Alerts.Webhooks = []alerts.Webhook{{URL: fmt.Sprintf("http://127.0.0.1:%d/hook", port), Secret: hookSecret}}
	cfg.Alerts.EscalateAfter = time.Second
	svc := harness.Start(t, cfg)
	teamOf(t, svc, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"}, "clinician:doc", "clinician:charge")
	admin := svc.Admin()
	require.Equal(t, http.StatusBadRequest, svc.Call(t, "POST", "/api/v1/care-teams/ward/members", admin, `{"kind":"escalation","member":"stranger"}`, nil),
		"a contact must be a clinician of the team")
	require.Equal(t, http.StatusNoContent, svc.Call(t, "POST", "/api/v1/care-teams/ward/members", admin, `{"kind":"escalation","member":"charge"}`, nil))

	// The charge nurse's live socket.
	conn, _, err := websocket.DefaultDialer.Dial(svc.WSURL()+"/ws/v1/live?access_token="+svc.Clinician("charge"), nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1"}}))

	secret := svc.AddDevice(t, "cuff-1", "p1")
	harness.Connect(t, svc.BrokerURL(), "cuff-1", secret).Publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)

	t.Run("the live view names the contacts", func(t *testing.T) {
		for {
			var m struct {
				Type       string
				Escalation struct {
					Alert    alerts.Alert
					Contacts []string
				}
			}
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			require.NoError(t, conn.ReadJSON(&m), "an escalation message")
			if m.Type != "escalation" {
				continue
			}
			require.Equal(t, []string{"charge"}, m.Escalation.Contacts)
			require.Equal(t, "systolic_low", m.Escalation.Alert.Rule)
			require.Equal(t, "critical", m.Escalation.Alert.Severity, "one step up from high")
			return
		}
	})

	t.Run("the webhook delivery names them too", func(t *testing.T) {
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range got {
				if p.Event == "alert.escalated" {
					return len(p.Contacts) == 1 && p.Contacts[0] == "charge"
				}
			}
			return false
		}, 20*time.Second, 100*time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		for _, p := range got {
			if p.Event == "alert.firing" {
				require.Empty(t, p.Contacts, "firing goes to the team, not a page")
			}
		}
	})

	t.Run("a clinician leaving the team stops being its contact", func(t *testing.T) {
		svc.RemoveMember(t, "ward", "clinician", "charge")
		// The patient's escalation contacts: those of every care team the
		// patient is in.
		var contacts []string
		for _, team := range svc.Teams(t) {
			if slices.Contains(team.Patients, "p1") {
				contacts = append(contacts, team.Escalation...)
			}
		}
		require.Empty(t, contacts)
	})
}

func TestTheContactsDashboardSaysEscalatedToYou(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Alerts.EscalateAfter = time.Second
	svc := harness.Start(t, cfg)
	teamOf(t, svc, chart.Patient{ID: "p1", MRN: "M1", Name: "Ada Lovelace", BirthDate: "1950-01-01"}, "clinician:charge", "escalation:charge")
	secret := svc.AddDevice(t, "cuff-1", "p1")
	dev := harness.Connect(t, svc.BrokerURL(), "cuff-1", secret)
	tab := svc.SignIn(t, testenv.StartBrowser(t), "charge", auth.RoleClinician)
	tab.Wait(`document.querySelectorAll('li.tile').length === 1`, 10*time.Second)
	svc.WaitSubscribed(t, "charge", "p1", 10*time.Second)
	dev.Publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)
	tab.Wait(`document.querySelector('#notice').textContent.includes('Escalated to you: systolic low for Ada Lovelace')`, 20*time.Second)
	tab.Wait(`document.querySelector('#alert-list li[data-alert]').textContent.includes('escalated to you') && document.querySelector('#alert-list li[data-alert]').textContent.includes('▲ critical')`, 5*time.Second)
	tab.Screenshot("escalated")
}

// teamOf charts a patient in a care team "ward" with members given as
// "kind:id" (clinicians before their escalation entries).
func teamOf(t *testing.T, svc *harness.Service, p chart.Patient, members ...string) {
	t.Helper()
	svc.AddPatient(t, p)
	svc.AddTeam(t, "ward", "Ward")
	svc.AddMember(t, "ward", "patient", p.ID)
	for _, m := range members {
		kind, id, _ := strings.Cut(m, ":")
		svc.AddMember(t, "ward", kind, id)
	}
}
