package ops

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
)

// An operator's dashboard sees requests by route, method and status class
// with their durations, and which build runs; no patient or device id
// asked for ever becomes a label.
func TestRequestMetricsAreByRouteAndNameNoIDs(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	svc.AddPatient(t, chart.Patient{ID: "metrics-p-7781", MRN: "M-7781", Name: "Metric Person", BirthDate: "1960-02-03"})
	svc.AddTeam(t, "ward-m", "Ward M")
	svc.AddMember(t, "ward-m", "clinician", "dr-m")
	svc.AddMember(t, "ward-m", "patient", "metrics-p-7781")
	dr := svc.Clinician("dr-m")
	svc.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/metrics-p-7781", dr, nil, nil)
	svc.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/metrics-p-7781", dr, nil, nil)
	refused := svc.Call(t, "GET", "/api/v1/patients/metrics-p-7781", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, refused)
	svc.Call(t, "POST", "/api/v1/no-such-thing/dev-secret-5521", svc.Admin(), nil, nil)
	req, err := http.NewRequest("BREW", svc.URL()+"/api/v1/patients/metrics-p-7781", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	m := svc.Metrics(t)
	const route = `route="/api/v1/patients/{id}"`
	require.Equal(t, 2.0, m[`vitalwire_http_requests_total{method="GET",`+route+`,status="2xx"}`], "two answered reads of the route")
	require.Equal(t, 1.0, m[`vitalwire_http_requests_total{method="GET",`+route+`,status="4xx"}`], "one refusal")
	require.Equal(t, 2.0, m[`vitalwire_http_request_duration_seconds_count{method="GET",`+route+`,status="2xx"}`], "timed")
	require.Positive(t, m[`vitalwire_http_requests_total{method="POST",route="unmatched",status="4xx"}`], "a path no route serves")
	require.Positive(t, m[`vitalwire_http_requests_total{method="other",route="unmatched",status="4xx"}`]+
		m[`vitalwire_http_requests_total{method="other",`+route+`,status="4xx"}`], "an unknown method is other")

	var build string
	for k, v := range m {
		if strings.HasPrefix(k, "vitalwire_build_info{") {
			build = k
			require.Equal(t, 1.0, v)
		}
	}
	require.Contains(t, build, `goversion="`+runtime.Version()+`"`)
	require.Contains(t, build, `version="`)
	require.Contains(t, build, `revision="`)

	raw, err := http.Get(svc.URL() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(raw.Body)
	raw.Body.Close()
	require.NoError(t, err)
	for _, id := range []string{"metrics-p-7781", "dev-secret-5521", "BREW"} {
		require.NotContains(t, string(body), id, "no id asked for becomes a label")
	}
}
