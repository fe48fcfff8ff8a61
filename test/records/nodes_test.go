package records_test

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
)

// pager is an HTTPS webhook receiver that counts the deliveries it
// accepted by idempotency key. It refuses the first request (503), then
// holds the second (the retry) open until its sender goes away, as a
// receiver that hangs mid-delivery does.
type pager struct {
	mu       sync.Mutex
	held     chan struct{} // closed when the second request (the retry) arrives
	seen     int
	accepted map[string][]string // event -> the keys accepted
	perKey   map[string]int
}

func newPager(t *testing.T) (*pager, string, string) {
	p := &pager{held: make(chan struct{}), accepted: map[string][]string{}, perKey: map[string]int{}}
	rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		p.mu.Lock()
		p.seen++
		seen := p.seen
		p.mu.Unlock()
		if seen == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if seen == 2 {
			close(p.held)
			<-r.Context().Done()
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var pl alerts.WebhookPayload
		if err := json.Unmarshal(body, &pl); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		// A slow receiver: a second node scanning the outbox meanwhile
		// would find the row still undelivered.
		time.Sleep(200 * time.Millisecond)
		key := r.Header.Get("webhook-id")
		p.mu.Lock()
		p.accepted[pl.Event] = append(p.accepted[pl.Event], key)
		p.perKey[key]++
		p.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	rcv.Config.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	rcv.StartTLS()
	t.Cleanup(rcv.Close)
	ca := filepath.Join(t.TempDir(), "pager-ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rcv.Certificate().Raw}), 0o600))
	return p, rcv.URL + "/page", ca
}

func (p *pager) count(event string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted[event])
}

// Two nodes share one PostgreSQL records database. An alert fires on the
// first; its webhook delivery is refused and its retry hangs, the second
// node starts, and the first is stopped with the retry claimed; the second delivers it once
// the claim expires (well before anything else would wake it).
// The first node comes back, and when the alert goes unacknowledged past
// the escalation time, both nodes' timers see it due: the escalation is
// paged once. Every delivery reaches the receiver once.
func TestNodesOnOneRecordsDatabaseDeliverAndEscalateOnce(t *testing.T) {
	p, url, ca := newPager(t)
	cfgA := harness.Config(t)
	harness.UsePostgres(t, &cfgA)
	cfgA.Alerts.Webhooks = []alerts.Webhook{{URL: url, Secret: "whsec_dHdvLW5vZGVzLW9uZS1yZWNvcmRzLWRhdGFiYXNl", CAFile: ca}}
	cfgA.Alerts.EscalateAfter = 10 * time.Second
	cfgA.Alerts.WebhookClaim = 2 * time.Second
	// The second node: the same records database, audit chain key and
	// settings; its own data folder and ports.
	cfgB := cfgA
	cfgB.DataDir = t.TempDir()
	cfgB.Auth.Audit.CheckpointFile = filepath.Join(t.TempDir(), "audit-checkpoints.log")
	opts := app.Options{AlertsEvery: 300 * time.Millisecond}

	a := harness.StartWith(t, cfgA, opts)
	a.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	secret := a.AddDevice(t, "cuff-1", "p1")
	// Systolic 82: systolic_low fires at once, on the node the cuff
	// publishes to.
	harness.Connect(t, a.BrokerURL(), "cuff-1", secret).Publish(`{"type":"blood_pressure","systolic":82,"diastolic":50,"unit":"mm[Hg]"}`)
	fired := time.Now()

	select {
	case <-p.held:
	case <-time.After(15 * time.Second):
		t.Fatal("no retry reached the receiver")
	}
	// The second node starts with the delivery claimed by the first.
	b := harness.StartWith(t, cfgB, opts)
	db := harness.OpenRecords(t, cfgA)
	var holder string
	require.NoError(t, db.QueryRow(`SELECT claimed_by FROM webhook_outbox WHERE delivered_at IS NULL`).Scan(&holder))
	require.NotEmpty(t, holder, "the hanging retry is claimed by its node")
	a.Stop() // with the retry claimed and unfinished

	require.Eventually(t, func() bool { return p.count("alert.firing") == 1 }, 10*time.Second, 50*time.Millisecond,
		"the other node delivers the firing once the claim expires")
	took := time.Since(fired)
	require.GreaterOrEqual(t, took, 3*time.Second, "not before the claim (2 s, after the 1 s backoff) expired")
	require.Less(t, took, 8*time.Second, "soon after the claim expired, not when something else wakes the node")

	a2 := harness.StartWith(t, cfgA, opts) // the first node is back
	require.Eventually(t, func() bool { return p.count("alert.escalated") >= 1 }, 15*time.Second, 50*time.Millisecond,
		"the unacknowledged alert is escalated")
	time.Sleep(2 * time.Second) // room for a second page, if any
	require.Equal(t, 1, p.count("alert.escalated"), "the escalation pages once")
	require.Equal(t, 1, p.count("alert.firing"), "the firing is delivered once")
	p.mu.Lock()
	for key, n := range p.perKey {
		require.Equal(t, 1, n, "delivery %s accepted once", key)
	}
	p.mu.Unlock()
	var escalations int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM alert_events WHERE kind = 'escalated'`).Scan(&escalations))
	require.Equal(t, 1, escalations)
	a2.Stop()
	b.Stop()
}
