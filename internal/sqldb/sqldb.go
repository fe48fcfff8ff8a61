// Package sqldb opens SQLite databases with the settings Vitalwire relies on
// (WAL, full fsync on commit, foreign keys, a busy timeout, write
// transactions that take the lock when they begin), both the records
// database and the embedded vitals store, and applies the embedded
// migrations of the records database.
package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Open opens (creating if needed) the SQLite database at path. Commits are
// fsynced (synchronous=FULL) because callers acknowledge data to devices
// after a commit returns.
func Open(path string) (*sql.DB, error) {
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "busy_timeout(10000)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	return db, nil
}

// private makes the database at path its owner's alone: a new one is
// created 0600 (SQLite gives its -wal and -shm files the database's
// mode), and an existing one, or its -wal and -shm, that group or others
// may read (the umask's 0644 of earlier versions) loses those bits. The
// files hold health data and credential hashes.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("make it private: %w", err)
			}
		}
	}
	return nil
}

//go:embed migrations/*.sql
var migrations embed.FS

// OpenRecords opens the records database (devices and their bindings;
// patients and care teams; revoked tokens, break-glass grants and the audit
// log; alerts, snoozes, rule overrides and the webhook outbox; users,
// sessions and used sign-in links; visits and encounters) and brings its
// schema up to date.
func OpenRecords(ctx context.Context, path string) (*sql.DB, error) {
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, db, migrations, "migrations"); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Records says where the records database is: a SQLite file (the
// default) or a PostgreSQL server shared by several nodes.
type Records struct {
	Kind     string // "sqlite" or "" (Path), "postgres" (Postgres)
	Path     string
	Postgres Postgres
}

// Open opens the records database r names and brings its schema up to
// date.
func (r Records) Open(ctx context.Context) (*sql.DB, error) {
	switch r.Kind {
	case "", "sqlite":
		return OpenRecords(ctx, r.Path)
	case "postgres":
		return OpenPostgres(ctx, r.Postgres)
	}
	return nil, fmt.Errorf("records.kind %q: sqlite or postgres", r.Kind)
}

// Migrate applies, in name order, each *.sql file of dir in fsys not yet
// recorded in the schema_migrations table, each in its own transaction.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) error {
	now := `strftime('%Y-%m-%dT%H:%M:%fZ','now')`
	if IsPostgres(db) {
		now = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (`+now+`))`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("check migration %s: %w", name, err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(name) VALUES (?)`, name); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// Strings runs a query of one text column and returns its values.
func Strings(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
