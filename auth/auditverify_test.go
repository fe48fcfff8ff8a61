package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/sqldb"
)

// Someone who holds the records database and can write the checkpoint
// file, but not the keys, must not be able to pass verify by emptying
// or removing the checkpoint file together with the trail's evidence.
func TestVerifyFindsAnEmptiedOrRemovedCheckpointFile(t *testing.T) {
	ctx := context.Background()
	keyed := func(t *testing.T) (auth.AuditConfig, string) {
		cfg := auditConfig(t)
		path := filepath.Join(filepath.Dir(cfg.CheckpointFile), "records.db")
		db, err := sqldb.OpenRecords(ctx, path)
		require.NoError(t, err)
		defer db.Close()
		key, err := auth.LoadOrCreateKey(cfg.ChainKeyFile)
		require.NoError(t, err)
		c, err := auth.NewCheckpointer(cfg, nil)
		require.NoError(t, err)
		l, err := auth.OpenAuditLog(ctx, db, auth.WithChainKey(key), auth.WithCheckpoints(c))
		require.NoError(t, err)
		stop := runCheckpointer(t, c)
		appendN(t, l, 10)
		stop()
		return cfg, path
	}
	verify := func(t *testing.T, cfg auth.AuditConfig, path string) auth.Report {
		db, err := sqldb.OpenRecords(ctx, path)
		require.NoError(t, err)
		defer db.Close()
		r, err := auth.VerifyTrail(ctx, db, verifyOptions(t, cfg))
		require.NoError(t, err)
		return r
	}

	t.Run("a clean trail is clean", func(t *testing.T) {
		cfg, path := keyed(t)
		require.Empty(t, verify(t, cfg, path).Findings)
	})
	t.Run("the checkpoint file emptied and the newest events deleted", func(t *testing.T) {
		cfg, path := keyed(t)
		require.NoError(t, os.Truncate(cfg.CheckpointFile, 0))
		db, err := sqldb.Open(path)
		require.NoError(t, err)
		_, err = db.Exec(`DELETE FROM audit_events WHERE seq > 4`)
		require.NoError(t, err)
		db.Close()
		r := verify(t, cfg, path)
		require.NotEmpty(t, r.Findings, "an emptied checkpoint file and a truncated trail passed verify")
	})
	t.Run("the checkpoint file removed, the anchor removed and the trail rewritten without the key", func(t *testing.T) {
		cfg, path := keyed(t)
		require.NoError(t, os.Remove(cfg.CheckpointFile))
		db, err := sqldb.OpenRecords(ctx, path)
		require.NoError(t, err)
		_, err = db.Exec(`DELETE FROM audit_events; DELETE FROM audit_chain`)
		require.NoError(t, err)
		forged, err := auth.OpenAuditLog(ctx, db) // plain SHA-256, as anyone can compute
		require.NoError(t, err)
		appendN(t, forged, 3)
		db.Close()
		r := verify(t, cfg, path)
		require.NotEmpty(t, r.Findings, "a trail rewritten without the key, its anchor and checkpoints removed, passed verify")
	})
}
