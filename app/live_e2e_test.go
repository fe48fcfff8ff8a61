package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/vitals"
)

type wsMsg struct {
	Type, Patient, Error, Device, Vital, Unit string
	Value                                     float64
}

func TestTheLiveSocketStreamsOnlyPermittedPatientsAndDropsARevokedToken(t *testing.T) {
	a := startApp(t, testConfig(t))
	ctx := context.Background()
	for _, p := range []string{"p1", "p2"} {
		_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: p, MRN: "M-" + p, Name: "Name " + p, BirthDate: "1970-01-01"})
		require.NoError(t, err)
	}
	require.NoError(t, a.Chart.AddTeam(ctx, "ward", "Ward"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "clinician", "doc"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "patient", "p1"))
	s1 := addDevice(t, a, "w1", "p1")
	s2 := addDevice(t, a, "w2", "p2")
	tok, _ := a.Signer.Mint("doc", auth.RoleClinician, time.Hour)
	wsURL := strings.Replace(a.URL(), "http://", "ws://", 1) + "/ws/v1/live"

	t.Run("a bad token is refused before the upgrade", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(wsURL+"?access_token=nonsense", nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	conn, _, err := websocket.DefaultDialer.Dial(wsURL+"?access_token="+tok, nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1", "p2"}}))
	read := func() wsMsg {
		t.Helper()
		for {
			var m wsMsg
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type == "news2" {
				require.Equal(t, "p1", m.Patient, "a score of a patient not subscribed")
				continue
			}
			return m
		}
	}
	got := map[string]wsMsg{}
	for i := 0; i < 2; i++ {
		m := read()
		got[m.Patient] = m
	}
	require.Equal(t, "subscribed", got["p1"].Type)
	require.Equal(t, "error", got["p2"].Type)
	require.Equal(t, "forbidden", got["p2"].Error)

	t.Run("readings of the care team's patient arrive, others' do not", func(t *testing.T) {
		d2 := connectDevice(t, "tcp://"+a.BrokerAddr(), "w2", s2)
		d1 := connectDevice(t, "tcp://"+a.BrokerAddr(), "w1", s1)
		d2.publish(reading(vitals.HeartRate, 111, "/min", time.Now()))
		d1.publish(reading(vitals.HeartRate, 77, "/min", time.Now()))
		m := read()
		require.Equal(t, "reading", m.Type)
		require.Equal(t, "p1", m.Patient)
		require.Equal(t, 77.0, m.Value)
		require.Equal(t, "heart_rate", m.Vital)
		require.Equal(t, "/min", m.Unit)
	})

	t.Run("alerts of the care team's patient arrive, others' do not", func(t *testing.T) {
		d2 := connectDevice(t, "tcp://"+a.BrokerAddr(), "w2", s2)
		d1 := connectDevice(t, "tcp://"+a.BrokerAddr(), "w1", s1)
		bp := `{"type":"blood_pressure","systolic":80,"diastolic":50,"unit":"mm[Hg]"}`
		d2.publish(bp) // p2: systolic_low fires, but doc may not see p2
		d1.publish(bp) // p1: systolic_low fires
		for {
			var m struct {
				Type, Patient string
				Alert         struct{ Rule, Patient string }
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type != "alert" {
				continue
			}
			require.Equal(t, "p1", m.Patient, "the first alert on the socket is p1's, not p2's")
			require.Equal(t, "systolic_low", m.Alert.Rule)
			break
		}
	})

	t.Run("revoking the token closes the open socket within a second", func(t *testing.T) {
		admin, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
		req, _ := http.NewRequest("POST", a.URL()+"/api/v1/tokens/revoke", strings.NewReader(`{"token":"`+tok+`"}`))
		req.Header.Set("Authorization", "Bearer "+admin)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for err == nil { // messages already in flight come first
			_, _, err = conn.ReadMessage()
		}
		require.True(t, websocket.IsCloseError(err, websocket.ClosePolicyViolation), "closed for policy: %v", err)
		require.Less(t, time.Since(start), time.Second)
	})
}
