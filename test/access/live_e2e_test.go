package access

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestTheLiveSocketStreamsOnlyPermittedPatientsAndDropsARevokedToken(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	for _, p := range []string{"p1", "p2"} {
		s.AddPatient(t, chart.Patient{ID: p, MRN: "M-" + p, Name: "Name " + p, BirthDate: "1970-01-01"})
	}
	s.AddTeam(t, "ward", "Ward")
	s.AddMember(t, "ward", "clinician", "doc")
	s.AddMember(t, "ward", "patient", "p1")
	s1 := s.AddDevice(t, "w1", "p1")
	s2 := s.AddDevice(t, "w2", "p2")
	tok, _ := s.Token("doc", auth.RoleClinician, time.Hour)
	wsURL := s.WSURL() + "/ws/v1/live"

	t.Run("a bad token is refused before the upgrade", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(wsURL+"?access_token=nonsense", nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	conn, _, err := websocket.DefaultDialer.Dial(wsURL+"?access_token="+tok, nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1", "p2"}}))
	read := func() httpapi.LiveMessage {
		t.Helper()
		for {
			var m httpapi.LiveMessage
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type == "news2" {
				require.Equal(t, "p1", m.Patient, "a score of a patient not subscribed")
				continue
			}
			return m
		}
	}
	got := map[string]httpapi.LiveMessage{}
	for i := 0; i < 2; i++ {
		m := read()
		got[m.Patient] = m
	}
	require.Equal(t, "subscribed", got["p1"].Type)
	require.Equal(t, "error", got["p2"].Type)
	require.Equal(t, "forbidden", got["p2"].Error)

	t.Run("readings of the care team's patient arrive, others' do not", func(t *testing.T) {
		d2 := harness.Connect(t, s.BrokerURL(), "w2", s2)
		d1 := harness.Connect(t, s.BrokerURL(), "w1", s1)
		d2.Publish(harness.Reading(vitals.HeartRate, 111, "/min", time.Now()))
		d1.Publish(harness.Reading(vitals.HeartRate, 77, "/min", time.Now()))
		m := read()
		require.Equal(t, "reading", m.Type)
		require.Equal(t, "p1", m.Patient)
		require.NotNil(t, m.Reading, "a reading message carries the reading")
		require.Equal(t, 77.0, m.Reading.Value)
		require.Equal(t, vitals.HeartRate, m.Reading.Type)
		require.Equal(t, "/min", m.Reading.Unit)
	})

	t.Run("alerts of the care team's patient arrive, others' do not", func(t *testing.T) {
		d2 := harness.Connect(t, s.BrokerURL(), "w2", s2)
		d1 := harness.Connect(t, s.BrokerURL(), "w1", s1)
		bp := `{"type":"blood_pressure","systolic":80,"diastolic":50,"unit":"mm[Hg]"}`
		d2.Publish(bp) // p2: systolic_low fires, but doc may not see p2
		d1.Publish(bp) // p1: systolic_low fires
		for {
			var m httpapi.LiveMessage
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type != "alert" {
				continue
			}
			require.Equal(t, "p1", m.Patient, "the first alert on the socket is p1's, not p2's")
			require.Equal(t, "systolic_low", alertOf(t, m).Rule)
			require.NotNil(t, m.Urgency, "an alert message carries the patient's urgency")
			break
		}
	})

	t.Run("revoking the token closes the open socket within a second", func(t *testing.T) {
		start := time.Now()
		s.RevokeToken(t, tok)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var err error
		for err == nil { // messages already in flight come first
			_, _, err = conn.ReadMessage()
		}
		require.True(t, websocket.IsCloseError(err, websocket.ClosePolicyViolation), "closed for policy: %v", err)
		require.Less(t, time.Since(start), time.Second)
	})
}
