package alerts_test

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// delivery is one request the receiver got, as it came.
type delivery struct {
	Name    string            `json:"name"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// An alert fired through the broker reaches an HTTPS receiver signed so
// that the Standard Webhooks specification's own implementation (npm
// standardwebhooks, run by node) accepts it, and refuses it once a byte of
// the body changes; the payload tells a pager everything it shows.
func TestWebhookDeliveriesVerifyWithTheStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()
	dir := testenv.NodePackages(t, "../node/webhooks")
	node := testenv.NodeBinary()

	var mu sync.Mutex
	var got []delivery
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		got = append(got, delivery{Headers: map[string]string{
			"webhook-id":        r.Header.Get("webhook-id"),
			"webhook-timestamp": r.Header.Get("webhook-timestamp"),
			"webhook-signature": r.Header.Get("webhook-signature"),
		}, Body: string(body)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	rcv.StartTLS()
	t.Cleanup(rcv.Close)
	caFile := filepath.Join(t.TempDir(), "receiver-ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rcv.Certificate().Raw}), 0o600))

	const secret = "whsec_dml0YWx3aXJlLXN0YW5kYXJkLXdlYmhvb2tzLXRlc3Q="
	cfg := harness.Config(t)
	cfg.HTTP.ExternalURL = "https://vitalwire.example.org"
	cfg.Alerts.Webhooks = []alerts.Webhook{{URL: rcv.URL + "/pager", Secret: secret, CAFile: caFile}}
	svc := harness.Start(t, cfg)
	svc.AddPatient(t, chart.Patient{ID: "pager-p1", MRN: "MRN-4711", Name: "Ada Quillfeather", BirthDate: "1950-01-01"})
	devSecret := svc.AddDevice(t, "cuff-pager", "pager-p1")
	d := harness.Connect(t, svc.BrokerURL(), "cuff-pager", devSecret)
	// Systolic 82: the shipped systolic_low rule fires at once.
	d.Publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	}, 20*time.Second, 50*time.Millisecond, "the firing is delivered to the HTTPS receiver")
	mu.Lock()
	real := got[0]
	mu.Unlock()
	real.Name = "real"
	tampered := real
	tampered.Name = "tampered"
	tampered.Body = strings.Replace(real.Body, `"value":82`, `"value":92`, 1)
	require.NotEqual(t, real.Body, tampered.Body, "the body names the value")
	retimed := real
	retimed.Name = "retimed"
	retimed.Headers = map[string]string{"webhook-id": real.Headers["webhook-id"], "webhook-signature": real.Headers["webhook-signature"],
		"webhook-timestamp": "1700000000"}
	otherID := real
	otherID.Name = "other-id"
	otherID.Headers = map[string]string{"webhook-id": "msg_other", "webhook-signature": real.Headers["webhook-signature"],
		"webhook-timestamp": real.Headers["webhook-timestamp"]}

	in, err := json.Marshal(map[string]any{"secret": secret, "deliveries": []delivery{real, tampered, retimed, otherID}})
	require.NoError(t, err)
	inFile := filepath.Join(t.TempDir(), "deliveries.json")
	require.NoError(t, os.WriteFile(inFile, in, 0o600))
	cmd := exec.Command(node, filepath.Join(dir, "verify.js"), inFile)
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err, "node verify.js: %s", out)
	var res map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	verdict := func(name string) string {
		var s string
		require.NoError(t, json.Unmarshal(res[name], &s))
		return s
	}
	require.Equal(t, "ok", verdict("real"), "the library accepts the delivery")
	for _, name := range []string{"tampered", "retimed", "other-id"} {
		require.True(t, strings.HasPrefix(verdict(name), "refused"), "%s: %s", name, verdict(name))
	}

	// What the library handed back is what a pager shows.
	var p struct {
		Type string           `json:"type"`
		Data alerts.PagerData `json:"data"`
	}
	require.NoError(t, json.Unmarshal(res["real.payload"], &p))
	require.Equal(t, "alert.firing", p.Type)
	d0 := p.Data
	require.Equal(t, "blood_pressure", d0.Vital)
	require.Equal(t, "systolic", d0.Component)
	require.Equal(t, 82.0, d0.Value)
	require.Equal(t, "mm[Hg]", d0.Unit)
	require.NotNil(t, d0.Threshold)
	require.Equal(t, "<", d0.Threshold.Comparator)
	require.Equal(t, 90.0, d0.Threshold.Level)
	require.Equal(t, "pager-p1", d0.Patient)
	require.Equal(t, "high", d0.Severity)
	require.Equal(t, "systolic_low", d0.Rule)
	require.Regexp(t, `^https://vitalwire\.example\.org/#/patients/pager-p1\?alert=\d+$`, d0.URL)
	require.Contains(t, d0.Text, "82 mmHg")
	require.Contains(t, d0.Text, "< 90")
	require.Contains(t, d0.Text, "patient pager-p1")
	for _, secretish := range []string{"Ada", "Quillfeather", "MRN-4711"} {
		require.NotContains(t, real.Body, secretish, "a pager payload names no patient")
	}
}
