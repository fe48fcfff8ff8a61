// Package telehealth runs video visits: the visit records (who may join,
// when each participant joined and left), the signalling over WebSocket,
// and a selective forwarding unit on pion/webrtc that passes each
// participant's audio and video to the others.
package telehealth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/internal/sqldb"
)

// Visit states.
const (
	Scheduled  = "scheduled"
	Waiting    = "waiting" // someone is in the waiting room
	InProgress = "in_progress"
	Ended      = "ended"
)

// Participant roles.
const (
	RolePatient     = "patient"
	RoleClinician   = "clinician"
	RoleInterpreter = "interpreter"
)

// Errors.
var (
	ErrNotFound = errors.New("no such visit")
	ErrEnded    = errors.New("the visit has ended")
	ErrRole     = errors.New("role: clinician or interpreter")
)

// Visit is a telehealth visit.
type Visit struct {
	ID          string     `json:"id"`
	Patient     string     `json:"patient"`
	CreatedBy   string     `json:"created_by"`
	State       string     `json:"state"`
	ScheduledAt time.Time  `json:"scheduled_at"`
	StartedAt   time.Time  `json:"started_at,omitzero"`
	EndedAt     time.Time  `json:"ended_at,omitzero"`
	Note        string     `json:"note,omitempty"`
	Invites     []Invite   `json:"invites"`
	Presence    []Presence `json:"presence"`
	// Chat is the visit's text chat, oldest first.
	Chat []ChatMessage `json:"chat"`
	// InteractiveSeconds is the time the patient and at least one
	// clinician were both in the visit (remote-monitoring billing counts
	// interactive minutes).
	InteractiveSeconds int `json:"interactive_seconds"`
}

// Invite lets a person other than the patient and the care team join.
type Invite struct {
	Subject   string `json:"subject"`
	Role      string `json:"role"`
	InvitedBy string `json:"invited_by"`
}

// Presence is one stay of a participant in the visit.
type Presence struct {
	Subject  string    `json:"subject"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
	LeftAt   time.Time `json:"left_at,omitzero"`
}

// Visits keeps visits in the records database.
type Visits struct {
	db  *sql.DB
	now func() time.Time
}

// NewVisits returns the visit store.
func NewVisits(db *sql.DB) *Visits { return &Visits{db: db, now: time.Now} }

func newID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "v-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Create schedules a visit for a patient (at zero: now).
func (v *Visits) Create(ctx context.Context, patient, by string, at time.Time) (Visit, error) {
	now := v.now()
	if at.IsZero() {
		at = now
	}
	id := newID()
	if _, err := v.db.ExecContext(ctx, `INSERT INTO visits (id, patient, created_by, state, scheduled_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, patient, by, Scheduled, at.UnixMilli(), now.UnixMilli()); err != nil {
		return Visit{}, fmt.Errorf("create visit: %w", err)
	}
	return v.Get(ctx, id)
}

