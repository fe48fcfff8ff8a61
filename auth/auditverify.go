package auth

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// What Verify can find, each naming how the trail was changed.
const (
	// FindingEdited: an event's content does not match its link.
	FindingEdited = "edited"
	// FindingDeleted: events are missing between two that remain.
	FindingDeleted = "deleted"
	// FindingBrokenLink: an event does not chain to the one before it.
	FindingBrokenLink = "broken link"
	// FindingRecomputed: events of the keyed part carry a plain SHA-256
	// link: the chain was recomputed by someone without the key.
	FindingRecomputed = "recomputed"
	// FindingTruncated: a checkpoint names an event past the database's
	// newest: the newest events were deleted.
	FindingTruncated = "truncated"
	// FindingRewritten: a checkpoint's head is not the database's event of
	// that number: events up to it were replaced.
	FindingRewritten = "rewritten"
	// FindingCheckpointSignature: a checkpoint does not verify with the
	// checkpoint key: the checkpoint file was rewritten.
	FindingCheckpointSignature = "checkpoint signature"
	// FindingCheckpoints: the checkpoint file is missing, unreadable,
	// or has lines missing or that are not checkpoints.
	FindingCheckpoints = "checkpoints"
	// FindingAnchor: the record of where the keyed part begins is
	// missing, forged, or disagrees with the checkpoints.
	FindingAnchor = "anchor"
	// FindingUnverifiable: a key needed to check the trail is missing.
	FindingUnverifiable = "unverifiable"
)

// Finding is one thing Verify found wrong.
type Finding struct {
	Kind   string // one of the Finding constants
	Seq    int64  // the event it is about, 0 for the trail as a whole
	Detail string
}

func (f Finding) String() string { return f.Kind + ": " + f.Detail }

// VerifyOptions say what to check the trail with. The zero value checks
// an unkeyed trail alone, as before keys and checkpoints.
type VerifyOptions struct {
	// ChainKey is the chain's HMAC key; nil: not available (the keyed
	// part cannot be checked, which is a finding).
	ChainKey []byte
	// CheckpointKey is the public key that checkpoints verify with.
	CheckpointKey ed25519.PublicKey
	// CheckpointFile is the file of signed checkpoints; "": not checked.
	CheckpointFile string
}

// Report is what Verify found.
type Report struct {
	Events      int64 // events in the database
	Newest      int64 // the newest event's seq
	KeyedFrom   int64 // first keyed event; 0: none
	Checkpoints int   // valid checkpoints read
	Checkpoint  int64 // the newest valid checkpoint's event seq
	Findings    []Finding
}

// Clean reports whether nothing was found.
func (r Report) Clean() bool { return len(r.Findings) == 0 }

func (r *Report) add(kind string, seq int64, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Kind: kind, Seq: seq, Detail: fmt.Sprintf(format, args...)})
}

// Verify checks the trail without keys or checkpoints: the number of
// events, or a *TamperError. A keyed trail fails it (its key is needed):
// use VerifyTrail.
func Verify(ctx context.Context, db *sql.DB) (int64, error) {
	r, err := VerifyTrail(ctx, db, VerifyOptions{})
	if err != nil {
		return r.Events, err
	}
	if !r.Clean() {
		return r.Events, &TamperError{Findings: r.Findings}
	}
	return r.Events, nil
}

// TamperError lists what Verify found.
type TamperError struct{ Findings []Finding }

func (e *TamperError) Error() string {
	s := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		s[i] = f.String()
	}
	return "audit trail: " + strings.Join(s, "; ")
}

