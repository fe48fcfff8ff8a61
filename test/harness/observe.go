package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/vitals"
)

// What the service stored, as its users and an independent observer see
// it: the API read as the patient themselves (every read audited, as any
// other), or a store opened directly.

// StoredReading is a reading as the API answers it.
type StoredReading = httpapi.Reading

func window(typ vitals.Type, from, to time.Time) string {
	return url.Values{"type": {string(typ)}, "from": {from.UTC().Format(time.RFC3339Nano)},
		"to": {to.UTC().Format(time.RFC3339Nano)}}.Encode()
}

// Readings returns a patient's readings of one type in [from, to).
func (s *Service) Readings(t testing.TB, patient string, typ vitals.Type, from, to time.Time) []StoredReading {
	t.Helper()
	var out struct{ Readings []StoredReading }
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/"+patient+"/readings?"+window(typ, from, to), s.Patient(patient), nil, &out)
	return out.Readings
}

// Count returns the count and sum of a patient's readings of one type in
// [from, to), from the aggregates API.
func (s *Service) Count(patient string, typ vitals.Type, from, to time.Time) (int64, float64, error) {
	req, err := http.NewRequest("GET", s.URL()+"/api/v1/patients/"+patient+"/aggregates?"+window(typ, from, to), nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Patient(patient))
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("aggregates: %s", resp.Status)
	}
	var out struct{ Windows []vitals.Window }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, 0, fmt.Errorf("aggregates: %w", err)
	}
	n, sum := countSum(out.Windows)
	return n, sum, nil
}

// Stats is the service's count and sum of a patient's readings.
func (s *Service) Stats(t testing.TB, patient string, typ vitals.Type, from, to time.Time) (int64, float64) {
	t.Helper()
	return Stats(t, s, patient, typ, from, to)
}

// WaitCount waits until the service has stored at least want readings.
func (s *Service) WaitCount(t testing.TB, patient string, typ vitals.Type, from, to time.Time, want int64, within time.Duration) {
	t.Helper()
	WaitCount(t, s, patient, typ, from, to, want, within)
}

func countSum(ws []vitals.Window) (int64, float64) {
	if len(ws) == 0 {
		return 0, 0
	}
	return ws[0].Count, ws[0].Mean * float64(ws[0].Count)
}

// Store is a time-series store opened by the test itself: an observer
// independent of the service (which may have stopped).
type Store struct{ vitals.Store }

// Count returns the count and sum of a patient's readings of one type in
// [from, to).
func (s Store) Count(patient string, typ vitals.Type, from, to time.Time) (int64, float64, error) {
	ws, err := s.Aggregate(context.Background(), vitals.AggregateQuery{Query: vitals.Query{Patient: patient, Type: typ, From: from, To: to}})
	if err != nil {
		return 0, 0, err
	}
	n, sum := countSum(ws)
	return n, sum, nil
}

// Counter counts stored readings: the service's API, or a Store.
type Counter interface {
	Count(patient string, typ vitals.Type, from, to time.Time) (n int64, sum float64, err error)
}

// Stats returns the count and sum of a patient's readings of one type in
// [from, to).
func Stats(t testing.TB, c Counter, patient string, typ vitals.Type, from, to time.Time) (int64, float64) {
	t.Helper()
	n, sum, err := c.Count(patient, typ, from, to)
	require.NoError(t, err)
	return n, sum
}

// WaitCount waits until at least want readings are stored.
func WaitCount(t testing.TB, c Counter, patient string, typ vitals.Type, from, to time.Time, want int64, within time.Duration) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, _, err := c.Count(patient, typ, from, to)
		require.NoError(ct, err)
		require.GreaterOrEqual(ct, got, want, "readings stored")
	}, within, 100*time.Millisecond)
}

// Alerts lists a patient's alerts, read as the patient: the open ones, or
// all (resolved too). The API answers at most 500.
func (s *Service) Alerts(t testing.TB, patient string, all bool) []alerts.Alert {
	t.Helper()
	q := url.Values{"patient": {patient}}
	if all {
		q.Set("all", "1")
	}
	var out []alerts.Alert
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/alerts?"+q.Encode(), s.Patient(patient), nil, &out)
	return out
}

// Audit exports the audit log (all of it, or one patient's) as an admin.
func (s *Service) Audit(t testing.TB, patient string) []auth.Event {
	t.Helper()
	evs, err := s.audit(patient)
	require.NoError(t, err)
	return evs
}

func (s *Service) audit(patient string) ([]auth.Event, error) {
	req, err := http.NewRequest("GET", s.URL()+"/api/v1/audit?"+url.Values{"patient": {patient}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.admin)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/audit: %s", resp.Status)
	}
	var out []auth.Event
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e auth.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit export: %w", err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// WaitSubscribed waits until the audit log shows that the service let
// subject's live socket subscribe to patient: from then on the socket gets
// the patient's readings and alerts. (A browser page subscribes on its
// own once it has drawn; this is the server's word that it has.)
func (s *Service) WaitSubscribed(t testing.TB, subject, patient string, within time.Duration) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		evs, err := s.audit(patient)
		require.NoError(ct, err)
		found := false
		for _, e := range evs {
			if e.Actor == subject && e.Outcome == auth.Allowed && strings.Contains(e.Action, "/ws/v1/live") {
				found = true
			}
		}
		require.True(ct, found, "%s's live socket subscribed to %s", subject, patient)
	}, within, 50*time.Millisecond)
}
