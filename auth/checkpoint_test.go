package auth_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

func auditConfig(t *testing.T) auth.AuditConfig {
	dir := t.TempDir()
	cfg := auth.DefaultAuditConfig()
	cfg.ChainKeyFile = filepath.Join(dir, "chain.key")
	cfg.CheckpointKeyFile = filepath.Join(dir, "checkpoint.key")
	cfg.CheckpointFile = filepath.Join(dir, "checkpoints.log")
	return cfg
}

func verifyOptions(t *testing.T, cfg auth.AuditConfig) auth.VerifyOptions {
	key, err := auth.LoadKeyFile(cfg.ChainKeyFile)
	require.NoError(t, err)
	seed, err := auth.LoadKeyFile(cfg.CheckpointKeyFile)
	require.NoError(t, err)
	pub, err := auth.CheckpointPublicKey(seed)
	require.NoError(t, err)
	return auth.VerifyOptions{ChainKey: key, CheckpointKey: pub, CheckpointFile: cfg.CheckpointFile}
}

func appendN(t *testing.T, l *auth.AuditLog, n int) {
	for i := 0; i < n; i++ {
		_, err := l.Append(context.Background(), auth.Event{Actor: "doc", Role: "clinician", Action: "GET /x", Patient: "p1", Outcome: auth.Allowed})
		require.NoError(t, err)
	}
}

func checkpoints(t *testing.T, path string) []auth.Checkpoint {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []auth.Checkpoint
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var cp auth.Checkpoint
		require.NoError(t, json.Unmarshal(sc.Bytes(), &cp))
		out = append(out, cp)
	}
	return out
}

// runCheckpointer runs c until the returned stop is called.
func runCheckpointer(t *testing.T, c *auth.Checkpointer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, c.Close())
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestAnUpgradedTrailIsKeyedFromTheSwitch(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	old, err := auth.OpenAuditLog(ctx, db)
	require.NoError(t, err)
	appendN(t, old, 3) // written before keys existed
	cfg := auditConfig(t)
	key, err := auth.LoadOrCreateKey(cfg.ChainKeyFile)
	require.NoError(t, err)
	l, err := auth.OpenAuditLog(ctx, db, auth.WithChainKey(key))
	require.NoError(t, err)
	appendN(t, l, 3)

	t.Run("the old events verify unkeyed and the new ones with the key", func(t *testing.T) {
		r, err := auth.VerifyTrail(ctx, db, auth.VerifyOptions{ChainKey: key})
		require.NoError(t, err)
		require.Empty(t, r.Findings)
		require.EqualValues(t, 6, r.Events)
		require.EqualValues(t, 4, r.KeyedFrom)
	})
	t.Run("without the key the keyed part is unverifiable, which is a finding", func(t *testing.T) {
		r, err := auth.VerifyTrail(ctx, db, auth.VerifyOptions{})
		require.NoError(t, err)
		require.Len(t, r.Findings, 1)
		require.Equal(t, auth.FindingUnverifiable, r.Findings[0].Kind)
	})
	t.Run("the log opens only with the key that keyed it", func(t *testing.T) {
		_, err := auth.OpenAuditLog(ctx, db)
		require.ErrorIs(t, err, auth.ErrChainKeyNeeded)
		other := make([]byte, 32)
		_, err = auth.OpenAuditLog(ctx, db, auth.WithChainKey(other))
		require.ErrorIs(t, err, auth.ErrWrongChainKey)
	})
	t.Run("rewriting the unkeyed part shows at the switch", func(t *testing.T) {
		// Whoever rewrites events 1-3 must change 3's hash, which event 4
		// (keyed) names.
		_, err := db.Exec(`UPDATE audit_events SET hash = 'x' || substr(hash, 2) WHERE seq = 3`)
		require.NoError(t, err)
		r, err := auth.VerifyTrail(ctx, db, auth.VerifyOptions{ChainKey: key})
		require.NoError(t, err)
		kinds := map[string]int64{}
		for _, f := range r.Findings {
			kinds[f.Kind] = f.Seq
		}
		require.Equal(t, map[string]int64{auth.FindingEdited: 3, auth.FindingBrokenLink: 4}, kinds)
	})
}

