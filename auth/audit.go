package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Outcomes of an audited access.
const (
	Allowed = "allowed"
	Refused = "refused"
)

// Event is one audited read or change of patient data.
type Event struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor"` // token subject, or "anonymous"
	Role       string    `json:"role"`
	Action     string    `json:"action"` // e.g. "GET /api/v1/patients/{id}/readings"
	Patient    string    `json:"patient"`
	Resource   string    `json:"resource"`
	Outcome    string    `json:"outcome"`
	Source     string    `json:"source"` // client address
	BreakGlass bool      `json:"break_glass"`
	// IssuedBy names the admin who issued the credential that opened the
	// actor's session (a sign-in link, a password they set), when it was
	// not the actor's own: such accesses are reviewed like break-glass.
	IssuedBy string `json:"issued_by,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// genesis is the hash the first event chains to.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

func (e *Event) digest() string {
	h := sha256.New()
	fields := []string{strconv.FormatInt(e.Seq, 10), strconv.FormatInt(e.Time.UnixNano(), 10), e.Actor, e.Role,
		e.Action, e.Patient, e.Resource, e.Outcome, e.Source, strconv.FormatBool(e.BreakGlass), e.PrevHash}
	if e.IssuedBy != "" {
		// Only when set, so that the events written before the field
		// existed keep their hashes.
		fields = append(fields, "issued_by", e.IssuedBy)
	}
	for _, f := range fields {
		// Length-prefixed, so that moving text between fields changes the hash.
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditLog appends hash-chained events to the records database.
type AuditLog struct {
	db   *sql.DB
	now  func() time.Time
	mu   sync.Mutex
	head string // hash of the last event
	seq  int64
}

// OpenAuditLog reads the chain's head.
func OpenAuditLog(ctx context.Context, db *sql.DB) (*AuditLog, error) {
	l := &AuditLog{db: db, now: time.Now, head: genesis}
	err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&l.seq, &l.head)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return l, nil
}

// Append records an event. An error means it was not recorded, and the
// access it describes must fail: nothing is read or changed unaudited.
func (l *AuditLog) Append(ctx context.Context, e Event) (Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = l.seq + 1
	e.Time = l.now().UTC()
	e.PrevHash = l.head
	e.Hash = e.digest()
	_, err := l.db.ExecContext(ctx, `INSERT INTO audit_events (seq, at, actor, role, action, patient, resource, outcome, source,
		break_glass, issued_by, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.Seq, e.Time.UnixNano(), e.Actor, e.Role, e.Action, e.Patient, e.Resource, e.Outcome, e.Source, e.BreakGlass, e.IssuedBy,
		e.PrevHash, e.Hash)
	if err != nil {
		return e, fmt.Errorf("append audit event: %w", err)
	}
	l.seq, l.head = e.Seq, e.Hash
	return e, nil
}

// Query selects events for export.
type Query struct {
	From, To time.Time // [From, To); zero: unbounded
	Patient  string    // "" for all
}

// Export writes the selected events of the log as JSON lines, oldest
// first.
func (l *AuditLog) Export(ctx context.Context, q Query, w io.Writer) (int, error) {
	return Export(ctx, l.db, q, w)
}

// Export writes the selected events as JSON lines, oldest first.
func Export(ctx context.Context, db *sql.DB, q Query, w io.Writer) (int, error) {
	to := q.To
	if to.IsZero() {
		to = time.Unix(0, 1<<62)
	}
	rows, err := db.QueryContext(ctx, `SELECT seq, at, actor, role, action, patient, resource, outcome, source, break_glass, issued_by, prev_hash, hash
		FROM audit_events WHERE at >= ? AND at < ? AND (? = '' OR patient = ?) ORDER BY seq`,
		q.From.UnixNano(), to.UnixNano(), q.Patient, q.Patient)
	if err != nil {
		return 0, fmt.Errorf("export audit: %w", err)
	}
	defer rows.Close()
	enc := json.NewEncoder(w)
	n := 0
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return n, err
		}
		if err := enc.Encode(e); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func scanEvent(rows *sql.Rows) (Event, error) {
	var e Event
	var at int64
	if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Role, &e.Action, &e.Patient, &e.Resource, &e.Outcome, &e.Source,
		&e.BreakGlass, &e.IssuedBy, &e.PrevHash, &e.Hash); err != nil {
		return e, fmt.Errorf("read audit event: %w", err)
	}
	e.Time = time.Unix(0, at).UTC()
	return e, nil
}

// BrokenLink says where the chain breaks.
type BrokenLink struct {
	Seq    int64 // the first event that does not verify
	Reason string
}

func (b *BrokenLink) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", b.Seq, b.Reason)
}

// Verify walks the whole chain and returns the number of events, or a
// *BrokenLink naming the first event that was changed, or that follows a
// deleted one.
func Verify(ctx context.Context, db *sql.DB) (int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, at, actor, role, action, patient, resource, outcome, source, break_glass, issued_by, prev_hash, hash
		FROM audit_events ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	prev, want := genesis, int64(1)
	var n int64
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return n, err
		}
		switch {
		case e.Seq != want:
			return n, &BrokenLink{Seq: e.Seq, Reason: fmt.Sprintf("event %d is missing", want)}
		case e.PrevHash != prev:
			return n, &BrokenLink{Seq: e.Seq, Reason: "it does not chain to the event before it"}
		case e.digest() != e.Hash:
			return n, &BrokenLink{Seq: e.Seq, Reason: "its content does not match its hash"}
		}
		prev, want = e.Hash, want+1
		n++
	}
	return n, rows.Err()
}
