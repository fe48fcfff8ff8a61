package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Browser sessions. A browser signs in once (a one-time link or a username
// and password) and then holds a random session cookie. The database keeps
// the cookie's SHA-256 only, so a copy of the database opens no session. A
// session ends after Idle without a request (HIPAA automatic log-off), at
// most MaxAge after it began, or when its owner signs out.

// Session errors.
var (
	// ErrNoSession: the cookie names no live session.
	ErrNoSession = errors.New("auth: no such session, or it has ended")
	// ErrLinkUsed: the sign-in link was used before.
	ErrLinkUsed = errors.New("auth: sign-in link already used")
	// ErrBadLogin: unknown user, wrong password, or a disabled account.
	ErrBadLogin = errors.New("auth: wrong username or password")
	// ErrLockedOut: too many wrong passwords for the account lately.
	ErrLockedOut = errors.New("auth: too many failed sign-ins; try again in a minute")
	// ErrWeakPassword: a password shorter than 12 characters.
	ErrWeakPassword = errors.New("auth: a password needs at least 12 characters")
	// ErrBadUsername: a username outside [a-z0-9._-]{3,64}.
	ErrBadUsername = errors.New("auth: a username is 3-64 of a-z, 0-9, '.', '_' and '-'")
)

// dummyHash is checked for unknown usernames, so that their answer takes
// as long as a wrong password's.
var dummyHash = sync.OnceValue(func() string { return HashPassword(NewSecret()) })

var usernameRE = regexp.MustCompile(`^[a-z0-9._-]{3,64}$`)

// lockout is how many wrong passwords in a row lock an account, and for how
// long.
const (
	lockoutAfter = 5
	lockoutFor   = time.Minute
)

// Sessions stores users, sessions and used sign-in links in the records
// database.
type Sessions struct {
	db     *sql.DB
	idle   time.Duration
	maxAge time.Duration
	now    func() time.Time

	hasher *Hasher // nil: no cap
}

// NewSessions returns the session store; idle is the automatic log-off
// time, maxAge the longest a session lives.
func NewSessions(db *sql.DB, idle, maxAge time.Duration) *Sessions {
	return &Sessions{db: db, idle: idle, maxAge: maxAge, now: time.Now}
}

// SetHasher runs the password checks and hashes in h's slots.
func (s *Sessions) SetHasher(h *Hasher) { s.hasher = h }

// Idle is the automatic log-off time.
func (s *Sessions) Idle() time.Duration { return s.idle }

func hashCookie(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// Create starts a session for subject in role and returns the cookie value
// and the claims the session stands for.
func (s *Sessions) Create(ctx context.Context, subject string, role Role) (string, Claims, error) {
	return s.CreateFrom(ctx, subject, role, Origin{})
}

// Check returns the claims of a live session and, when touch is set,
// counts the request as activity. Claims.Expires is when the session ends
// if nothing more happens.
func (s *Sessions) Check(ctx context.Context, cookie string, touch bool) (Claims, error) {
	if cookie == "" {
		return Claims{}, ErrNoSession
	}
	var c Claims
	var role string
	var created, last, expires int64
	var scopes string
	err := s.db.QueryRowContext(ctx, `SELECT jti, subject, role, created_at, last_seen, expires_at, issued_by, pending, scopes FROM sessions
		WHERE id_hash = ?`, hashCookie(cookie)).Scan(&c.ID, &c.Subject, &role, &created, &last, &expires, &c.IssuedBy, &c.Use, &scopes)
	c.Scopes = strings.Fields(scopes)
	if errors.Is(err, sql.ErrNoRows) {
		return Claims{}, ErrNoSession
	}
	if err != nil {
		return Claims{}, fmt.Errorf("check session: %w", err)
	}
	now := s.now()
	end := min(time.Unix(last, 0).Add(s.idle).Unix(), expires)
	if now.Unix() >= end {
		s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, hashCookie(cookie))
		return Claims{}, ErrNoSession
	}
	if touch && now.Unix() > last {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, now.Unix(), hashCookie(cookie)); err != nil {
			return Claims{}, fmt.Errorf("touch session: %w", err)
		}
		last = now.Unix()
	}
	c.Role, c.IssuedAt = Role(role), created
	c.Expires = min(time.Unix(last, 0).Add(s.idle).Unix(), expires)
	return c, nil
}

// End signs a session out and returns its id (to close its sockets).
func (s *Sessions) End(ctx context.Context, cookie string) (string, error) {
	jti, _, err := s.EndVia(ctx, cookie)
	return jti, err
}

// EndVia signs a session out and returns its id and how it was signed
// in (Origin.Via).
func (s *Sessions) EndVia(ctx context.Context, cookie string) (jti, via string, err error) {
	err = s.db.QueryRowContext(ctx, `DELETE FROM sessions WHERE id_hash = ? RETURNING jti, via`, hashCookie(cookie)).Scan(&jti, &via)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNoSession
	}
	return jti, via, err
}

