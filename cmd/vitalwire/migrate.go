package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/sqldb"
)

const recordsUsage = "usage: vitalwire records migrate --from sqlite:FILE [--config F] (the target is the PostgreSQL database records.dsn names)"

// recordsCmd holds the records database's own operations.
func recordsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "migrate" {
		return errors.New(recordsUsage)
	}
	return recordsMigrate(ctx, args[1:], stdout, stderr)
}

// recordsMigrate copies a SQLite records database into the empty
// PostgreSQL one the configuration names, then checks the copy: the same
// number of rows in every table, and the audit trail verifying on
// PostgreSQL with this install's keys and checkpoints. Stop the service
// first; start it on PostgreSQL after.
func recordsMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("records migrate", "records migrate --from sqlite:FILE [--config FILE] [--chain-key F] [--checkpoint-key F] [--checkpoints F]")
	from := fs.String("from", "", "the SQLite records database: sqlite:`FILE` (the data folder's records.db before the move)")
	chainKey := fs.String("chain-key", "", "the audit chain's key `file` (default auth.audit.chain_key_file)")
	cpKey := fs.String("checkpoint-key", "", "the checkpoint key `file` (default auth.audit.checkpoint_key_file)")
	cps := fs.String("checkpoints", "", "the checkpoint `file` (default auth.audit.checkpoint_file)")
	cf := addConfigFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	path, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || path == "" {
		return errors.New("--from: sqlite:FILE, the SQLite records database to copy")
	}
	if cfg.Records.Kind != "postgres" {
		return errors.New("the target is the configuration's records database: set records.kind: postgres and records.dsn (and the password) first")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	src, err := sqldb.OpenRecords(ctx, path)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	to, err := cfg.Records.Source()
	if err != nil {
		return err
	}
	dst, err := to.Open(ctx)
	if err != nil {
		return err
	}
	defer dst.Close()
	copied, err := sqldb.CopyRecords(ctx, src, dst)
	if err != nil {
		return err
	}
	tables := make([]string, 0, len(copied))
	for t := range copied {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	want, err := sqldb.CountRecords(ctx, src, tables)
	if err != nil {
		return err
	}
	got, err := sqldb.CountRecords(ctx, dst, tables)
	if err != nil {
		return err
	}
	var total int64
	for _, t := range tables {
		if want[t] != got[t] || copied[t] != want[t] {
			return fmt.Errorf("table %s: %d rows in SQLite, %d copied, %d on PostgreSQL", t, want[t], copied[t], got[t])
		}
		total += got[t]
	}
	o, err := verifyOptions(cfg.Auth.Audit, *chainKey, *cpKey, *cps)
	if err != nil {
		return err
	}
	r, err := auth.VerifyTrail(ctx, dst, o)
	if err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		for _, f := range r.Findings {
			fmt.Fprintf(stderr, "audit: %s at event %d: %s\n", f.Kind, f.Seq, f.Detail)
		}
		return fmt.Errorf("the copied audit trail does not verify (%d findings): keep running on SQLite and report it", len(r.Findings))
	}
	fmt.Fprintf(stdout, "copied %d rows in %d tables to PostgreSQL; every table's count matches; audit chain intact (%d events)\n",
		total, len(tables), r.Events)
	return nil
}
