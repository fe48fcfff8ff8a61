package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

func TestAnUnacknowledgedAlertPagesTheTeamsEscalationContacts(t *testing.T) {
	port := testenv.FreePort(t)
	var mu sync.Mutex
	var got []alerts.WebhookPayload
	serveOn(t, port, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p alerts.WebhookPayload
		require.NoError(t, json.Unmarshal(body, &p))
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))

	cfg := testConfig(t)
	cfg.Alerts.Webhooks = []alerts.Webhook{{URL: fmt.Sprintf("http://127.0.0.1:%d/hook", port), Secret: "s3cret-for-the-test"}}
	cfg.Alerts.EscalateAfter = time.Second
	a := startApp(t, cfg)
	ctx := context.Background()
	teamOf(t, a, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"}, "clinician:doc", "clinician:charge")
	admin, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
	require.Equal(t, http.StatusBadRequest, apiCall(t, a, "POST", "/api/v1/care-teams/ward/members", admin, `{"kind":"escalation","member":"stranger"}`, nil),
		"a contact must be a clinician of the team")
	require.Equal(t, http.StatusNoContent, apiCall(t, a, "POST", "/api/v1/care-teams/ward/members", admin, `{"kind":"escalation","member":"charge"}`, nil))

	// The charge nurse's live socket.
	tok, _ := a.Signer.Mint("charge", auth.RoleClinician, time.Hour)
	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(a.URL(), "http://", "ws://", 1)+"/ws/v1/live?access_token="+tok, nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1"}}))

	secret := addDevice(t, a, "cuff-1", "p1")
	connectDevice(t, "tcp://"+a.BrokerAddr(), "cuff-1", secret).publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)

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
		require.Equal(t, http.StatusNoContent, apiCall(t, a, "DELETE", "/api/v1/care-teams/ward/members", admin, `{"kind":"clinician","member":"charge"}`, nil))
		contacts, err := a.Chart.EscalationContacts(ctx, "p1")
		require.NoError(t, err)
		require.Empty(t, contacts)
	})
}

func TestTheContactsDashboardSaysEscalatedToYou(t *testing.T) {
	cfg := testConfig(t)
	cfg.Alerts.EscalateAfter = time.Second
	a := startApp(t, cfg)
	teamOf(t, a, chart.Patient{ID: "p1", MRN: "M1", Name: "Ada Lovelace", BirthDate: "1950-01-01"}, "clinician:charge", "escalation:charge")
	secret := addDevice(t, a, "cuff-1", "p1")
	dev := connectDevice(t, "tcp://"+a.BrokerAddr(), "cuff-1", secret)
	tab := signIn(t, testenv.StartBrowser(t), a, "charge", auth.RoleClinician)
	tab.Wait(`document.querySelectorAll('li.tile').length === 1`, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // subscribed
	dev.publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)
	tab.Wait(`document.querySelector('#notice').textContent.includes('Escalated to you: systolic low for Ada Lovelace')`, 20*time.Second)
	tab.Wait(`document.querySelector('#alert-list li[data-alert]').textContent.includes('escalated to you') && document.querySelector('#alert-list li[data-alert]').textContent.includes('▲ critical')`, 5*time.Second)
	tab.Screenshot("escalated")
}

// teamOf charts a patient in a care team "ward" with members given as
// "kind:id" (clinicians before their escalation entries).
func teamOf(t *testing.T, a *app.App, p chart.Patient, members ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := a.Chart.AddPatient(ctx, p)
	require.NoError(t, err)
	require.NoError(t, a.Chart.AddTeam(ctx, "ward", "Ward"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "patient", p.ID))
	for _, m := range members {
		kind, id, _ := strings.Cut(m, ":")
		require.NoError(t, a.Chart.AddMember(ctx, "ward", kind, id))
	}
}