// User returns the user named username.
func (s *Sessions) User(ctx context.Context, username string) (User, bool) {
	var u User
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT username, subject, role, updated_at, disabled FROM users WHERE username = ?`, username).
		Scan(&u.Username, &u.Subject, &u.Role, &at, &u.Disabled)
	u.UpdatedAt = time.Unix(at, 0).UTC()
	return u, err == nil
}

// Sweep deletes ended sessions and expired link records.
func (s *Sessions) Sweep(ctx context.Context) error {
	now := s.now().Unix()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen + ? <= ?`,
		now, int64(s.idle/time.Second), now); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM signin_links_used WHERE expires_at < ?`, now)
	return err
}

// Redeem marks a sign-in link used; a second use is ErrLinkUsed.
func (s *Sessions) Redeem(ctx context.Context, link Claims) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO signin_links_used (jti, used_at, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (jti) DO NOTHING`, link.ID, s.now().Unix(), link.Expires)
	if err != nil {
		return fmt.Errorf("redeem sign-in link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLinkUsed
	}
	return nil
}

// User is a person who signs in with a password.
type User struct {
	Username  string    `json:"username"`
	Subject   string    `json:"subject"`
	Role      Role      `json:"role"`
	UpdatedAt time.Time `json:"updated_at"`
	Disabled  bool      `json:"disabled,omitempty"`
}

