package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrRevoked: the token was revoked.
var ErrRevoked = errors.New("auth: token revoked")

// Revocations is the list of revoked token ids, kept in memory and in the
// records database. Entries are kept until the token would have expired.
type Revocations struct {
	db  *sql.DB
	mu  sync.RWMutex
	ids map[string]time.Time // jti -> expiry
	// watchers are told of each revocation (open WebSocket connections).
	watchers []func(jti string)
}

// OpenRevocations loads the revocations still in force.
func OpenRevocations(ctx context.Context, db *sql.DB) (*Revocations, error) {
	r := &Revocations{db: db, ids: map[string]time.Time{}}
	rows, err := db.QueryContext(ctx, `SELECT jti, expires FROM revoked_tokens WHERE expires > ?`, time.Now().Unix())
	if err != nil {
		return nil, fmt.Errorf("load revoked tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var jti string
		var exp int64
		if err := rows.Scan(&jti, &exp); err != nil {
			return nil, fmt.Errorf("load revoked tokens: %w", err)
		}
		r.ids[jti] = time.Unix(exp, 0)
	}
	return r, rows.Err()
}

// Revoke revokes a token by its claims.
func (r *Revocations) Revoke(ctx context.Context, c Claims) error {
	if _, err := r.db.ExecContext(ctx, `INSERT INTO revoked_tokens (jti, expires, revoked_at) VALUES (?,?,?) ON CONFLICT DO NOTHING`,
		c.ID, c.Expires, time.Now().Unix()); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	r.mu.Lock()
	r.ids[c.ID] = time.Unix(c.Expires, 0)
	watchers := append([]func(string){}, r.watchers...)
	r.mu.Unlock()
	for _, w := range watchers {
		w(c.ID)
	}
	return nil
}

// Revoked reports whether a token id is revoked.
func (r *Revocations) Revoked(jti string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.ids[jti]
	return ok
}

// Watch calls f with the id of every token revoked from now on.
func (r *Revocations) Watch(f func(jti string)) {
	r.mu.Lock()
	r.watchers = append(r.watchers, f)
	r.mu.Unlock()
}

// Membership answers whether a clinician cares for a patient (the chart's
// care teams).
type Membership interface {
	ClinicianHasPatient(clinician, patient string) bool
}

// BreakGlass grants a clinician (or an admin) time-limited access to a
// patient outside their care teams, in an emergency, with a reason. Every
// grant is stored and listed for review; accesses under it are flagged in
// the audit log.
type BreakGlass struct {
	db  *sql.DB
	ttl time.Duration
	now func() time.Time
	mu  sync.RWMutex
	// active grants by subject and patient -> expiry
	active map[[2]string]time.Time
	// watchers are told when a grant begins or expires (open sockets).
	watchers []func()
}

// Watch calls f whenever a grant begins or expires, from then on.
func (b *BreakGlass) Watch(f func()) {
	b.mu.Lock()
	b.watchers = append(b.watchers, f)
	b.mu.Unlock()
}

func (b *BreakGlass) changed() {
	b.mu.RLock()
	ws := append([]func(){}, b.watchers...)
	b.mu.RUnlock()
	for _, f := range ws {
		f()
	}
}

// expireAt tells the watchers when a grant expiring at exp has expired.
func (b *BreakGlass) expireAt(exp time.Time) {
	// A little past the expiry, so that Active has turned false.
	time.AfterFunc(time.Until(exp)+10*time.Millisecond, b.changed)
}

// Grant is one break-glass grant.
type Grant struct {
	ID        int64     `json:"id"`
	Subject   string    `json:"subject"`
	Role      Role      `json:"role"`
	Patient   string    `json:"patient"`
	Reason    string    `json:"reason"`
	GrantedAt time.Time `json:"granted_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ErrReasonRequired: break-glass needs a reason of some substance.
var ErrReasonRequired = errors.New("break-glass needs a reason (at least 10 characters)")

// OpenBreakGlass loads the grants still in force; ttl is how long a grant
// lasts.
func OpenBreakGlass(ctx context.Context, db *sql.DB, ttl time.Duration) (*BreakGlass, error) {
	b := &BreakGlass{db: db, ttl: ttl, now: time.Now, active: map[[2]string]time.Time{}}
	rows, err := db.QueryContext(ctx, `SELECT subject, patient, expires_at FROM break_glass WHERE expires_at > ?`, time.Now().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("load break-glass grants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, p string
		var exp int64
		if err := rows.Scan(&s, &p, &exp); err != nil {
			return nil, fmt.Errorf("load break-glass grants: %w", err)
		}
		b.active[[2]string{s, p}] = time.Unix(0, exp)
		b.expireAt(time.Unix(0, exp))
	}
	return b, rows.Err()
}

// Open grants c access to patient for the configured time.
func (b *BreakGlass) Open(ctx context.Context, c Claims, patient, reason string) (Grant, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) < 10 {
		return Grant{}, ErrReasonRequired
	}
	now := b.now().UTC()
	g := Grant{Subject: c.Subject, Role: c.Role, Patient: patient, Reason: reason, GrantedAt: now, ExpiresAt: now.Add(b.ttl)}
	err := b.db.QueryRowContext(ctx, `INSERT INTO break_glass (subject, role, patient, reason, granted_at, expires_at) VALUES (?,?,?,?,?,?)
		RETURNING id`, g.Subject, string(g.Role), g.Patient, g.Reason, g.GrantedAt.UnixNano(), g.ExpiresAt.UnixNano()).Scan(&g.ID)
	if err != nil {
		return Grant{}, fmt.Errorf("break-glass: %w", err)
	}
	b.mu.Lock()
	b.active[[2]string{c.Subject, patient}] = g.ExpiresAt
	b.mu.Unlock()
	b.expireAt(g.ExpiresAt)
	b.changed()
	return g, nil
}

// Active reports whether subject holds a grant for patient now.
func (b *BreakGlass) Active(subject, patient string) bool {
	b.mu.RLock()
	exp, ok := b.active[[2]string{subject, patient}]
	b.mu.RUnlock()
	return ok && b.now().Before(exp)
}

// List returns the grants made since since, newest first, for review.
func (b *BreakGlass) List(ctx context.Context, since time.Time) ([]Grant, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT id, subject, role, patient, reason, granted_at, expires_at FROM break_glass
		WHERE granted_at >= ? ORDER BY id DESC`, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("list break-glass grants: %w", err)
	}
	defer rows.Close()
	out := []Grant{}
	for rows.Next() {
		var g Grant
		var role string
		var at, exp int64
		if err := rows.Scan(&g.ID, &g.Subject, &role, &g.Patient, &g.Reason, &at, &exp); err != nil {
			return nil, err
		}
		g.Role, g.GrantedAt, g.ExpiresAt = Role(role), time.Unix(0, at).UTC(), time.Unix(0, exp).UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// Policy is the one place that decides who may read or act on a patient's
// data.
type Policy struct {
	Teams      Membership
	BreakGlass *BreakGlass
	// Clients answers whether a registered system may read a patient
	// (the patients of the care teams its registration names); nil: no
	// system reads any.
	Clients ClientMembership
}

// ClientMembership answers whether a registered system (SMART Backend
// Services client) may read a patient.
type ClientMembership interface {
	ClientHasPatient(client, patient string) bool
}

// Decision is the policy's answer.
type Decision struct {
	Allowed    bool
	BreakGlass bool // allowed only through a break-glass grant
}

// Patient decides access to a patient's data:
//   - a patient reads their own data only;
//   - a clinician reads and acts on the patients of their care teams;
//   - a registered system reads the patients of the care teams its
//     registration names (its scopes narrow that further, per route);
//   - an admin manages people and devices, and reads patient data only
//     through break-glass, as does a clinician outside the care team.
func (p *Policy) Patient(c Claims, patient string) Decision {
	switch c.Role {
	case RolePatient:
		return Decision{Allowed: c.Subject == patient}
	case RoleSystem:
		return Decision{Allowed: p.Clients != nil && p.Clients.ClientHasPatient(c.Subject, patient)}
	case RoleClinician:
		if p.Teams != nil && p.Teams.ClinicianHasPatient(c.Subject, patient) {
			return Decision{Allowed: true}
		}
	}
	if (c.Role == RoleClinician || c.Role == RoleAdmin) && p.BreakGlass != nil && p.BreakGlass.Active(c.Subject, patient) {
		return Decision{Allowed: true, BreakGlass: true}
	}
	return Decision{}
}

// ProgramReport decides whether c may see a patient's line in a
// remote-monitoring program report, which holds counts and minutes (days
// with data, care-management time, billing codes), never vital values:
//   - an admin, who runs the program's billing, every patient;
//   - a clinician the patients of their care teams (break-glass opens one
//     patient's chart in an emergency, not a program's report);
//   - a patient none (their own data is on their own routes).
func (p *Policy) ProgramReport(c Claims, patient string) Decision {
	switch c.Role {
	case RoleAdmin:
		return Decision{Allowed: true}
	case RoleClinician:
		return Decision{Allowed: p.Teams != nil && p.Teams.ClinicianHasPatient(c.Subject, patient)}
	}
	return Decision{}
}
