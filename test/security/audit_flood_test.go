package security

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: the audit log as a disk-filling tool. Every request for patient
// data is audited, and an attacker without any credential controls the
// request: they send as many as they like, with ids as long as the server
// takes. The trail must stay complete (every refusal is counted) without
// one event per request, and an id no patient can have is refused before
// anything is written.

// startFlood starts the service with settings given as its environment
// (VITALWIRE_...), as an operator would.
func startFlood(t *testing.T, env ...string) *harness.Service {
	t.Helper()
	cfg := harness.Config(t)
	require.NoError(t, cfg.ApplyEnv(env))
	s := harness.Start(t, cfg)
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "MRN-1", Name: "Flood Target", BirthDate: "1950-01-01", SpO2Scale: 1})
	return s
}

// anonymousEvents are the audit events of callers without credentials.
func anonymousEvents(t *testing.T, s *harness.Service) []auth.Event {
	var out []auth.Event
	for _, e := range s.Audit(t, "") {
		if e.Actor == "anonymous" {
			out = append(out, e)
		}
	}
	return out
}

var countRE = regexp.MustCompile(`(?:^|\s)count=(\d+)(?:\s|$)`)

// refusalsIn is how many refusals the anonymous events account for: one
// per event written for a single request, and count=N for an aggregated
// event. It also returns how many events were aggregated ones.
func refusalsIn(evs []auth.Event) (total, aggregated int) {
	for _, e := range evs {
		if m := countRE.FindStringSubmatch(e.Resource); m != nil && strings.Contains(e.Action, "aggregated") {
			n, _ := strconv.Atoi(m[1])
			total += n
			aggregated++
			continue
		}
		total++
	}
	return total, aggregated
}

func TestAnonymousRefusalsAreCountedExactlyInABoundedNumberOfEvents(t *testing.T) {
	s := startFlood(t, "VITALWIRE_AUTH_REFUSAL_WINDOW=2s", "VITALWIRE_AUTH_ANONYMOUS_PER_MINUTE=60",
		"VITALWIRE_AUTH_ANONYMOUS_BURST=20")
	before := len(anonymousEvents(t, s))
	const requests = 1000
	paths := []string{"/api/v1/patients/%s", "/api/v1/patients/%s/readings", "/api/v1/patients/%s/latest",
		"/fhir/r4/Patient/%s", "/api/v1/patients/%s/devices"}
	var limited, retryAfter atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				// Odd but well-formed ids: each names no patient, or p1.
				id := fmt.Sprintf("p%d.x-%d", i%7, i)
				if i%10 == 0 {
					id = "p1"
				}
				resp, err := http.Get(s.URL() + fmt.Sprintf(paths[i%len(paths)], id))
				if !assert.NoError(t, err) {
					continue
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					limited.Add(1)
					if resp.Header.Get("Retry-After") != "" {
						retryAfter.Add(1)
					}
				default:
					t.Errorf("request %d: %d, want 401 or 429", i, resp.StatusCode)
				}
			}
		}()
	}
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)

	t.Run("past the per-source limit the answer is 429 with Retry-After", func(t *testing.T) {
		require.Positive(t, limited.Load(), "no request was rate limited")
		require.Equal(t, limited.Load(), retryAfter.Load(), "every 429 says when to retry")
	})
	t.Run("the trail counts every refusal exactly, in a bounded number of events", func(t *testing.T) {
		windows := int(elapsed/(2*time.Second)) + 2
		var evs []auth.Event
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			evs = anonymousEvents(t, s)[before:]
			total, _ := refusalsIn(evs)
			require.Equal(ct, requests, total, "refusals accounted for by the audit log (%d events)", len(evs))
		}, 15*time.Second, 200*time.Millisecond)
		require.LessOrEqual(t, len(evs), 2*windows, "one source, %s of flooding: at most an event and its aggregate per window", elapsed)
		_, aggregated := refusalsIn(evs)
		require.Positive(t, aggregated, "an aggregated event carries the count")
		for _, e := range evs {
			require.Equal(t, auth.Refused, e.Outcome)
			require.Equal(t, "127.0.0.1", e.Source, "aggregated per source address")
		}
	})
}

func TestIdsThatNoRecordCanHaveAreRefusedBeforeAnythingIsWritten(t *testing.T) {
	s := startFlood(t)
	s.AddTeam(t, "ward-1", "Ward 1")
	s.AddMember(t, "ward-1", "clinician", "doc-1")
	s.AddMember(t, "ward-1", "patient", "p1")
	doc := s.Clinician("doc-1")
	long := strings.Repeat("a", 500<<10)
	odd := map[string]string{
		"500 KiB":            long,
		"65 characters":      strings.Repeat("b", 65),
		"a NUL byte":         "p1%00",
		"a space":            "p1%20x",
		"a quote":            "p1%22",
		"a non-ASCII letter": "p%C3%A9",
		"a newline":          "p1%0A",
		"a leading dot":      ".p1",
	}
	count := func() int { return len(s.Audit(t, "")) }

	for name, id := range odd {
		for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"a clinician", doc}} {
			t.Run("a patient id with "+name+" from "+who.name+" is 400 and not audited", func(t *testing.T) {
				before := count()
				for _, path := range []string{"/api/v1/patients/" + id + "/readings", "/fhir/r4/Patient/" + id,
					"/api/v1/visits/" + id, "/fhir/r4/Observation/" + id + ".hkz3m1q2.0f3a9c"} {
					want := http.StatusBadRequest
					if len(path) > 64<<10 {
						// Refused with the request line, before any handler
						// (http.max_header_bytes).
						want = http.StatusRequestHeaderFieldsTooLarge
					}
					require.Equal(t, want, s.Call(t, "GET", path, who.token, nil, nil), "GET %.60s", path)
				}
				require.Equal(t, before, count(), "no audit event for an invalid id")
			})
		}
	}
	t.Run("ids in bodies are refused before they are audited", func(t *testing.T) {
		before := count()
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/patients", s.Admin(),
			chart.Patient{ID: long, MRN: "M", Name: "N", BirthDate: "1950-01-01", SpO2Scale: 1}, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/care-teams/ward-1/members", s.Admin(),
			map[string]string{"kind": "patient", "member": long}, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/alerts?patient="+long[:5000], doc, nil, nil))
		require.Equal(t, before, count(), "no audit event for an invalid id")
	})
	t.Run("a credential cannot be made for a subject no record can have", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/users", s.Admin(),
			map[string]string{"username": "long.subject", "subject": long, "role": "clinician", "password": "a long enough password"}, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/signin-links", s.Admin(),
			map[string]string{"subject": "doc 1", "role": "clinician"}, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/session", "",
			map[string]string{"username": long, "password": "whatever it is"}, nil), "a username no account can have")
	})
	t.Run("a well-formed id is still answered as before", func(t *testing.T) {
		require.Equal(t, http.StatusOK, s.Call(t, "GET", "/api/v1/patients/p1/readings", doc, nil, nil))
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/patients/p2/readings", doc, nil, nil))
	})
}