func TestCheckpoints(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T, cfg auth.AuditConfig, warn func(error)) (*auth.AuditLog, *auth.Checkpointer, func()) {
		db, err := sqldb.OpenRecords(ctx, filepath.Join(filepath.Dir(cfg.CheckpointFile), "records.db"))
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		key, err := auth.LoadOrCreateKey(cfg.ChainKeyFile)
		require.NoError(t, err)
		c, err := auth.NewCheckpointer(cfg, warn)
		require.NoError(t, err)
		l, err := auth.OpenAuditLog(ctx, db, auth.WithChainKey(key), auth.WithCheckpoints(c))
		require.NoError(t, err)
		return l, c, runCheckpointer(t, c)
	}

	t.Run("one at start, one every N events and one at shutdown, each signed", func(t *testing.T) {
		cfg := auditConfig(t)
		cfg.CheckpointEvery, cfg.CheckpointInterval = 10, time.Hour
		l, _, stop := open(t, cfg, nil)
		appendN(t, l, 25)
		require.Eventually(t, func() bool { return len(checkpoints(t, cfg.CheckpointFile)) >= 3 }, 5*time.Second, 10*time.Millisecond)
		stop()
		cps := checkpoints(t, cfg.CheckpointFile)
		pub := verifyOptions(t, cfg).CheckpointKey
		require.EqualValues(t, 0, cps[0].Seq, "the start")
		require.EqualValues(t, 25, cps[len(cps)-1].Seq, "the shutdown")
		for i, cp := range cps {
			require.EqualValues(t, i+1, cp.N)
			require.True(t, cp.Verifies(pub))
			require.EqualValues(t, 1, cp.KeyedFrom)
		}
		require.GreaterOrEqual(t, cps[1].Seq, int64(10))
	})
	t.Run("one every interval while events come", func(t *testing.T) {
		cfg := auditConfig(t)
		cfg.CheckpointEvery, cfg.CheckpointInterval = 1000, 20*time.Millisecond
		l, _, _ := open(t, cfg, nil)
		appendN(t, l, 3)
		require.Eventually(t, func() bool {
			cps := checkpoints(t, cfg.CheckpointFile)
			return len(cps) > 0 && cps[len(cps)-1].Seq == 3
		}, 5*time.Second, 10*time.Millisecond)
	})
	t.Run("a sink that never answers holds up neither appends nor the file", func(t *testing.T) {
		release := make(chan struct{})
		stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(stuck.Close)
		cfg := auditConfig(t)
		cfg.CheckpointEvery, cfg.CheckpointInterval, cfg.CheckpointURL = 5, 20*time.Millisecond, stuck.URL
		var warned atomic.Int32
		l, _, stop := open(t, cfg, func(error) { warned.Add(1) })
		appendN(t, l, 200) // 40 checkpoints' worth, the sink stuck on the first
		require.Eventually(t, func() bool {
			cps := checkpoints(t, cfg.CheckpointFile)
			return len(cps) > 0 && cps[len(cps)-1].Seq == 200
		}, 10*time.Second, 10*time.Millisecond, "the file keeps up")
		// Stopped while the sink is still stuck: shutdown waits for it at
		// most its bound, then reports what was not shipped.
		t.Cleanup(func() { close(release) })
		stop()
		require.Positive(t, warned.Load(), "what was not shipped is reported")
	})
	t.Run("a failing sink is retried a bounded number of times", func(t *testing.T) {
		var calls atomic.Int32
		failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		t.Cleanup(failing.Close)
		cfg := auditConfig(t)
		cfg.CheckpointInterval, cfg.CheckpointURL, cfg.CheckpointURLRetries = time.Hour, failing.URL, 1
		var warnings []string
		var mu sync.Mutex
		l, _, stop := open(t, cfg, func(err error) { mu.Lock(); warnings = append(warnings, err.Error()); mu.Unlock() })
		appendN(t, l, 1)
		stop() // two checkpoints: the start and the shutdown
		require.EqualValues(t, 2*2, calls.Load(), "each checkpoint posted 1+retries times")
		require.Len(t, warnings, 2)
		require.Contains(t, warnings[0], "2 attempts: answered 500 Internal Server Error")
	})
	t.Run("a trail that ends before the newest checkpoint is reported at start", func(t *testing.T) {
		cfg := auditConfig(t)
		l, _, stop := open(t, cfg, nil)
		appendN(t, l, 5)
		stop()
		db, err := sqldb.Open(filepath.Join(filepath.Dir(cfg.CheckpointFile), "records.db"))
		require.NoError(t, err)
		_, err = db.Exec(`DELETE FROM audit_events WHERE seq > 3`)
		require.NoError(t, err)
		db.Close()
		var warnings []string
		open(t, cfg, func(err error) { warnings = append(warnings, err.Error()) })
		require.Len(t, warnings, 1)
		require.Contains(t, warnings[0], "audit trail truncated: checkpoint 2 names event 5, the records database ends at event 3")
	})
	t.Run("a checkpoint signed by another key does not verify", func(t *testing.T) {
		cfg := auditConfig(t)
		l, _, stop := open(t, cfg, nil)
		appendN(t, l, 2)
		stop()
		other, _, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		for _, cp := range checkpoints(t, cfg.CheckpointFile) {
			require.False(t, cp.Verifies(other))
		}
	})
}

func TestAuditConfigNamesBadFields(t *testing.T) {
	cfg := auth.DefaultConfig()
	cfg.Audit.CheckpointEvery = 0
	cfg.Audit.CheckpointInterval = 2 * time.Hour
	cfg.Audit.CheckpointSyslog = "syslog.example:514"
	cfg.Audit.CheckpointURL = "ftp://sink.example"
	cfg.Audit.CheckpointURLRetries = 99
	err := cfg.Validate()
	for _, field := range []string{"audit.checkpoint_every:", "audit.checkpoint_interval:", "audit.checkpoint_syslog:",
		"audit.checkpoint_url:", "audit.checkpoint_url_retries:"} {
		require.ErrorContains(t, err, field)
	}
	require.NoError(t, auth.DefaultConfig().Validate())
}
