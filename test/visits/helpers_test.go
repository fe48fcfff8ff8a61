package visits_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

// fhirGet fetches a FHIR resource, checks the media type, and validates
// it with Google's FHIR R4 library (an independent parser with the R4
// cardinality and value-set checks). It returns the JSON.
func fhirGet(t *testing.T, s *harness.Service, token, path string) map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL()+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	require.Equal(t, "application/fhir+json", resp.Header.Get("Content-Type"))
	validateFHIR(t, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

var fhirR4 = func() *jsonformat.Unmarshaller {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		panic(err)
	}
	return u
}()

func validateFHIR(t *testing.T, body []byte) {
	t.Helper()
	_, err := fhirR4.Unmarshal(body)
	require.NoError(t, err, "FHIR R4 validation of %s", truncate(string(body), 600))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// refusals counts the audit events of refused requests by actor, of one
// patient ("" for all), whose action matches.
func refusals(t *testing.T, s *harness.Service, actor, patient string, match func(action string) bool) int {
	t.Helper()
	n := 0
	for _, e := range s.Audit(t, patient) {
		if e.Actor == actor && e.Outcome == "refused" && (patient == "" || e.Patient == patient) && match(e.Action) {
			n++
		}
	}
	return n
}

// visitSocket dials a visit's signalling socket and reads it until it
// closes (answering the server's pings meanwhile); the channel gets the
// error that ended it.
func visitSocket(t *testing.T, s *harness.Service, visit string, hdr http.Header) <-chan error {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+visit, hdr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	return ended
}

func requireClosedBy(t *testing.T, ended <-chan error, within time.Duration, why string) {
	t.Helper()
	select {
	case err := <-ended:
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
		require.Contains(t, ce.Text, why)
	case <-time.After(within):
		t.Fatalf("the visit socket is still open after %s", within)
	}
}

// bearer is the header of a bearer token.
func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}
