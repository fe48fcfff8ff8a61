// Package auth owns who is asking and what they may see: principals and
// their roles, signed bearer tokens and their revocation, browser sessions
// and one-time sign-in links, the access policy for patient data (care
// teams, break-glass), the hash-chained audit log, and the hashing of
// secrets (device credentials and user passwords). The roles each HTTP
// route needs are declared in app's route table, which denies by default.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Role is what a principal is allowed to be.
type Role string

// Roles.
const (
	RoleAdmin     Role = "admin"
	RoleClinician Role = "clinician"
	RolePatient   Role = "patient"
	// RoleSystem is a registered system (SMART Backend Services) reading
	// the FHIR API with an access token of the token endpoint; never a
	// person's role, and never in a token this server signs.
	RoleSystem Role = "system"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleClinician, RolePatient:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (admin, clinician, patient)", s)
}

// Claims is what a token says of its bearer.
type Claims struct {
	Subject  string `json:"sub"`
	Role     Role   `json:"role"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	ID       string `json:"jti"`
	// Use is empty for a bearer token; "signin" for a one-time sign-in
	// link, which is good for nothing but starting a browser session; or
	// what MintUse was given (a visit's join link: "visit:ID").
	Use string `json:"use,omitempty"`
	// IssuedBy is set on the claims of a browser session opened with a
	// credential an admin issued for this person (a sign-in link, a
	// password the admin set): the admin's subject. Every access in the
	// session is audited with it.
	IssuedBy string `json:"iby,omitempty"`
	// Scopes are the SMART scopes a system's access token was granted
	// (RoleSystem), or those a single sign-on session was granted when
	// user/ scopes were asked for: they narrow what the policy allows on
	// the FHIR API. None: not narrowed (a person's own sign-in).
	Scopes []string `json:"-"`
}

// Token errors.
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("auth: no bearer token")
	// ErrMalformedToken: the token is not of Vitalwire's form.
	ErrMalformedToken = errors.New("auth: malformed token")
	// ErrBadSignature: the token was not signed with this server's key.
	ErrBadSignature = errors.New("auth: bad token signature")
	// ErrExpired: the token's lifetime is over.
	ErrExpired = errors.New("auth: token expired")
)

const tokenPrefix = "vw1."

// Signer mints and checks tokens with an HMAC-SHA256 key.
type Signer struct {
	key     []byte
	now     func() time.Time
	revoked *Revocations
}

// CheckRevocations makes Verify, VerifyUse and VerifySignInLink refuse
// revoked tokens.
func (s *Signer) CheckRevocations(r *Revocations) { s.revoked = r }

// NewSigner returns a Signer; key must be at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("auth: signing key shorter than 32 bytes")
	}
	return &Signer{key: key, now: time.Now}, nil
}

// Mint signs a token for subject in role, valid for ttl.
func (s *Signer) Mint(subject string, role Role, ttl time.Duration) (string, Claims) {
	return s.mint(subject, role, ttl, "")
}

// MintSignInLink signs a one-time sign-in code for subject in role, valid
// for ttl. It is refused as a bearer token.
func (s *Signer) MintSignInLink(subject string, role Role, ttl time.Duration) (string, Claims) {
	return s.mint(subject, role, ttl, UseSignIn)
}

// MintUse signs a token good only for use (e.g. "visit:ID", a join link),
// refused as a bearer token.
func (s *Signer) MintUse(subject string, role Role, ttl time.Duration, use string) (string, Claims) {
	return s.mint(subject, role, ttl, use)
}

// VerifyUse checks a token minted for use.
func (s *Signer) VerifyUse(code, use string) (Claims, error) {
	c, err := s.verify(code)
	if err == nil && (use == "" || c.Use != use) {
		return Claims{}, ErrWrongUse
	}
	return c, err
}

// UseSignIn marks a sign-in link's claims.
const UseSignIn = "signin"

// UseSetPassword marks the claims of a browser session opened with a
// credential an admin issued for the person: good for nothing but setting
// the person's own password.
const UseSetPassword = "set-password"

// ErrWrongUse: a token used for what it was not minted for (a sign-in link
// or a visit's join link as a bearer token, a bearer token as a link, a
// link of one use for another).
var ErrWrongUse = errors.New("auth: token not valid for this use")

func (s *Signer) mint(subject string, role Role, ttl time.Duration, use string) (string, Claims) {
	now := s.now()
	id := make([]byte, 9)
	rand.Read(id)
	c := Claims{Subject: subject, Role: role, IssuedAt: now.Unix(), Expires: now.Add(ttl).Unix(),
		ID: base64.RawURLEncoding.EncodeToString(id), Use: use}
	body, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return tokenPrefix + payload + "." + s.sign(payload), c
}

func (s *Signer) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a bearer token's signature and expiry and returns its
// claims. Sign-in links are refused.
func (s *Signer) Verify(token string) (Claims, error) {
	c, err := s.verify(token)
	if err == nil && c.Use != "" {
		return Claims{}, ErrWrongUse
	}
	return c, err
}

// VerifySignInLink checks a one-time sign-in code. That it is used once is
// the caller's to enforce (Sessions.Redeem).
func (s *Signer) VerifySignInLink(code string) (Claims, error) {
	c, err := s.verify(code)
	if err == nil && c.Use != UseSignIn {
		return Claims{}, ErrWrongUse
	}
	return c, err
}

// Inspect checks a token's form and signature only, and returns its claims
// whatever its use, expiry or revocation (to revoke it, and end what it
// opened, even when it can no longer be used).
func (s *Signer) Inspect(token string) (Claims, error) {
	return s.parse(token)
}

func (s *Signer) verify(token string) (Claims, error) {
	c, err := s.parse(token)
	if err != nil {
		return Claims{}, err
	}
	if s.now().Unix() >= c.Expires {
		return Claims{}, ErrExpired
	}
	if s.revoked != nil && s.revoked.Revoked(c.ID) {
		return Claims{}, ErrRevoked
	}
	return c, nil
}

func (s *Signer) parse(token string) (Claims, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return Claims{}, ErrMalformedToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return Claims{}, ErrMalformedToken
	}
	if !hmac.Equal([]byte(sig), []byte(s.sign(payload))) {
		return Claims{}, ErrBadSignature
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Claims{}, ErrMalformedToken
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return Claims{}, ErrMalformedToken
	}
	if _, err := ParseRole(string(c.Role)); err != nil || c.Subject == "" {
		return Claims{}, ErrMalformedToken
	}
	return c, nil
}

// ErrKeyExposed is returned for a signing key file that group or others
// may read: whoever has read it can mint any token.
var ErrKeyExposed = errors.New("auth: signing key file may be read by group or others")

// LoadOrCreateKey reads a hex signing key from path, creating a random one
// (mode 0600) when the file does not exist. A key file that group or
// others may read is refused (ErrKeyExposed), as ssh refuses such a
// private key: tightening it quietly would hide that it may have leaked.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%w: %q is %v; chmod 600 it, and make a new key (delete the file) if anyone else may have read it",
				ErrKeyExposed, path, fi.Mode().Perm())
		}
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("signing key %q: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	return key, nil
}

type ctxKey struct{}

// FromContext returns the claims of the authenticated caller.
func FromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(Claims)
	return c, ok
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return "", ErrNoToken
	}
	return tok, nil
}

// WithClaims returns a context carrying the caller's claims.
func WithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}
