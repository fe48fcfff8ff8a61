package security

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// Threat: access that outlives its grant. A socket opened while the policy
// allowed a patient keeps streaming after the policy stops allowing it
// (removed from the care team, the patient moved, break-glass expired),
// while REST already answers 403.

// closingAudited finds the audit event of an ended live subscription.
func closingAudited(t *testing.T, s *harness.Service, subject, patient string, after time.Time) {
	t.Helper()
	for _, e := range s.Audit(t, patient) {
		if e.Actor == subject && e.Outcome == auth.Refused && strings.Contains(e.Action, "/ws/v1/live") && !e.Time.Before(after) {
			return
		}
	}
	t.Fatalf("no audit event of %s's live subscription to %s ending", subject, patient)
}

// noReadingOf publishes a reading of patient, waits until it is stored
// (and so handed to the live hub), then probes the socket with a
// subscription it refuses: nothing of patient may come before the answer.
func noReadingOf(t *testing.T, s *harness.Service, l *harness.Live, dev *harness.Device, patient string) {
	t.Helper()
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	n, _ := s.Stats(t, patient, vitals.HeartRate, from, to)
	dev.Publish(harness.Reading(vitals.HeartRate, 99, "/min", time.Now()))
	s.WaitCount(t, patient, vitals.HeartRate, from, to, n+1, 10*time.Second)
	require.NoError(t, l.Conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"nobody"}}))
	l.Await(5*time.Second, "the answer to the probe", func(m httpapi.LiveMessage) bool {
		require.False(t, m.Patient == patient && m.Type != "unsubscribed", "a %s of %s after access ended", m.Type, patient)
		return m.Type == "error" && m.Patient == "nobody"
	})
}

func TestALiveFeedEndsWithinASecondWhenCareTeamMembershipEnds(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)

	t.Run("a clinician removed from the care team stops receiving, and is told why", func(t *testing.T) {
		l := s.DialLive(t, s.Clinician("doc2"))
		require.Equal(t, "subscribed", l.Subscribe("p1")["p1"].Type)
		devs["p1"].Publish(harness.Reading(vitals.HeartRate, 71, "/min", time.Now()))
		l.Await(10*time.Second, "a reading of p1", func(m httpapi.LiveMessage) bool { return m.Type == "reading" && m.Patient == "p1" })

		removed := time.Now()
		s.RemoveMember(t, "ward", "clinician", "doc2")
		s.MustCall(t, http.StatusForbidden, "GET", "/api/v1/patients/p1", s.Clinician("doc2"), nil, nil)
		m := l.Await(time.Second, "the subscription to p1 ending", func(m httpapi.LiveMessage) bool {
			return m.Type == "unsubscribed" && m.Patient == "p1"
		})
		require.Contains(t, m.Error, "access ended")
		noReadingOf(t, s, l, devs["p1"], "p1")
		closingAudited(t, s, "doc2", "p1", removed)
	})

	t.Run("a patient moved out of the team is dropped, the others stay", func(t *testing.T) {
		l := s.DialLive(t, s.Clinician("doc1"))
		got := l.Subscribe("p1", "p2")
		require.Equal(t, "subscribed", got["p1"].Type)
		require.Equal(t, "subscribed", got["p2"].Type)
		removed := time.Now()
		s.RemoveMember(t, "ward", "patient", "p2")
		l.Await(time.Second, "the subscription to p2 ending", func(m httpapi.LiveMessage) bool {
			return m.Type == "unsubscribed" && m.Patient == "p2"
		})
		noReadingOf(t, s, l, devs["p2"], "p2")
		devs["p1"].Publish(harness.Reading(vitals.HeartRate, 72, "/min", time.Now()))
		l.Await(10*time.Second, "p1's readings still", func(m httpapi.LiveMessage) bool { return m.Type == "reading" && m.Patient == "p1" })
		closingAudited(t, s, "doc1", "p2", removed)
	})
}

func TestALiveFeedOpenedUnderBreakGlassEndsWhenTheGrantExpires(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Auth.BreakGlassTTL = 2 * time.Second
	s := harness.Start(t, cfg)
	s.Ward(t)
	doc3 := s.Clinician("doc3") // of the other ward
	var g auth.Grant
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/break-glass", doc3,
		map[string]string{"reason": "covering the ward at night, patient deteriorating"}, &g)
	l := s.DialLive(t, doc3)
	require.Equal(t, "subscribed", l.Subscribe("p1")["p1"].Type)

	m := l.Await(time.Until(g.ExpiresAt)+time.Second, "the break-glass subscription ending at the grant's expiry",
		func(m httpapi.LiveMessage) bool { return m.Type == "unsubscribed" && m.Patient == "p1" })
	require.Contains(t, m.Error, "access ended")
	require.WithinDuration(t, g.ExpiresAt, time.Now(), time.Second)
	s.MustCall(t, http.StatusForbidden, "GET", "/api/v1/patients/p1", doc3, nil, nil)
	closingAudited(t, s, "doc3", "p1", g.ExpiresAt)
}

func TestAVisitSocketOpenedThroughTheCareTeamEndsWhenTheClinicianLeavesIt(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	s := harness.Start(t, cfg)
	s.Ward(t)
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", s.Clinician("doc1"), map[string]any{}, &created)

	hdr := http.Header{"Authorization": {"Bearer " + s.Clinician("doc2")}} // the care team's other clinician
	conn, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+url.PathEscape(created.Visit.ID), hdr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]string{"type": "join"}))

	removed := time.Now()
	s.RemoveMember(t, "ward", "clinician", "doc2")
	ce := harness.AwaitClose(t, conn, time.Second)
	require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
	require.Contains(t, ce.Text, "access ended")
	found := false
	for _, e := range s.Audit(t, "p1") {
		if e.Actor == "doc2" && e.Outcome == auth.Refused && strings.Contains(e.Action, "/ws/v1/visits") && !e.Time.Before(removed) {
			found = true
		}
	}
	require.True(t, found, "the closing of doc2's visit socket is audited")
}