// VerifyTrail walks the whole chain, with the chain key from the keyed
// part's anchor on, and checks it against every checkpoint. It reads the
// checkpoints before the events, so that it can run beside a running
// service (a checkpoint is written after the events it names). The error is for failing to read; what was found is in the
// report.
func VerifyTrail(ctx context.Context, db *sql.DB, o VerifyOptions) (Report, error) {
	var r Report
	anchor, anchored, err := readAnchor(ctx, db)
	if err != nil {
		return r, err
	}
	// The service makes the chain key, the anchor and the first
	// checkpoint at the same first start: a key without an anchor, or a
	// keyed trail without a checkpoint, is a trail whose evidence was
	// removed (passed off as one from before keys and checkpoints).
	cps := readCheckpoints(&r, o, anchored || o.ChainKey != nil || o.CheckpointKey != nil)
	if !anchored && o.ChainKey != nil {
		r.add(FindingAnchor, 0, "a chain key was given but the trail has no anchor: it was removed, and the chain may have been recomputed without the key")
	}
	if anchored {
		r.KeyedFrom = anchor.keyedFrom
		switch {
		case o.ChainKey == nil:
			r.add(FindingUnverifiable, anchor.keyedFrom, "events from %d are keyed and no chain key was given: they were not checked", anchor.keyedFrom)
		case !anchor.verifies(o.ChainKey):
			r.add(FindingAnchor, anchor.keyedFrom, "the anchor (keyed from event %d) does not verify with the chain key: the wrong key, or a forged anchor", anchor.keyedFrom)
			o.ChainKey = nil // nothing keyed can be trusted with it
		}
	}
	want := map[int64]string{} // the seqs checkpoints name, and their hashes in the database
	for _, cp := range cps {
		want[cp.Seq] = ""
	}
	if err := walkChain(ctx, db, &r, o.ChainKey, anchor, anchored, want); err != nil {
		return r, err
	}
	checkAgainstCheckpoints(&r, cps, want, anchored, anchor.keyedFrom)
	return r, nil
}

