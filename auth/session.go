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

	mu       sync.Mutex
	failures map[string]failure // by username
}

type failure struct {
	n       int       // wrong passwords in a row
	pending int       // attempts reserved and being checked
	until   time.Time // with n >= lockoutAfter, the lock ends
}

// NewSessions returns the session store; idle is the automatic log-off
// time, maxAge the longest a session lives.
func NewSessions(db *sql.DB, idle, maxAge time.Duration) *Sessions {
	return &Sessions{db: db, idle: idle, maxAge: maxAge, now: time.Now, failures: map[string]failure{}}
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
// ErrBusy (nothing checked, nothing counted) when none came free.
func (s *Sessions) Login(ctx context.Context, username, password string) (User, error) {
	if !ValidUsername(username) {
		return User{}, ErrBadUsername
	}
	if err := s.reserve(username); err != nil {
		return User{}, err
	}
	c, err := s.check(ctx, username, password)
	if err != nil {
		s.settle(username, attemptUnchecked)
		return User{}, err
	}
	if !c.ok {
		return User{}, s.settle(username, attemptFailed)
	}
	s.settle(username, attemptSucceeded)
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

// reserve takes one of the attempts the account has left before the lock.
func (s *Sessions) reserve(username string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	f := s.failures[username]
	if f.n >= lockoutAfter && now.Before(f.until) {
		return ErrLockedOut
	}
	left := max(lockoutAfter-f.n, 1) // once a lock ends, one attempt at a time
	if f.pending >= left {
		return ErrLockedOut
	}
	f.pending++
	if len(s.failures) >= maxFailures {
		s.forgetUnlocked(now)
	}
	s.failures[username] = f
	return nil
}

type attempt int

const (
	attemptUnchecked attempt = iota
	attemptFailed
	attemptSucceeded
)

// settle returns a reserved attempt with its result.
func (s *Sessions) settle(username string, a attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[username]
	f.pending = max(f.pending-1, 0)
	var err error
	switch a {
	case attemptFailed:
		f.n++
		f.until = s.now().Add(lockoutFor)
		err = ErrBadLogin
		if f.n >= lockoutAfter {
			err = ErrAccountLocked
		}
	case attemptSucceeded:
		// Attempts still running may be someone else's guesses: until they
		// are settled, this one stays counted, so that a burst never gets
		// more than lockoutAfter checks.
		if f.pending == 0 {
			f.n = 0
		} else {
			f.n++
			f.until = s.now().Add(lockoutFor)
		}
	}
	if f.n == 0 && f.pending == 0 {
		delete(s.failures, username)
	} else {
		s.failures[username] = f
	}
	return err
}

// forgetUnlocked drops the failures of accounts not locked now and with no
// attempt running (called with s.mu held, when the map is full).
func (s *Sessions) forgetUnlocked(now time.Time) {
	for name, f := range s.failures {
		if f.pending == 0 && (f.n < lockoutAfter || !now.Before(f.until)) {
			delete(s.failures, name)
		}
	}
}