// Get loads a visit with its invites and presence.
func (v *Visits) Get(ctx context.Context, id string) (Visit, error) {
	var x Visit
	var sched, created int64
	var started, ended sql.NullInt64
	err := v.db.QueryRowContext(ctx, `SELECT id, patient, created_by, state, scheduled_at, started_at, ended_at, note, created_at
		FROM visits WHERE id = ?`, id).Scan(&x.ID, &x.Patient, &x.CreatedBy, &x.State, &sched, &started, &ended, &x.Note, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Visit{}, ErrNotFound
	}
	if err != nil {
		return Visit{}, err
	}
	x.ScheduledAt = time.UnixMilli(sched).UTC()
	if started.Valid {
		x.StartedAt = time.UnixMilli(started.Int64).UTC()
	}
	if ended.Valid {
		x.EndedAt = time.UnixMilli(ended.Int64).UTC()
	}
	x.Invites = []Invite{}
	rows, err := v.db.QueryContext(ctx, `SELECT subject, role, invited_by FROM visit_invites WHERE visit = ? ORDER BY at`, id)
	if err != nil {
		return Visit{}, err
	}
	for rows.Next() {
		var i Invite
		if err := rows.Scan(&i.Subject, &i.Role, &i.InvitedBy); err != nil {
			rows.Close()
			return Visit{}, err
		}
		x.Invites = append(x.Invites, i)
	}
	rows.Close()
	x.Presence = []Presence{}
	rows, err = v.db.QueryContext(ctx, `SELECT subject, role, joined_at, left_at FROM visit_presence WHERE visit = ? ORDER BY id`, id)
	if err != nil {
		return Visit{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var p Presence
		var joined int64
		var left sql.NullInt64
		if err := rows.Scan(&p.Subject, &p.Role, &joined, &left); err != nil {
			return Visit{}, err
		}
		p.JoinedAt = time.UnixMilli(joined).UTC()
		if left.Valid {
			p.LeftAt = time.UnixMilli(left.Int64).UTC()
		}
		x.Presence = append(x.Presence, p)
	}
	if err := rows.Err(); err != nil {
		return Visit{}, err
	}
	if x.Chat, err = v.messages(ctx, id); err != nil {
		return Visit{}, err
	}
	x.InteractiveSeconds = interactive(x.Presence, v.now())
	return x, nil
}

// ForPatient lists a patient's visits, newest first.
func (v *Visits) ForPatient(ctx context.Context, patient string) ([]Visit, error) {
	ids, err := sqldb.Strings(ctx, v.db, `SELECT id FROM visits WHERE patient = ? ORDER BY scheduled_at DESC LIMIT 200`, patient)
	if err != nil {
		return nil, err
	}
	out := []Visit{}
	for _, id := range ids {
		x, err := v.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// Invite lets subject join the visit in role.
func (v *Visits) Invite(ctx context.Context, id, subject, role, by string) error {
	if role != RoleClinician && role != RoleInterpreter {
		return ErrRole
	}
	x, err := v.Get(ctx, id)
	if err != nil {
		return err
	}
	if x.State == Ended {
		return ErrEnded
	}
	_, err = v.db.ExecContext(ctx, `INSERT INTO visit_invites (visit, subject, role, invited_by, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (visit, subject) DO UPDATE SET role = excluded.role`, id, subject, role, by, v.now().UnixMilli())
	return err
}

// Invited returns the role a subject was invited in, if any.
func (v *Visits) Invited(ctx context.Context, id, subject string) (string, bool) {
	var role string
	err := v.db.QueryRowContext(ctx, `SELECT role FROM visit_invites WHERE visit = ? AND subject = ?`, id, subject).Scan(&role)
	return role, err == nil
}

// Joined records a participant entering; it returns the presence row id.
// The visit moves to the waiting room, or in progress once the patient and
// a clinician are both there.
func (v *Visits) Joined(ctx context.Context, id, subject, role string) (int64, error) {
	now := v.now().UnixMilli()
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var state string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM visits WHERE id = ?`, id).Scan(&state); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, ErrNotFound
		}
		return 0, err
	}
	if state == Ended {
		return 0, ErrEnded
	}
	var row int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO visit_presence (visit, subject, role, joined_at) VALUES (?, ?, ?, ?) RETURNING id`,
		id, subject, role, now).Scan(&row); err != nil {
		return 0, err
	}
	var patients, clinicians int
	if err := tx.QueryRowContext(ctx, `SELECT
		count(DISTINCT CASE WHEN role = 'patient' THEN subject END),
		count(DISTINCT CASE WHEN role = 'clinician' THEN subject END)
		FROM visit_presence WHERE visit = ? AND left_at IS NULL`, id).Scan(&patients, &clinicians); err != nil {
		return 0, err
	}
	next := Waiting
	if patients > 0 && clinicians > 0 {
		next = InProgress
	}
	if state == InProgress {
		next = InProgress // a visit in progress stays so while people come and go
	}
	if _, err := tx.ExecContext(ctx, `UPDATE visits SET state = ?, started_at = CASE WHEN ? = 'in_progress' AND started_at IS NULL THEN ? ELSE started_at END
		WHERE id = ?`, next, next, now, id); err != nil {
		return 0, err
	}
	return row, tx.Commit()
}

// Left records a participant leaving.
func (v *Visits) Left(ctx context.Context, presence int64) error {
	_, err := v.db.ExecContext(ctx, `UPDATE visit_presence SET left_at = ? WHERE id = ? AND left_at IS NULL`, v.now().UnixMilli(), presence)
	return err
}

// End ends a visit with the clinician's note; ending twice changes
// nothing but the note, when one is given.
func (v *Visits) End(ctx context.Context, id, note string) (Visit, error) {
	now := v.now().UnixMilli()
	res, err := v.db.ExecContext(ctx, `UPDATE visits SET state = 'ended', ended_at = ?, note = CASE WHEN ? = '' THEN note ELSE ? END,
		started_at = COALESCE(started_at, ?) WHERE id = ? AND state != 'ended'`, now, note, note, now, id)
	if err != nil {
		return Visit{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 && note != "" {
		if _, err := v.db.ExecContext(ctx, `UPDATE visits SET note = ? WHERE id = ?`, note, id); err != nil {
			return Visit{}, err
		}
	}
	if _, err := v.db.ExecContext(ctx, `UPDATE visit_presence SET left_at = ? WHERE visit = ? AND left_at IS NULL`, now, id); err != nil {
		return Visit{}, err
	}
	return v.Get(ctx, id)
}

// SetNote saves the clinician's note.
func (v *Visits) SetNote(ctx context.Context, id, note string) error {
	_, err := v.db.ExecContext(ctx, `UPDATE visits SET note = ? WHERE id = ?`, note, id)
	return err
}

// VisitTime is a visit's interactive seconds, by its start.
type VisitTime struct {
	Visit   string
	Patient string
	Start   time.Time
	Seconds int
}

// InteractiveBetween lists the visits started in [from, to) with their
// interactive seconds (patient and a clinician both present), for a
// remote-monitoring program's care-management time: presence rows only,
// in one query.
func (v *Visits) InteractiveBetween(ctx context.Context, from, to time.Time) ([]VisitTime, error) {
	rows, err := v.db.QueryContext(ctx, `SELECT x.id, x.patient, x.started_at, p.subject, p.role, p.joined_at, p.left_at
		FROM visits x JOIN visit_presence p ON p.visit = x.id
		WHERE x.started_at >= ? AND x.started_at < ? ORDER BY x.id, p.id`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("visit time: %w", err)
	}
	defer rows.Close()
	now := v.now()
	var out []VisitTime
	var ps []Presence
	flush := func() {
		if len(out) > 0 {
			out[len(out)-1].Seconds = interactive(ps, now)
		}
		ps = ps[:0]
	}
	for rows.Next() {
		var id, patient string
		var started, joined int64
		var left sql.NullInt64
		var p Presence
		if err := rows.Scan(&id, &patient, &started, &p.Subject, &p.Role, &joined, &left); err != nil {
			return nil, fmt.Errorf("visit time: %w", err)
		}
		p.JoinedAt = time.UnixMilli(joined).UTC()
		if left.Valid {
			p.LeftAt = time.UnixMilli(left.Int64).UTC()
		}
		if len(out) == 0 || out[len(out)-1].Visit != id {
			flush()
			out = append(out, VisitTime{Visit: id, Patient: patient, Start: time.UnixMilli(started).UTC()})
		}
		ps = append(ps, p)
	}
	flush()
	return out, rows.Err()
}

// interactive counts the seconds in which the patient and a clinician were
// both present.
func interactive(ps []Presence, now time.Time) int {
	type edge struct {
		t     time.Time
		role  string
		delta int
	}
	var es []edge
	for _, p := range ps {
		if p.Role != RolePatient && p.Role != RoleClinician {
			continue
		}
		left := p.LeftAt
		if left.IsZero() {
			left = now
		}
		es = append(es, edge{p.JoinedAt, p.Role, 1}, edge{left, p.Role, -1})
	}
	// sort by time, leaves before joins at the same instant
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && (es[j].t.Before(es[j-1].t) || (es[j].t.Equal(es[j-1].t) && es[j].delta < es[j-1].delta)); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	var pat, clin int
	var total time.Duration
	var since time.Time
	for _, e := range es {
		both := pat > 0 && clin > 0
		if e.role == RolePatient {
			pat += e.delta
		} else {
			clin += e.delta
		}
		switch now := pat > 0 && clin > 0; {
		case !both && now:
			since = e.t
		case both && !now:
			total += e.t.Sub(since)
		}
	}
	return int(total / time.Second)
}
