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
