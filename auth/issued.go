package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Credentials issued for another person. An admin who mints a sign-in
// link or sets a password for someone else could otherwise sign in as that
// person and read what they may read, with only their name in the audit
// log. So every such credential is recorded (who issued what for whom),
// the session it opens names the issuer on every audited access, and that
// session may do nothing but set the person's own password: only after
// that is it an ordinary session, and only a session of the password the
// person chose is not flagged. Nothing is read in a session before the
// password is set (the HTTP side refuses every other route).

// Kinds of issued credentials.
const (
	IssuedSignInLink = "signin-link"
	IssuedPassword   = "password"
)

// Errors of setting one's own password.
var (
	// ErrUsernameTaken: the username belongs to someone else.
	ErrUsernameTaken = errors.New("auth: that username belongs to someone else")
	// ErrUsernameNeeded: the person has no username yet (or several), so
	// they must name one.
	ErrUsernameNeeded = errors.New("auth: choose a username")
	// ErrSamePassword: the new password is the one the admin set.
	ErrSamePassword = errors.New("auth: choose a password other than the one you were given")
)

// Issuance is one credential issued for another person, for review.
type Issuance struct {
	ID       int64  `json:"id"`
	Kind     string `json:"kind"` // signin-link or password
	IssuedBy string `json:"issued_by"`
	Subject  string `json:"subject"`
	Role     Role   `json:"role"`
	// Username is the account whose password was set (kind password).
	Username string `json:"username,omitempty"`
	// LinkID is the link's token id (kind signin-link).
	LinkID    string    `json:"link_id,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// UsedAt and UsedFrom: the first sign-in with it, and its address.
	UsedAt   time.Time `json:"used_at,omitzero"`
	UsedFrom string    `json:"used_from,omitempty"`
	// PasswordSetAt: when the session it opened set the person's own
	// password (and became an ordinary session).
	PasswordSetAt time.Time `json:"password_set_at,omitzero"`
}

// Origin is what opened a session, beyond the person's own password.
type Origin struct {
	// Link is the id of the link (sign-in or join) that minted the
	// session: revoking the link ends the session.
	Link string
	// Issued is the admin-issued credential the session was opened with
	// (zero ID: the person's own).
	Issued Issuance
	// Via is how the person signed in, when not with a password or a
	// link: "oidc" for single sign-on (sign-out then also ends the
	// provider's session).
	Via string
	// Scopes are the scopes the provider granted a single sign-on session
	// when Vitalwire asked for user/ scopes: the session's FHIR reads are
	// narrowed to them. None: not narrowed.
	Scopes []string
}

// CreateFrom starts a session like Create, remembering what opened it. A
// session opened by an admin-issued credential is good only for setting
// the person's own password (its claims' Use is UseSetPassword) and names
// the issuer (IssuedBy).
func (s *Sessions) CreateFrom(ctx context.Context, subject string, role Role, o Origin) (string, Claims, error) {
	b := make([]byte, 32)
	rand.Read(b)
	cookie := base64.RawURLEncoding.EncodeToString(b)
	j := make([]byte, 9)
	rand.Read(j)
	now := s.now()
	c := Claims{Subject: subject, Role: role, IssuedAt: now.Unix(), Expires: now.Add(s.idle).Unix(),
		ID: "s." + base64.RawURLEncoding.EncodeToString(j), IssuedBy: o.Issued.IssuedBy, Scopes: o.Scopes}
	if o.Issued.ID != 0 {
		c.Use = UseSetPassword
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, jti, subject, role, created_at, last_seen, expires_at,
		issued, issued_by, pending, origin, via, scopes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, hashCookie(cookie), c.ID, subject, string(role),
		now.Unix(), now.Unix(), now.Add(s.maxAge).Unix(), o.Issued.ID, o.Issued.IssuedBy, c.Use, o.Link, o.Via, strings.Join(o.Scopes, " "))
	if err != nil {
		return "", Claims{}, fmt.Errorf("create session: %w", err)
	}
	return cookie, c, nil
}

// EndFrom ends every session minted by the link id jti and returns their
// ids (to close their sockets).
func (s *Sessions) EndFrom(ctx context.Context, jti string) ([]string, error) {
	if jti == "" {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `DELETE FROM sessions WHERE origin = ? RETURNING jti`, jti)
	if err != nil {
		return nil, fmt.Errorf("end sessions of link: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return out, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// IssueLink records a sign-in link that by issued for link's subject.
// A link for oneself is not recorded (it is one's own credential).
func (s *Sessions) IssueLink(ctx context.Context, by, link Claims) error {
	if by.Subject == link.Subject {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO issued_credentials (kind, issued_by, subject, role, jti, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, IssuedSignInLink, by.Subject, link.Subject, string(link.Role), link.ID,
		s.now().UnixNano(), time.Unix(link.Expires, 0).UnixNano())
	if err != nil {
		return fmt.Errorf("record issued link: %w", err)
	}
	return nil
}

// SetPasswordBy sets a user's password as SetPassword does; when by is
// not the user themself, the password is recorded as issued by them and
// must be replaced by the person at its first use.
func (s *Sessions) SetPasswordBy(ctx context.Context, by Claims, username, subject string, role Role, password string) error {
	if err := s.SetPassword(ctx, username, subject, role, password); err != nil {
		return err
	}
	if by.Subject == subject {
		_, err := s.db.ExecContext(ctx, `UPDATE users SET issued = 0 WHERE username = ?`, username)
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO issued_credentials (kind, issued_by, subject, role, username, issued_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, IssuedPassword, by.Subject, subject, string(role), username, s.now().UnixNano()).Scan(&id)
	if err != nil {
		return fmt.Errorf("record issued password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET issued = ? WHERE username = ?`, id, username); err != nil {
		return fmt.Errorf("record issued password: %w", err)
	}
	return tx.Commit()
}

