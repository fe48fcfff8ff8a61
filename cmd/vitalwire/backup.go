package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/buildinfo"
	"github.com/vitalwire/vitalwire/internal/sqldb"
)

// The files of a backup folder.
const (
	backupRecords     = "records.db"
	backupVitals      = "vitals.db"
	backupSigningKey  = "signing.key"
	backupCheckpoints = "audit-checkpoints.log"
	backupManifest    = "manifest.json"
)

// manifest describes a backup: what it holds, their digests, and what the
// verification found, so that a restore can tell a damaged copy.
type manifest struct {
	CreatedAt time.Time         `json:"created_at"`
	Version   string            `json:"version"`
	Files     map[string]string `json:"files"` // name -> hex SHA-256
	// AuditEvents and AuditNewest are the trail's length and newest seq;
	// Readings the vitals store's readings (absent with InfluxDB).
	AuditEvents int64  `json:"audit_events"`
	AuditNewest int64  `json:"audit_newest"`
	Readings    *int64 `json:"readings,omitempty"`
	// VitalsStore is "sqlite" (vitals.db is in the backup) or "influx"
	// (back InfluxDB up with its own tools).
	VitalsStore string `json:"vitals_store"`
}

// backupCmd takes an online backup of the records and the SQLite vitals
// store: consistent snapshots (VACUUM INTO, while the service runs and
// writes), the signing key and the audit checkpoints, then reopens the
// copies and verifies the audit trail in them before it says done.
// errPostgresBackup: backup and restore copy SQLite files; a PostgreSQL
// records database is backed up by its own tools.
var errPostgresBackup = errors.New("records.kind is postgres: back the records up with PostgreSQL's tools (pg_dump, or a base backup with WAL archiving; docs/SCALING.md), then the keys and checkpoints as docs/DEPLOY.md says")

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlagSet("backup", "backup --out DIR [--config FILE]")
	out := fl.String("out", "", "new `folder` to write the backup into")
	cf := addConfigFlags(fl)
	cfg, err := cf.parseAndLoad(fl, args, stdout, stderr)
	if err != nil {
		return err
	}
	if cfg.Records.Kind == "postgres" {
		return errPostgresBackup
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		return fmt.Errorf("--out %s: not empty: a backup goes into a new folder", *out)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := os.Chmod(*out, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	m := manifest{CreatedAt: time.Now().UTC(), Version: buildinfo.Get().Version, Files: map[string]string{}, VitalsStore: cfg.Store.Kind}
	// The checkpoints first: each names events written before it, so the
	// copy names none the snapshot taken after it lacks.
	if err := copyFile(cfg.Auth.Audit.CheckpointFile, filepath.Join(*out, backupCheckpoints)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("copy the audit checkpoints: %w", err)
	}
	if err := snapshot(ctx, cfg.Records.Path, filepath.Join(*out, backupRecords)); err != nil {
		return fmt.Errorf("records: %w", err)
	}
	if cfg.Store.Kind == "sqlite" {
		if err := snapshot(ctx, cfg.Store.SQLitePath, filepath.Join(*out, backupVitals)); err != nil {
			return fmt.Errorf("vitals: %w", err)
		}
	}
	if err := copyFile(cfg.Auth.SigningKeyFile, filepath.Join(*out, backupSigningKey)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("copy the signing key: %w", err)
	}
	if err := verifyBackup(ctx, cfg, *out, &m); err != nil {
		return fmt.Errorf("the backup in %s does not verify: %w", *out, err)
	}
	ents, err := os.ReadDir(*out)
	if err != nil {
		return err
	}
	for _, e := range ents {
		sum, err := fileSHA256(filepath.Join(*out, e.Name()))
		if err != nil {
			return err
		}
		m.Files[e.Name()] = sum
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := writeFileSync(filepath.Join(*out, backupManifest), append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s and verified: audit chain intact (%d events)", *out, m.AuditEvents)
	if m.Readings != nil {
		fmt.Fprintf(stdout, ", %d readings", *m.Readings)
	} else {
		fmt.Fprint(stdout, "; the vitals are in InfluxDB: back them up with influx backup")
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stderr, "The audit keys are not in the backup (they live apart from the records on purpose): keep their own copy.")
	return nil
}

// snapshot writes a consistent copy of the SQLite database at src to dst
// while other processes may write to it.
func snapshot(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	db, err := sqldb.Open(src)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("VACUUM INTO %s: %w", dst, err)
	}
	return os.Chmod(dst, 0o600)
}

// verifyBackup reopens the copies: each must pass SQLite's integrity check
// and the records' audit trail must verify with the audit keys and the
// copied checkpoints.
func verifyBackup(ctx context.Context, cfg app.Config, dir string, m *manifest) error {
	db, err := openCopy(ctx, filepath.Join(dir, backupRecords))
	if err != nil {
		return err
	}
	defer db.Close()
	o, err := verifyOptions(cfg.Auth.Audit, "", "", filepath.Join(dir, backupCheckpoints))
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.CheckpointFile); errors.Is(err, fs.ErrNotExist) {
		o.CheckpointFile = ""
	}
	r, err := auth.VerifyTrail(ctx, db, o)
	if err != nil {
		return err
	}
	if !r.Clean() {
		return &auth.TamperError{Findings: r.Findings}
	}
	m.AuditEvents, m.AuditNewest = r.Events, r.Newest
	if path := filepath.Join(dir, backupVitals); fileExists(path) {
		vdb, err := openCopy(ctx, path)
		if err != nil {
			return err
		}
		defer vdb.Close()
		var n int64
		if err := vdb.QueryRowContext(ctx, `SELECT count(*) FROM readings`).Scan(&n); err != nil {
			return fmt.Errorf("vitals: %w", err)
		}
		m.Readings = &n
	}
	return nil
}

// openCopy opens a database file of a backup read-only and runs SQLite's
// integrity check on it.
func openCopy(ctx context.Context, path string) (*sql.DB, error) {
	if !fileExists(path) {
		return nil, fmt.Errorf("%s: missing", path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		db.Close()
		if err == nil {
			err = errors.New(res)
		}
		return nil, fmt.Errorf("%s: integrity check: %w", filepath.Base(path), err)
	}
	return db, nil
}

// restoreCmd puts a backup in place of a stopped service's files, after
// checking the backup's digests and its audit trail. It refuses to
// replace files without --force, and with it moves them aside
// (NAME.pre-restore-TIME) rather than deleting them.
func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlagSet("restore", "restore --from DIR [--force] [--config FILE]")
	from := fl.String("from", "", "backup `folder` (from vitalwire backup)")
	force := fl.Bool("force", false, "replace existing files (they are kept beside, renamed NAME.pre-restore-TIME)")
	cf := addConfigFlags(fl)
	cfg, err := cf.parseAndLoad(fl, args, stdout, stderr)
	if err != nil {
		return err
	}
	if cfg.Records.Kind == "postgres" {
		return errPostgresBackup
	}
	if *from == "" {
		return errors.New("--from is required")
	}
	b, err := os.ReadFile(filepath.Join(*from, backupManifest))
	if err != nil {
		return fmt.Errorf("--from: not a backup folder: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", backupManifest, err)
	}
	for name, want := range m.Files {
		if strings.ContainsAny(name, `/\`) || name == backupManifest {
			return fmt.Errorf("%s: bad file name %q", backupManifest, name)
		}
		got, err := fileSHA256(filepath.Join(*from, name))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s was changed or damaged since the backup (SHA-256 differs)", name)
		}
	}
	if _, ok := m.Files[backupRecords]; !ok {
		return fmt.Errorf("the backup has no %s", backupRecords)
	}
	if m.VitalsStore == "sqlite" && cfg.Store.Kind != "sqlite" {
		return fmt.Errorf("the backup's vitals are SQLite's and store.kind is %q", cfg.Store.Kind)
	}
	var check manifest
	if err := verifyBackup(ctx, cfg, *from, &check); err != nil {
		return fmt.Errorf("the backup does not verify with this install's audit keys: %w", err)
	}
	if running(cfg.HTTP.Addr) {
		return fmt.Errorf("a server answers on %s: stop the service before restoring", cfg.HTTP.Addr)
	}
	targets := map[string]string{backupRecords: cfg.Records.Path, backupSigningKey: cfg.Auth.SigningKeyFile,
		backupCheckpoints: cfg.Auth.Audit.CheckpointFile}
	if cfg.Store.Kind == "sqlite" {
		targets[backupVitals] = cfg.Store.SQLitePath
	}
	var names []string
	for name := range targets {
		if _, ok := m.Files[name]; ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var present []string
	for _, name := range names {
		for _, p := range sidecars(name, targets[name]) {
			if fileExists(p) {
				present = append(present, p)
			}
		}
	}
	if len(present) > 0 && !*force {
		return fmt.Errorf("would replace %s: pass --force to restore over them (they are kept, renamed *.pre-restore-TIME)", strings.Join(present, ", "))
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	for _, p := range present {
		if err := os.Rename(p, p+".pre-restore-"+stamp); err != nil {
			return fmt.Errorf("move %s aside: %w", p, err)
		}
	}
	for _, name := range names {
		dst := targets[name]
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := copyFile(filepath.Join(*from, name), dst); err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "restored %s\n", dst)
	}
	fmt.Fprintf(stdout, "restore done: audit chain intact (%d events). Start the service; then run vitalwire audit verify.\n", check.AuditEvents)
	return nil
}

// sidecars are the files a target stands for: a database's WAL and
// shared memory go with it (a stale WAL beside a restored database would
// be replayed into it).
func sidecars(name, path string) []string {
	if strings.HasSuffix(name, ".db") {
		return []string{path, path + "-wal", path + "-shm"}
	}
	return []string{path}
}

// running reports whether something accepts connections on the HTTP
// address (a wildcard host is tried on loopback).
func running(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" {
		return false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// copyFile copies src to dst (0600) through a temporary file, synced and
// renamed into place.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
