package alerts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
)

// Two deliverers on one records database (two nodes) each claim the rows
// they send: every delivery reaches the receiver once, on SQLite and on
// PostgreSQL.
func TestTwoDeliverersOnOneOutboxDeliverEachOnce(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			r := sqldb.Records{Path: filepath.Join(t.TempDir(), "records.db")}
			if engine == "postgres" {
				r = sqldb.Records{Kind: "postgres", Postgres: testenv.PostgresDB(t)}
			}
			db := testenv.OpenRecordsAt(t, r)

			var mu sync.Mutex
			got := map[string]int{}
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond) // a receiver that takes its time
				mu.Lock()
				got[r.Header.Get("Idempotency-Key")]++
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(rcv.Close)
			hooks := []alerts.Webhook{{URL: rcv.URL, Secret: "s"}}
			one := alerts.NewWebhooks(db, hooks, zerolog.Nop())
			two := alerts.NewWebhooks(db, hooks, zerolog.Nop())
			ctx := context.Background()
			const n = 25
			for i := 1; i <= n; i++ {
				require.NoError(t, one.Enqueue(ctx, "alert.firing", alerts.Alert{ID: int64(i), Patient: "p1", Rule: "r"}))
			}
			// Both wake at once and find the same rows due.
			rctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for _, w := range []*alerts.Webhooks{one, two} {
				wg.Add(1)
				go func() { defer wg.Done(); w.Run(rctx) }()
			}
			require.Eventually(t, func() bool {
				pending, err := one.Pending(ctx)
				return err == nil && pending == 0
			}, 10*time.Second, 20*time.Millisecond, "everything is delivered")
			time.Sleep(100 * time.Millisecond)
			cancel()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, got, n)
			for key, c := range got {
				require.Equal(t, 1, c, "%s delivered once", key)
			}
		})
	}
}

// Two nodes' escalation timers find the same alert due at once: only
// the one whose update escalated it returns it (pages), on SQLite and on
// PostgreSQL.
func TestTwoNodesEscalateAnAlertOnce(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			r := sqldb.Records{Path: filepath.Join(t.TempDir(), "records.db")}
			if engine == "postgres" {
				r = sqldb.Records{Kind: "postgres", Postgres: testenv.PostgresDB(t)}
			}
			db := testenv.OpenRecordsAt(t, r)
			ctx := context.Background()
			fired := time.Now().Add(-time.Hour)
			_, opened, err := alerts.NewStore(db).Fire(ctx, alerts.Transition{Rule: alerts.Rule{ID: "spo2_low", Kind: "threshold",
				Vital: vitals.SpO2, Severity: "high"}, Patient: "p1", Firing: true, At: fired, By: fired, Value: 85})
			require.NoError(t, err)
			require.True(t, opened)

			// Another writer holds the records write lock while both nodes
			// read the alert as due; then both go on.
			hold, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			var wg sync.WaitGroup
			paged := make([][]alerts.Alert, 2)
			errs := make([]error, 2)
			for i := range paged {
				wg.Add(1)
				go func() {
					defer wg.Done()
					paged[i], errs[i] = alerts.NewStore(db).Escalate(ctx, time.Now().Add(-time.Minute), time.Now())
				}()
			}
			time.Sleep(300 * time.Millisecond)
			require.NoError(t, hold.Commit())
			wg.Wait()
			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			require.Len(t, append(paged[0], paged[1]...), 1, "one node pages")
		})
	}
}
