package sqldb_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/sqldb"
)

func openRecords(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sqldb.OpenRecords(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// shippedMigrations lists the migration files in the source tree, which are
// the ones embedded in the binary.
func shippedMigrations(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	require.NotEmpty(t, names)
	return names
}

type applied struct{ name, at string }

func appliedMigrations(t *testing.T, db *sql.DB) []applied {
	t.Helper()
	rows, err := db.Query(`SELECT name, applied_at FROM schema_migrations ORDER BY name`)
	require.NoError(t, err)
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		require.NoError(t, rows.Scan(&a.name, &a.at))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestOpenRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "records.db")
	db := openRecords(t, path)

	t.Run("a fresh file gets the whole schema", func(t *testing.T) {
		tables, err := sqldb.Strings(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'table'`)
		require.NoError(t, err)
		for _, want := range []string{
			"devices", "device_bindings", "patients", "care_teams", "care_team_members",
			"revoked_tokens", "break_glass", "audit_events", "alerts", "alert_events",
			"webhook_outbox", "alert_snoozes", "rule_overrides", "users", "sessions",
			"signin_links_used", "visits", "visit_invites", "visit_presence", "encounters",
		} {
			require.Contains(t, tables, want)
		}
	})
	t.Run("every shipped migration is recorded once", func(t *testing.T) {
		var names []string
		for _, a := range appliedMigrations(t, db) {
			names = append(names, a.name)
			require.NotEmpty(t, a.at, a.name)
		}
		require.Equal(t, shippedMigrations(t), names)
	})
	t.Run("the last migration's schema is in place", func(t *testing.T) {
		// 0009 widened the member kinds to escalation contacts.
		_, err := db.Exec(`INSERT INTO care_teams (id, name) VALUES ('t1', 'Ward 3')`)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO care_team_members (team_id, member, kind) VALUES ('t1', 'dr-a', 'escalation')`)
		require.NoError(t, err)
	})
	t.Run("opening it again applies nothing twice and keeps the data", func(t *testing.T) {
		before := appliedMigrations(t, db)
		_, err := db.Exec(`INSERT INTO devices (id, secret_hash, mqtt_hash, created_at) VALUES ('watch-1', 'h', 'm', 1)`)
		require.NoError(t, err)
		require.NoError(t, db.Close())

		again := openRecords(t, path)
		require.Equal(t, before, appliedMigrations(t, again))
		ids, err := sqldb.Strings(ctx, again, `SELECT id FROM devices`)
		require.NoError(t, err)
		require.Equal(t, []string{"watch-1"}, ids)
	})
}

func TestOpenSettings(t *testing.T) {
	ctx := context.Background()
	db := openRecords(t, filepath.Join(t.TempDir(), "records.db"))

	// The settings are per connection: hold several at once so the pool
	// has to open more than one.
	var conns []*sql.Conn
	for range 3 {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	for _, tc := range []struct {
		name   string
		pragma string
		want   string
	}{
		{"the journal is a write-ahead log", "journal_mode", "wal"},
		{"commits are fully synced", "synchronous", "2"}, // FULL
		{"foreign keys are enforced", "foreign_keys", "1"},
		{"a busy database is waited on for ten seconds", "busy_timeout", "10000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, c := range conns {
				var got string
				require.NoError(t, c.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got))
				require.Equal(t, tc.want, strings.ToLower(got), "connection %d", i)
			}
		})
	}
	t.Run("a row that points nowhere is refused", func(t *testing.T) {
		_, err := db.Exec(`INSERT INTO device_bindings (device_id, patient, from_ns) VALUES ('no-such-device', 'p1', 0)`)
		require.ErrorContains(t, err, "FOREIGN KEY")
	})
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(filepath.Join(t.TempDir(), "m.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	fsys := fstest.MapFS{
		// Out of name order on purpose: 0002 needs the table of 0001.
		"m/0002_rows.sql":   {Data: []byte(`INSERT INTO things (name) VALUES ('first');`)},
		"m/0001_things.sql": {Data: []byte(`CREATE TABLE things (name TEXT NOT NULL);`)},
		"m/README.md":       {Data: []byte(`not SQL`)},
	}
	names := func() []string {
		t.Helper()
		got, err := sqldb.Strings(ctx, db, `SELECT name FROM schema_migrations ORDER BY name`)
		require.NoError(t, err)
		return got
	}
	things := func() []string {
		t.Helper()
		got, err := sqldb.Strings(ctx, db, `SELECT name FROM things ORDER BY rowid`)
		require.NoError(t, err)
		return got
	}

	t.Run("sql files run in name order and other files are ignored", func(t *testing.T) {
		require.NoError(t, sqldb.Migrate(ctx, db, fsys, "m"))
		require.Equal(t, []string{"0001_things.sql", "0002_rows.sql"}, names())
		require.Equal(t, []string{"first"}, things())
	})
	t.Run("a second run applies nothing", func(t *testing.T) {
		require.NoError(t, sqldb.Migrate(ctx, db, fsys, "m"))
		require.Equal(t, []string{"first"}, things())
	})
	t.Run("a failing migration is named and leaves no trace", func(t *testing.T) {
		fsys["m/0003_half.sql"] = &fstest.MapFile{Data: []byte(
			`INSERT INTO things (name) VALUES ('half'); INSERT INTO no_such_table VALUES (1);`)}
		err := sqldb.Migrate(ctx, db, fsys, "m")
		require.ErrorContains(t, err, "0003_half.sql")
		require.Equal(t, []string{"0001_things.sql", "0002_rows.sql"}, names())
		require.Equal(t, []string{"first"}, things(), "the first statement was rolled back")
	})
	t.Run("once fixed, the failed migration runs on the next start", func(t *testing.T) {
		fsys["m/0003_half.sql"] = &fstest.MapFile{Data: []byte(`INSERT INTO things (name) VALUES ('whole');`)}
		require.NoError(t, sqldb.Migrate(ctx, db, fsys, "m"))
		require.Equal(t, []string{"0001_things.sql", "0002_rows.sql", "0003_half.sql"}, names())
		require.Equal(t, []string{"first", "whole"}, things())
	})
	t.Run("a missing folder is an error", func(t *testing.T) {
		require.Error(t, sqldb.Migrate(ctx, db, fsys, "nowhere"))
	})
}

func TestStrings(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (k TEXT, v TEXT); INSERT INTO t VALUES ('a', 'x'), ('b', 'y'), ('a', 'z'), ('c', NULL)`)
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		query   string
		args    []any
		want    []string
		wantErr string
	}{
		{name: "the values come back in the query's order", query: `SELECT v FROM t WHERE v IS NOT NULL ORDER BY v DESC`, want: []string{"z", "y", "x"}},
		{name: "arguments are bound", query: `SELECT v FROM t WHERE k = ? ORDER BY v`, args: []any{"a"}, want: []string{"x", "z"}},
		{name: "no rows is an empty list", query: `SELECT v FROM t WHERE k = ?`, args: []any{"none"}, want: nil},
		{name: "numbers are read as text", query: `SELECT count(*) FROM t`, want: []string{"4"}},
		{name: "a bad query is an error", query: `SELECT v FROM missing`, wantErr: "no such table"},
		{name: "a NULL is an error, not an empty string", query: `SELECT v FROM t WHERE k = 'c'`, wantErr: "NULL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqldb.Strings(ctx, db, tc.query, tc.args...)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
