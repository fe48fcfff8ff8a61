package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/vitalwire/vitalwire/auth"
)

const auditUsage = "usage: vitalwire audit verify [--chain-key F] [--checkpoint-key F] [--checkpoints F] | export [--from T] [--to T] [--patient P]"

// auditCmd verifies or exports the audit log, reading the records database
// directly (on the server's machine; it can run while the server does).
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(auditUsage)
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr)
	case "export":
		return auditExport(ctx, args[1:], stdout, stderr)
	}
	return errors.New(auditUsage)
}

// auditVerify checks the chain with its key and against the signed
// checkpoints, prints each finding, and fails when there is any.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", "audit verify [--chain-key FILE] [--checkpoint-key FILE] [--checkpoints FILE]")
	chainKey := fs.String("chain-key", "", "the chain's key `file` (default auth.audit.chain_key_file)")
	cpKey := fs.String("checkpoint-key", "", "the checkpoint key `file` (default auth.audit.checkpoint_key_file)")
	cps := fs.String("checkpoints", "", "the checkpoint `file` (default auth.audit.checkpoint_file)")
	cf := addConfigFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	o, err := verifyOptions(cfg.Auth.Audit, *chainKey, *cpKey, *cps)
	if err != nil {
		return err
	}
	db, err := openRecords(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := auth.VerifyTrail(ctx, db, o)
	if err != nil {
		return err
	}
	if !r.Clean() {
		for _, f := range r.Findings {
			fmt.Fprintln(stdout, "FOUND", f)
		}
		return fmt.Errorf("audit trail tampered: %d findings", len(r.Findings))
	}
	fmt.Fprintf(stdout, "audit chain intact: %d events", r.Events)
	if r.KeyedFrom > 0 {
		fmt.Fprintf(stdout, " (keyed from event %d)", r.KeyedFrom)
	}
	if r.Checkpoints > 0 {
		fmt.Fprintf(stdout, "; %d checkpoints, the newest at event %d", r.Checkpoints, r.Checkpoint)
	}
	fmt.Fprintln(stdout)
	return nil
}

// verifyOptions loads the keys (never creating one: a missing key is a
// finding when the trail needs it).
func verifyOptions(cfg auth.AuditConfig, chainKey, cpKey, cps string) (auth.VerifyOptions, error) {
	pick := func(flag, setting string) string {
		if flag != "" {
			return flag
		}
		return setting
	}
	o := auth.VerifyOptions{CheckpointFile: pick(cps, cfg.CheckpointFile)}
	key, err := auth.LoadKeyFile(pick(chainKey, cfg.ChainKeyFile))
	switch {
	case err == nil:
		o.ChainKey = key
	case !errors.Is(err, fs.ErrNotExist):
		return o, fmt.Errorf("audit chain key: %w", err)
	}
	seed, err := auth.LoadKeyFile(pick(cpKey, cfg.CheckpointKeyFile))
	switch {
	case err == nil:
		var pub ed25519.PublicKey
		if pub, err = auth.CheckpointPublicKey(seed); err != nil {
			return o, err
		}
		o.CheckpointKey = pub
	case !errors.Is(err, fs.ErrNotExist):
		return o, fmt.Errorf("audit checkpoint key: %w", err)
	}
	return o, nil
}

// auditExport writes the selected events as JSON lines.
func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit export", "audit export [--from T] [--to T] [--patient P]")
	from := fs.String("from", "", "RFC 3339 start")
	to := fs.String("to", "", "RFC 3339 end, exclusive")
	patient := fs.String("patient", "", "only this patient's events")
	cf := addConfigFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	db, err := openRecords(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	q := auth.Query{Patient: *patient}
	for _, f := range []struct {
		s   string
		dst *time.Time
	}{{*from, &q.From}, {*to, &q.To}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = time.Parse(time.RFC3339, f.s); err != nil {
			return fmt.Errorf("--from/--to: %w", err)
		}
	}
	n, err := auth.Export(ctx, db, q, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d events\n", n)
	return nil
}
