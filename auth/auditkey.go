package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Errors of opening a keyed audit trail.
var (
	// ErrChainKeyNeeded: the trail has a keyed part and no key was given.
	ErrChainKeyNeeded = errors.New("the audit trail is keyed: its chain key (auth.audit.chain_key_file) is needed")
	// ErrWrongChainKey: the key given is not the one that keyed the trail
	// (a lost or replaced key file, or a rewritten anchor).
	ErrWrongChainKey = errors.New("the audit chain key does not match this trail's anchor: restore the key file that keyed it (auth.audit.chain_key_file)")
)

// chainAnchor is where the keyed part of the chain begins.
type chainAnchor struct {
	keyedFrom int64
	prev      string // hash of event keyedFrom-1 (genesis for 1)
	mac       string
}

func (a chainAnchor) sum(key []byte) string {
	return chainSum(hmac.New(sha256.New, key), []string{"vitalwire audit chain keyed from", strconv.FormatInt(a.keyedFrom, 10), a.prev})
}

func (a chainAnchor) verifies(key []byte) bool {
	return hmac.Equal([]byte(a.sum(key)), []byte(a.mac))
}

// readAnchor returns the trail's anchor, if it has one.
func readAnchor(ctx context.Context, db *sql.DB) (chainAnchor, bool, error) {
	var a chainAnchor
	err := db.QueryRowContext(ctx, `SELECT keyed_from, prev_hash, mac FROM audit_chain WHERE id = 1`).Scan(&a.keyedFrom, &a.prev, &a.mac)
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("read audit chain anchor: %w", err)
	}
	return a, true, nil
}

// anchor checks the key against the trail's anchor, or anchors the keyed
// part at the next event when the trail has none yet (a new installation,
// or the first start after an upgrade: the events before stay unkeyed and
// verify as before).
func (l *AuditLog) anchor(ctx context.Context) error {
	a, ok, err := readAnchor(ctx, l.db)
	switch {
	case err != nil:
		return err
	case ok && l.key == nil:
		return ErrChainKeyNeeded
	case ok && !a.verifies(l.key):
		return ErrWrongChainKey
	case ok:
		l.keyedFrom = a.keyedFrom
		return nil
	case l.key == nil:
		return nil
	}
	if len(l.key) < 32 {
		return errors.New("audit chain key shorter than 32 bytes")
	}
	a = chainAnchor{keyedFrom: l.seq + 1, prev: l.head}
	a.mac = a.sum(l.key)
	if _, err := l.db.ExecContext(ctx, `INSERT INTO audit_chain (id, keyed_from, prev_hash, mac) VALUES (1, ?, ?, ?)`,
		a.keyedFrom, a.prev, a.mac); err != nil {
		return fmt.Errorf("anchor the keyed audit chain: %w", err)
	}
	l.keyedFrom = a.keyedFrom
	l.anchoredOver, l.anchoredNow = l.seq, true
	return nil
}

// LoadKeyFile reads a hex key file (as LoadOrCreateKey writes them)
// without creating one: for checking a trail, a missing key is a finding,
// not something to make up.
func LoadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", path, err)
	}
	return key, nil
}
