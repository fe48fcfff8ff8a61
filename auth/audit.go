package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
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
	// Hash is the event's link in the chain: HMAC-SHA256 under the chain
	// key from the keyed part's first event on (see AuditLog), SHA-256
	// before it (trails written before the key was introduced).
	Hash string `json:"hash"`
}

// genesis is the hash the first event chains to.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// chained are the event's fields in the order its link covers them.
func (e *Event) chained() []string {
	fields := []string{strconv.FormatInt(e.Seq, 10), strconv.FormatInt(e.Time.UnixNano(), 10), e.Actor, e.Role,
		e.Action, e.Patient, e.Resource, e.Outcome, e.Source, strconv.FormatBool(e.BreakGlass), e.PrevHash}
	if e.IssuedBy != "" {
		// Only when set, so that the events written before the field
		// existed keep their links.
		fields = append(fields, "issued_by", e.IssuedBy)
	}
	return fields
}

// digest is the unkeyed link: SHA-256 of the fields.
func (e *Event) digest() string { return chainSum(sha256.New(), e.chained()) }

// mac is the keyed link: HMAC-SHA256 of the same fields under the chain
// key, which someone holding only the database cannot recompute.
func (e *Event) mac(key []byte) string { return chainSum(hmac.New(sha256.New, key), e.chained()) }

func chainSum(h hash.Hash, fields []string) string {
	for _, f := range fields {
		// Length-prefixed, so that moving text between fields changes the hash.
		h.Write([]byte(strconv.Itoa(len(f))))
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditLog appends hash-chained events to the records database. Opened
// with a chain key (WithChainKey), each event's link is an HMAC under it
// from the keyed part's first event on; with checkpoints
// (WithCheckpoints), the chain's head is handed to the Checkpointer after
// each append, which signs it and writes it outside the database.
type AuditLog struct {
	db   *sql.DB
	now  func() time.Time
	mu   sync.Mutex
	head string // hash of the last event
	seq  int64

	key       []byte // nil: an unkeyed chain (a trail without the anchor)
	keyedFrom int64  // first keyed event; 0: none
	// anchoredOver is how many events the trail held when this start
	// anchored its keyed part (AnchoredOver).
	anchoredOver int64
	anchoredNow  bool
	checkpoints  *Checkpointer // nil: none
}

// AuditOption configures OpenAuditLog.
type AuditOption func(*AuditLog)

// WithChainKey keys the chain with an HMAC-SHA256 key kept outside the
// records database.
func WithChainKey(key []byte) AuditOption { return func(l *AuditLog) { l.key = key } }

// WithCheckpoints hands each new head of the chain to c.
func WithCheckpoints(c *Checkpointer) AuditOption { return func(l *AuditLog) { l.checkpoints = c } }

// AnchoredOver says whether this start anchored the keyed chain, and over
// how many events written before it. Anchoring over events is expected
// once, on the first start after an upgrade; with a chain key that
// existed before this start it means the anchor was removed.
func (l *AuditLog) AnchoredOver() (events int64, anchored bool) {
	return l.anchoredOver, l.anchoredNow
}

// OpenAuditLog reads the chain's head. With a chain key it reads, or on
// first use records, the anchor saying where the keyed part begins; a
// trail that has an anchor is opened only with the key that made it.
func OpenAuditLog(ctx context.Context, db *sql.DB, opts ...AuditOption) (*AuditLog, error) {
	l := &AuditLog{db: db, now: time.Now, head: genesis}
	for _, o := range opts {
		o(l)
	}
	err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&l.seq, &l.head)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := l.anchor(ctx); err != nil {
		return nil, err
	}
	if l.checkpoints != nil {
		l.checkpoints.start(ctx, db, l.seq, l.head, l.keyedFrom)
	}
	return l, nil
}

// Append records an event. An error means it was not recorded, and the
// access it describes must fail: nothing is read or changed unaudited.
func (l *AuditLog) Append(ctx context.Context, e Event) (Event, error) {
	es := []Event{e}
	err := l.appendAll(ctx, es)
	return es[0], err
}

// AppendAll records events in one transaction, in order, chained as
// Append chains them: all are recorded or none (a report about many
// patients is one event per patient, written at the cost of one).
func (l *AuditLog) AppendAll(ctx context.Context, es []Event) error {
	if len(es) == 0 {
		return nil
	}
	return l.appendAll(ctx, es)
}

// appendAll chains es after the head and records them, filling in each
// event's sequence number, time and links. The head is the newer of this
// process's and the database's: nodes sharing a PostgreSQL records
// database append to one chain (the transaction holds the records write
// lock, so no two interleave), while events deleted from under a running
// service stay a visible gap rather than being chained over.
func (l *AuditLog) appendAll(ctx context.Context, es []Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	defer tx.Rollback()
	seq, head := l.seq, l.head
	var dbSeq int64
	var dbHead string
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&dbSeq, &dbHead)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("append audit events: %w", err)
	}
	if dbSeq > seq {
		seq, head = dbSeq, dbHead
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_events (seq, at, actor, role, action, patient, resource, outcome, source,
		break_glass, issued_by, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	defer stmt.Close()
	at := l.now().UTC()
	for i := range es {
		e := &es[i]
		e.Seq, e.Time, e.PrevHash = seq+1, at, head
		if l.key != nil {
			e.Hash = e.mac(l.key)
		} else {
			e.Hash = e.digest()
		}
		if _, err := stmt.ExecContext(ctx, e.Seq, e.Time.UnixNano(), e.Actor, e.Role, e.Action, e.Patient, e.Resource, e.Outcome,
			e.Source, e.BreakGlass, e.IssuedBy, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		seq, head = e.Seq, e.Hash
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	l.seq, l.head = seq, head
	if l.checkpoints != nil {
		l.checkpoints.advance(seq, head)
	}
	return nil
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
