package security

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// joinVisit opens a visit's signalling socket, joins the call and waits
// for the welcome; the socket stays open until the test ends.
func joinVisit(t *testing.T, s *harness.Service, visit, query string, hdr http.Header) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+visit+query, hdr)
	if resp != nil {
		require.NoError(t, err, "status %d", resp.StatusCode)
	}
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.WriteJSON(map[string]string{"type": "join"}))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		var m struct{ Type, Error string }
		require.NoError(t, conn.ReadJSON(&m))
		require.NotEqual(t, "error", m.Type, m.Error)
		if m.Type == "welcome" {
			return conn
		}
	}
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// joinCode is the code of a visit's join link.
func joinCode(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	q, err := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/join?"))
	require.NoError(t, err)
	return q.Get("code")
}

type fhirEncounter struct {
	ResourceType, ID, Status string
	Meta                     struct{ VersionID, LastUpdated string }
	Period                   struct{ Start, End string }
	Text                     struct{ Div string }
}

func TestAnEncounterAttachedEarlyFollowsTheVisitToItsEnd(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	devs["p1"].Publish(harness.Reading(vitals.HeartRate, 72, "/min", time.Now().Add(-time.Hour)))
	doc1 := s.Clinician("doc1")
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc1,
		map[string]any{"scheduled_at": time.Now().Add(30 * time.Minute)}, &created)
	id := created.Visit.ID

	// Attached before anyone joined, with a note written ahead.
	var early map[string]any
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/attach", doc1, map[string]string{"note": "Pre-visit: ask about ankle swelling."}, &early)

	// Admitted ahead, the patient enters the call without the waiting room.
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/admit", doc1, map[string]string{"subject": "p1"}, nil)
	joinVisit(t, s, id, "?join="+url.QueryEscape(joinCode(t, created.PatientLink.URL)), nil)
	joinVisit(t, s, id, "", bearer(doc1))
	time.Sleep(1100 * time.Millisecond) // a visit of a second or more
	var final map[string]any
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/end", doc1, map[string]string{"note": "Swelling down; continue furosemide."}, &final)

	t.Run("ending the visit amends the Encounter: its period and the note given at the end", func(t *testing.T) {
		require.Equal(t, "Swelling down; continue furosemide.", final["note"])
		start, err := time.Parse(time.RFC3339Nano, final["start"].(string))
		require.NoError(t, err)
		end, err := time.Parse(time.RFC3339Nano, final["end"].(string))
		require.NoError(t, err)
		require.GreaterOrEqual(t, end.Sub(start), time.Second, "the period is the visit's, not zero-length")
	})

	t.Run("FHIR reads the amended version and keeps the earlier one in its history", func(t *testing.T) {
		var e fhirEncounter
		s.MustCall(t, http.StatusOK, "GET", "/fhir/r4/Encounter/"+id, doc1, nil, &e)
		require.Equal(t, "finished", e.Status)
		require.Equal(t, "2", e.Meta.VersionID)
		require.Contains(t, e.Text.Div, "continue furosemide")
		require.NotEqual(t, e.Period.Start, e.Period.End)

		var h struct {
			ResourceType, Type string
			Total              int
			Entry              []struct{ Resource fhirEncounter }
		}
		s.MustCall(t, http.StatusOK, "GET", "/fhir/r4/Encounter/"+id+"/_history", doc1, nil, &h)
		require.Equal(t, "history", h.Type)
		require.Len(t, h.Entry, 2)
		require.Equal(t, "2", h.Entry[0].Resource.Meta.VersionID, "newest first")
		require.Equal(t, "1", h.Entry[1].Resource.Meta.VersionID)
		require.Equal(t, "planned", h.Entry[1].Resource.Status)
		require.Contains(t, h.Entry[1].Resource.Text.Div, "ankle swelling")

		var v1 fhirEncounter
		s.MustCall(t, http.StatusOK, "GET", "/fhir/r4/Encounter/"+id+"/_history/1", doc1, nil, &v1)
		require.Equal(t, "1", v1.Meta.VersionID)
		s.MustCall(t, http.StatusNotFound, "GET", "/fhir/r4/Encounter/"+id+"/_history/3", doc1, nil, nil)
		// The history is the patient's data like the rest.
		s.MustCall(t, http.StatusForbidden, "GET", "/fhir/r4/Encounter/"+id+"/_history", s.Clinician("doc3"), nil, nil)
	})

	t.Run("once finished, attaching again changes nothing", func(t *testing.T) {
		var again map[string]any
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/attach", doc1, map[string]string{"note": "changed"}, &again)
		require.Equal(t, final["note"], again["note"])
		require.Equal(t, final["version"], again["version"])
	})
}

func TestAnInvitedClinicianOfAnotherTeamTakesPartButDoesNotWriteTheChart(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	devs["p1"].Publish(harness.Reading(vitals.HeartRate, 72, "/min", time.Now().Add(-time.Hour)))
	doc1, doc3 := s.Clinician("doc1"), s.Clinician("doc3")
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc1, `{}`, &created)
	id := created.Visit.ID
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/visits/"+id+"/invite", doc1, map[string]string{"subject": "doc3", "role": "clinician"}, nil)

	var v httpapi.VisitView
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/visits/"+id, doc3, nil, &v)
	require.Equal(t, "clinician", v.You, "doc3 takes part in the call")
	require.False(t, v.Chart, "the visit page offers doc3 no chart actions")
	var mine httpapi.VisitView
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/visits/"+id, doc1, nil, &mine)
	require.True(t, mine.Chart, "the care team's clinician writes the chart")
	conn := joinVisit(t, s, id, "", bearer(doc3))

	t.Run("the invited clinician neither attaches nor ends, and gets no vitals summary", func(t *testing.T) {
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/visits/"+id+"/attach", doc3, map[string]string{"note": "x"}, nil)
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/visits/"+id+"/end", doc3, map[string]string{"note": "x"}, nil)
		require.NoError(t, conn.WriteJSON(map[string]string{"type": "end", "note": "x"}))
		for {
			var m struct{ Type, Error string }
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type == "error" {
				require.Contains(t, m.Error, "ends the visit")
				break
			}
		}
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/visits/"+id, doc1, nil, &v)
		require.NotEqual(t, "ended", v.State)
		s.MustCall(t, http.StatusNotFound, "GET", "/fhir/r4/Encounter/"+id, doc1, nil, nil)
	})

	t.Run("the care team's clinician ends it and writes the chart", func(t *testing.T) {
		var enc map[string]any
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/end", doc1, map[string]string{"note": "Seen with cardiology."}, &enc)
		require.NotEmpty(t, enc["summaries"])
	})
}