const issuanceColumns = `id, kind, issued_by, subject, role, username, jti, issued_at, expires_at, used_at, used_from, password_set_at`

func scanIssuance(row interface{ Scan(...any) error }) (Issuance, error) {
	var i Issuance
	var role string
	var at int64
	var exp, used, set sql.NullInt64
	if err := row.Scan(&i.ID, &i.Kind, &i.IssuedBy, &i.Subject, &role, &i.Username, &i.LinkID, &at, &exp, &used, &i.UsedFrom, &set); err != nil {
		return i, err
	}
	i.Role, i.IssuedAt = Role(role), time.Unix(0, at).UTC()
	for _, f := range []struct {
		src sql.NullInt64
		dst *time.Time
	}{{exp, &i.ExpiresAt}, {used, &i.UsedAt}, {set, &i.PasswordSetAt}} {
		if f.src.Valid {
			*f.dst = time.Unix(0, f.src.Int64).UTC()
		}
	}
	return i, nil
}

// IssuedLink returns the record of an issued sign-in link, if the link
// with id jti was issued for another person.
func (s *Sessions) IssuedLink(ctx context.Context, jti string) (Issuance, bool, error) {
	i, err := scanIssuance(s.db.QueryRowContext(ctx, `SELECT `+issuanceColumns+` FROM issued_credentials
		WHERE kind = ? AND jti = ?`, IssuedSignInLink, jti))
	if errors.Is(err, sql.ErrNoRows) {
		return Issuance{}, false, nil
	}
	return i, err == nil, err
}

// IssuedPasswordOf returns the record of the password an admin set for
// username, while the person has not replaced it.
func (s *Sessions) IssuedPasswordOf(ctx context.Context, username string) (Issuance, bool, error) {
	i, err := scanIssuance(s.db.QueryRowContext(ctx, `SELECT `+issuanceColumns+` FROM issued_credentials
		WHERE id = (SELECT issued FROM users WHERE username = ? AND issued != 0)`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return Issuance{}, false, nil
	}
	return i, err == nil, err
}

// UsedIssued records the first use of an issued credential.
func (s *Sessions) UsedIssued(ctx context.Context, id int64, source string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE issued_credentials SET used_at = ?, used_from = ? WHERE id = ? AND used_at IS NULL`,
		s.now().UnixNano(), source, id)
	return err
}

// Issued lists the credentials issued since since, newest first.
func (s *Sessions) Issued(ctx context.Context, since time.Time) ([]Issuance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+issuanceColumns+` FROM issued_credentials WHERE issued_at >= ? ORDER BY id DESC`,
		since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("list issued credentials: %w", err)
	}
	defer rows.Close()
	out := []Issuance{}
	for rows.Next() {
		i, err := scanIssuance(rows)
		if err != nil {
			return nil, fmt.Errorf("list issued credentials: %w", err)
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// SetOwnPassword sets the password of the person signed in with cookie,
// as they choose it: of their account (username "" when they have exactly
// one), or of a new account username. A session that had to set a
// password first becomes an ordinary one (still naming its issuer: who
// chose the password is known only by the credential the admin issued).
// The new password may not be the one an admin set.
func (s *Sessions) SetOwnPassword(ctx context.Context, cookie, username, password string) error {
	c, err := s.Check(ctx, cookie, true)
	if err != nil {
		return err
	}
	if len([]rune(password)) < 12 {
		return ErrWeakPassword
	}
	if username == "" {
		names, err := s.usernamesOf(ctx, c.Subject)
		if err != nil {
			return err
		}
		if len(names) != 1 {
			return ErrUsernameNeeded
		}
		username = names[0]
	}
	if !usernameRE.MatchString(username) {
		return ErrBadUsername
	}
	var subject, hash string
	var issued int64
	err = s.db.QueryRowContext(ctx, `SELECT subject, hash, issued FROM users WHERE username = ?`, username).Scan(&subject, &hash, &issued)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case subject != c.Subject:
		return ErrUsernameTaken
	case issued != 0:
		if same, _ := VerifySecret(hash, password); same {
			return ErrSamePassword
		}
	}
	if err := s.SetPassword(ctx, username, c.Subject, c.Role, password); err != nil {
		return err
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE users SET issued = 0 WHERE username = ?`, username); err != nil {
		return err
	}
	var sessIssued int64
	if err := tx.QueryRowContext(ctx, `UPDATE sessions SET pending = '' WHERE id_hash = ? RETURNING issued`, hashCookie(cookie)).
		Scan(&sessIssued); err != nil {
		return fmt.Errorf("set own password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE issued_credentials SET password_set_at = ? WHERE password_set_at IS NULL AND
		(id = ? OR id = ?)`, now.UnixNano(), sessIssued, issued); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Sessions) usernamesOf(ctx context.Context, subject string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT username FROM users WHERE subject = ? AND disabled = 0`, subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
