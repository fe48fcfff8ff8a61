package harness

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Call sends a request to the API with a bearer token ("" for none) and a
// body (a string is sent as it is, anything else as JSON), decodes a 2xx
// answer into out when out is not nil, and returns the status.
func (s *Service) Call(t testing.TB, method, path, token string, body, out any) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		r = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, s.URL()+path, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out), "%s %s: the answer's JSON", method, path)
	}
	return resp.StatusCode
}

// MustCall is Call that requires the status want.
func (s *Service) MustCall(t testing.TB, want int, method, path, token string, body, out any) {
	t.Helper()
	require.Equal(t, want, s.Call(t, method, path, token, body, out), "%s %s", method, path)
}

// Metrics reads a server's /metrics and returns the samples by name with
// labels, e.g. `vitalwire_readings_refused_total{reason="oversized"}`.
func Metrics(t testing.TB, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET /metrics")
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// Metrics reads the service's /metrics.
func (s *Service) Metrics(t testing.TB) map[string]float64 {
	t.Helper()
	return Metrics(t, s.URL())
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
