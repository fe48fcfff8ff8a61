package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/vitals"
)

// rangeRecorder counts what the handlers ask the store for.
type rangeRecorder struct {
	vitals.Store
	mu     sync.Mutex
	calls  int
	asked  int // the sum of the Limits asked for
	maxLim int
}

func (r *rangeRecorder) Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	r.mu.Lock()
	r.calls++
	r.asked += q.Limit
	r.maxLim = max(r.maxLim, q.Limit)
	r.mu.Unlock()
	return r.Store.Range(ctx, q)
}

func (r *rangeRecorder) Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	return r.Store.Aggregate(ctx, q)
}

func (r *rangeRecorder) reset() (calls, asked, maxLim int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls, asked, maxLim = r.calls, r.asked, r.maxLim
	r.calls, r.asked, r.maxLim = 0, 0, 0
	return
}

// A page costs the store at most a page (and the page's offset) per vital
// type: neither a type named again and again nor a cursor's count of
// readings to skip makes one request read more of a patient's history.
func TestAPageCostsTheStoreAPagePerType(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.addPatient(t, "p1")
	rec := &rangeRecorder{Store: f.d.Store}
	d := f.d
	d.Store = rec
	h, err := New(d)
	require.NoError(t, err)
	tok := f.mint("p1", auth.RolePatient)
	get := func(path string) int {
		req, _ := http.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(w, req)
		return w.code
	}
	pages := DefaultPageConfig()
	types := len(vitals.Types())
	// The most one page may ask of the store: count+offset+1 of each type.
	bound := types * (2*pages.MaxSize + 1)
	now := time.Now().UnixNano()

	t.Run("a vital type named again and again is read once", func(t *testing.T) {
		code := strings.TrimSuffix(strings.Repeat("8867-4,", 200), ",")
		st := get("/fhir/r4/Observation?patient=p1&date=ge1900-01-01&_count=10000&code=" + code)
		calls, asked, _ := rec.reset()
		if st == http.StatusOK {
			require.LessOrEqual(t, asked, bound, "one FHIR page asked the store for %d readings in %d calls", asked, calls)
		}
		st = get("/api/v1/patients/p1/readings?since=100000h&limit=10000&type=" + strings.TrimSuffix(strings.Repeat("heart_rate,", 200), ","))
		calls, _, _ = rec.reset()
		if st == http.StatusOK {
			require.LessOrEqual(t, calls, types, "one readings page made %d store calls", calls)
		}
	})

	t.Run("a cursor cannot skip more than a page deep", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("/fhir/r4/Observation?patient=p1&date=ge1900-01-01&_cursor=%d.1000000", now),
			fmt.Sprintf("/fhir/r4/Patient/p1/$everything?start=1900-01-01&_cursor=%d.1000000", now),
			fmt.Sprintf("/api/v1/patients/p1/readings?since=100000h&cursor=heart_rate.%d.1000000", now),
		} {
			st := get(path)
			_, asked, maxLim := rec.reset()
			if st == http.StatusOK {
				require.LessOrEqual(t, asked, bound, "%s asked the store for %d readings (one query for %d)", path, asked, maxLim)
			} else {
				require.Equal(t, http.StatusBadRequest, st, path)
			}
		}
	})
}

type statusRecorder struct {
	header http.Header
	code   int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(c int) {
	if s.code == 0 {
		s.code = c
	}
}