// walkChain checks every event's link and content.
func walkChain(ctx context.Context, db *sql.DB, r *Report, key []byte, anchor chainAnchor, anchored bool, want map[int64]string) error {
	rows, err := db.QueryContext(ctx, `SELECT seq, at, actor, role, action, patient, resource, outcome, source, break_glass, issued_by, prev_hash, hash
		FROM audit_events ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev, next := genesis, int64(1)
	var recomputedFrom, recomputedTo int64
	flushRecomputed := func() {
		if recomputedFrom > 0 {
			r.add(FindingRecomputed, recomputedFrom, "events from %d to %d have a plain SHA-256 hash where the keyed MAC belongs: the chain was recomputed without the key", recomputedFrom, recomputedTo)
			recomputedFrom = 0
		}
	}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		r.Events++
		switch {
		case e.Seq > next:
			r.add(FindingDeleted, next, "%s missing (deleted)", events(next, e.Seq-1, "is", "are"))
		case e.PrevHash != prev:
			r.add(FindingBrokenLink, e.Seq, "event %d does not chain to event %d before it", e.Seq, e.Seq-1)
		}
		if anchored && e.Seq == anchor.keyedFrom && e.PrevHash != anchor.prev {
			r.add(FindingAnchor, e.Seq, "event %d, the first keyed one, does not chain to the hash the anchor names", e.Seq)
		}
		keyed := anchored && e.Seq >= anchor.keyedFrom
		switch {
		case keyed && key == nil:
			// Unverifiable, said once above.
		case keyed && hmac.Equal([]byte(e.mac(key)), []byte(e.Hash)):
			flushRecomputed()
		case keyed && e.digest() == e.Hash:
			if recomputedFrom == 0 {
				recomputedFrom = e.Seq
			}
			recomputedTo = e.Seq
		case keyed:
			flushRecomputed()
			r.add(FindingEdited, e.Seq, "event %d: its content does not match its MAC", e.Seq)
		case e.digest() != e.Hash:
			r.add(FindingEdited, e.Seq, "event %d: its content does not match its hash", e.Seq)
		}
		if _, ok := want[e.Seq]; ok {
			want[e.Seq] = e.Hash
		}
		prev, next, r.Newest = e.Hash, e.Seq+1, e.Seq
	}
	flushRecomputed()
	return rows.Err()
}

// readCheckpoints reads and checks the signatures of the checkpoint
// file's lines; it returns the valid ones.
// A trail without an anchor, keys or a checkpoint file is one from
// before keys and checkpoints: nothing is missing.
// A trail that needs checkpoints (keyed, or with keys given) has at least
// one: the service writes one at every start.
func readCheckpoints(r *Report, o VerifyOptions, needed bool) []Checkpoint {
	if o.CheckpointFile == "" {
		return nil
	}
	f, err := os.Open(o.CheckpointFile)
	if errors.Is(err, os.ErrNotExist) && !needed {
		return nil
	}
	if err != nil {
		r.add(FindingCheckpoints, 0, "cannot read the checkpoint file: %v", err)
		return nil
	}
	defer f.Close()
	if o.CheckpointKey == nil {
		r.add(FindingUnverifiable, 0, "no checkpoint key was given: the checkpoints were not checked")
		return nil
	}
	var out []Checkpoint
	var lastN int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var cp Checkpoint
		if err := json.Unmarshal(sc.Bytes(), &cp); err != nil {
			r.add(FindingCheckpoints, 0, "line %d of the checkpoint file is not a checkpoint", line)
			continue
		}
		if !cp.Verifies(o.CheckpointKey) {
			r.add(FindingCheckpointSignature, cp.Seq, "line %d (checkpoint %d, event %d) does not verify with the checkpoint key: the checkpoint file was rewritten", line, cp.N, cp.Seq)
			continue
		}
		if cp.N != lastN+1 {
			r.add(FindingCheckpoints, cp.Seq, "checkpoint %d follows checkpoint %d: lines of the checkpoint file are missing or out of order", cp.N, lastN)
		}
		lastN = cp.N
		out = append(out, cp)
	}
	if err := sc.Err(); err != nil {
		r.add(FindingCheckpoints, 0, "cannot read the checkpoint file: %v", err)
	}
	r.Checkpoints = len(out)
	if needed && len(out) == 0 && r.Clean() {
		r.add(FindingCheckpoints, 0, "the checkpoint file holds no checkpoint: it was emptied (the service writes one at every start)")
	}
	return out
}

// checkAgainstCheckpoints compares each checkpoint with the database:
// the event it names must exist and have the head it names, and the
// keyed part must begin where it says.
func checkAgainstCheckpoints(r *Report, cps []Checkpoint, have map[int64]string, anchored bool, keyedFrom int64) {
	if len(cps) == 0 {
		return
	}
	newest := cps[len(cps)-1]
	r.Checkpoint = newest.Seq
	if newest.Seq > r.Newest {
		r.add(FindingTruncated, newest.Seq, "checkpoint %d (%s) names event %d, the database ends at event %d: %s deleted",
			newest.N, newest.Time.Format(time.RFC3339), newest.Seq, r.Newest, events(r.Newest+1, newest.Seq, "was", "were"))
	}
	rewritten, anchorSaid := false, false
	for _, cp := range cps {
		if h := have[cp.Seq]; !rewritten && cp.Seq > 0 && h != "" && h != cp.Head {
			r.add(FindingRewritten, cp.Seq, "checkpoint %d names head %.12s… for event %d, the database has %.12s…: the events up to it were replaced", cp.N, cp.Head, cp.Seq, h)
			rewritten = true
		}
		if !anchorSaid && cp.KeyedFrom != 0 && (!anchored || cp.KeyedFrom != keyedFrom) {
			r.add(FindingAnchor, cp.KeyedFrom, "checkpoint %d says the keyed chain begins at event %d, the database's anchor says %s", cp.N, cp.KeyedFrom, anchorName(anchored, keyedFrom))
			anchorSaid = true
		}
	}
}

func anchorName(anchored bool, keyedFrom int64) string {
	if !anchored {
		return "nothing (it was removed)"
	}
	return fmt.Sprintf("event %d", keyedFrom)
}

// events names the events from..to: "event 5 is", "events 5-7 are".
func events(from, to int64, one, many string) string {
	if from == to {
		return fmt.Sprintf("event %d %s", from, one)
	}
	return fmt.Sprintf("events %d-%d %s", from, to, many)
}