// SetPassword creates or updates a user with a password (stored as an
// argon2id hash).
func (s *Sessions) SetPassword(ctx context.Context, username, subject string, role Role, password string) error {
	if !ValidUsername(username) {
		return ErrBadUsername
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if !ValidID(subject) {
		return fmt.Errorf("auth: subject (the person's id): %w", ErrInvalidID)
	}
	if len([]rune(password)) < 12 {
		return ErrWeakPassword
	}
	hash, err := s.hasher.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO users (username, subject, role, hash, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET subject = excluded.subject, role = excluded.role, hash = excluded.hash,
		updated_at = excluded.updated_at, disabled = 0`, username, subject, string(role), hash, s.now().Unix())
	return err
}

// Disable stops a user from signing in (their sessions end at once).
func (s *Sessions) Disable(ctx context.Context, username string) error {
	var subject string
	if err := s.db.QueryRowContext(ctx, `UPDATE users SET disabled = 1 WHERE username = ? RETURNING subject`, username).Scan(&subject); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ErrBadLogin
		}
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE subject = ?`, subject)
	return err
}

// Users lists the users, without their hashes.
func (s *Sessions) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT username, subject, role, updated_at, disabled FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var u User
		var at int64
		if err := rows.Scan(&u.Username, &u.Subject, &u.Role, &at, &u.Disabled); err != nil {
			return nil, err
		}
		u.UpdatedAt = time.Unix(at, 0).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// Login checks a username and password. After five wrong passwords in a
// row the account refuses every attempt for a minute, and after that each
// wrong one locks it again.
//
// An attempt is reserved before its password is checked: while checks of
// an account are running, they count against what is left before the
// lock, so parallel guesses cannot each be checked before any is counted.
// At most five passwords of an account are ever checked per lock period,
// and an attempt that finds them all taken is refused as locked out,
// whatever its password. The check runs in one of the Hasher's slots;
// ErrBusy (nothing checked, nothing counted) when none came free. The
// count is kept in the records database (login_attempts): nodes sharing
// it count the same attempts, and a restart forgets none.
func (s *Sessions) Login(ctx context.Context, username, password string) (User, error) {
	if !ValidUsername(username) {
		return User{}, ErrBadUsername
	}
	if err := s.reserve(ctx, username); err != nil {
		return User{}, err
	}
	c, err := s.check(ctx, username, password)
	if err != nil {
		s.settle(ctx, username, attemptUnchecked)
		return User{}, err
	}
	if !c.ok {
		return User{}, s.settle(ctx, username, attemptFailed)
	}
	if err := s.settle(ctx, username, attemptSucceeded); err != nil {
		return User{}, err
	}
	return c.user, nil
}

type checked struct {
	user User
	ok   bool
}

// check verifies the password (or, for an unknown username, does the same
// work against a dummy hash).
func (s *Sessions) check(ctx context.Context, username, password string) (checked, error) {
	var u User
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT username, subject, role, hash, disabled FROM users WHERE username = ?`, username).
		Scan(&u.Username, &u.Subject, &u.Role, &hash, &u.Disabled)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err := s.hasher.Verify(ctx, dummyHash(), password) // the same work as a real check
		return checked{}, err
	case err != nil:
		return checked{}, err
	}
	ok, err := s.hasher.Verify(ctx, hash, password)
	if errors.Is(err, ErrBusy) {
		return checked{}, err
	}
	return checked{user: u, ok: ok && !u.Disabled}, nil
}

// ErrAccountLocked is the wrong password that locked the account (it is
// also ErrBadLogin): the caller audits the lock.
var ErrAccountLocked = fmt.Errorf("%w (the account is now locked)", ErrBadLogin)

// maxFailures bounds the accounts (and unknown usernames) whose failures
// are remembered; past it, those not locked now are forgotten first.
const maxFailures = 100_000

// reservedFor is how long a reserved attempt counts: a check that has not
// settled by then was a process that died in it.
const reservedFor = 2 * time.Minute

// failureRow is an account's row of login_attempts.
type failureRow struct {
	n, pending          int
	until, pendingUntil int64
	exists              bool
}

func readFailures(ctx context.Context, tx *sql.Tx, username string) (failureRow, error) {
	var f failureRow
	err := tx.QueryRowContext(ctx, `SELECT failures, locked_until, pending, pending_until FROM login_attempts WHERE username = ?`, username).
		Scan(&f.n, &f.until, &f.pending, &f.pendingUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil
	}
	f.exists = err == nil
	return f, err
}

func writeFailures(ctx context.Context, tx *sql.Tx, username string, f failureRow) error {
	if f.n == 0 && f.pending == 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE username = ?`, username)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO login_attempts (username, failures, locked_until, pending, pending_until) VALUES (?,?,?,?,?)
		ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
		pending = excluded.pending, pending_until = excluded.pending_until`, username, f.n, f.until, f.pending, f.pendingUntil)
	return err
}

// failuresTx runs change on username's failures in one transaction, which
// holds the records write lock: the count is the same for every node
// sharing the records database, and survives a restart.
func (s *Sessions) failuresTx(ctx context.Context, username string, change func(f *failureRow, now time.Time) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sign-in attempts: %w", err)
	}
	defer tx.Rollback()
	f, err := readFailures(ctx, tx, username)
	if err != nil {
		return fmt.Errorf("sign-in attempts: %w", err)
	}
	now := s.now()
	if f.pendingUntil <= now.UnixNano() {
		f.pending = 0
	}
	verdict := change(&f, now)
	if !f.exists && (f.n > 0 || f.pending > 0) {
		if err := forgetUnlocked(ctx, tx, now); err != nil {
			return fmt.Errorf("sign-in attempts: %w", err)
		}
	}
	if err := writeFailures(ctx, tx, username, f); err != nil {
		return fmt.Errorf("sign-in attempts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sign-in attempts: %w", err)
	}
	return verdict
}

// reserve takes one of the attempts the account has left before the lock.
func (s *Sessions) reserve(ctx context.Context, username string) error {
	locked := false
	err := s.failuresTx(ctx, username, func(f *failureRow, now time.Time) error {
		if f.n >= lockoutAfter && now.UnixNano() < f.until {
			locked = true
			return nil
		}
		left := max(lockoutAfter-f.n, 1) // once a lock ends, one attempt at a time
		if f.pending >= left {
			locked = true
			return nil
		}
		f.pending++
		f.pendingUntil = now.Add(reservedFor).UnixNano()
		return nil
	})
	if err != nil {
		return err
	}
	if locked {
		return ErrLockedOut
	}
	return nil
}

type attempt int

const (
	attemptUnchecked attempt = iota
	attemptFailed
	attemptSucceeded
)

// settle returns a reserved attempt with its result.
func (s *Sessions) settle(ctx context.Context, username string, a attempt) error {
	var verdict error
	err := s.failuresTx(context.WithoutCancel(ctx), username, func(f *failureRow, now time.Time) error {
		f.pending = max(f.pending-1, 0)
		switch a {
		case attemptFailed:
			f.n++
			f.until = now.Add(lockoutFor).UnixNano()
			verdict = ErrBadLogin
			if f.n >= lockoutAfter {
				verdict = ErrAccountLocked
			}
		case attemptSucceeded:
			// Attempts still running may be someone else's guesses: until they
			// are settled, this one stays counted, so that a burst never gets
			// more than lockoutAfter checks.
			if f.pending == 0 {
				f.n = 0
			} else {
				f.n++
				f.until = now.Add(lockoutFor).UnixNano()
			}
		}
		return nil
	})
	if err != nil && a != attemptFailed {
		return err
	}
	if err != nil {
		// The wrong password is refused whether or not it could be counted.
		return fmt.Errorf("%w (%v)", ErrBadLogin, err)
	}
	return verdict
}

// forgetUnlocked drops the failures of accounts not locked now and with no
// attempt running, when maxFailures accounts have some.
func forgetUnlocked(ctx context.Context, tx *sql.Tx, now time.Time) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM login_attempts`).Scan(&n); err != nil || n < maxFailures {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM login_attempts WHERE pending_until <= ? AND (failures < ? OR locked_until <= ?)`,
		now.UnixNano(), lockoutAfter, now.UnixNano())
	return err
}
