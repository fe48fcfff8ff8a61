package security

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: behind a reverse proxy every client has the proxy's address, so
// one attacker's refusals use up everyone's allowance and the audit log
// names the proxy; and, the other way round, a client that may choose the
// address it is counted under by sending X-Forwarded-For escapes every
// per-source limit.

// anonymousGet asks for a patient's data without credentials, as if
// forwarded for client (no header when client is "").
func anonymousGet(t *testing.T, s *harness.Service, client string) int {
	req, err := http.NewRequest("GET", s.URL()+"/api/v1/patients/p1/readings", nil)
	require.NoError(t, err)
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestClientsBehindATrustedProxyAreCountedAndAuditedByTheirOwnAddress(t *testing.T) {
	t.Parallel()
	env := []string{"VITALWIRE_AUTH_ANONYMOUS_PER_MINUTE=1", "VITALWIRE_AUTH_ANONYMOUS_BURST=3"}

	t.Run("from a trusted proxy, each forwarded client has its own allowance and is audited by its address", func(t *testing.T) {
		cfg := harness.Config(t)
		require.NoError(t, cfg.ApplyEnv(env))
		cfg.HTTP.TrustedProxies = []string{"127.0.0.1"}
		s := harness.Start(t, cfg)
		s.AddPatient(t, chart.Patient{ID: "p1", MRN: "MRN-1", Name: "N", BirthDate: "1950-01-01"})
		for i := 0; i < 3; i++ {
			require.Equal(t, http.StatusUnauthorized, anonymousGet(t, s, "198.51.100.9, 203.0.113.7"))
		}
		require.Equal(t, http.StatusTooManyRequests, anonymousGet(t, s, "203.0.113.7"), "the attacker's allowance is spent")
		require.Equal(t, http.StatusUnauthorized, anonymousGet(t, s, "203.0.113.8"), "another client behind the proxy still gets its answer")
		sources := map[string]bool{}
		for _, e := range anonymousEvents(t, s) {
			sources[e.Source] = true
		}
		require.True(t, sources["203.0.113.7"], "the audit log names the client, not the proxy: %v", sources)
		require.False(t, sources["198.51.100.9"], "an address the client wrote left of the proxy's entry is not believed")
		require.False(t, sources["127.0.0.1"], "the proxy is not audited as the client: %v", sources)
	})

	t.Run("from anyone else, the header is ignored", func(t *testing.T) {
		cfg := harness.Config(t)
		require.NoError(t, cfg.ApplyEnv(env))
		s := harness.Start(t, cfg)
		s.AddPatient(t, chart.Patient{ID: "p1", MRN: "MRN-1", Name: "N", BirthDate: "1950-01-01"})
		for i := 0; i < 3; i++ {
			require.Equal(t, http.StatusUnauthorized, anonymousGet(t, s, "203.0.113.1"))
		}
		require.Equal(t, http.StatusTooManyRequests, anonymousGet(t, s, "203.0.113.2"),
			"a new X-Forwarded-For does not buy a new allowance")
		for _, e := range anonymousEvents(t, s) {
			require.Equal(t, "127.0.0.1", e.Source)
		}
	})
}
