// Package smart is the FHIR API's SMART Backend Services authorization:
// the registry of systems allowed to read it (each with its public keys,
// the scopes it may be granted and the care teams whose patients it may
// read), the token endpoint's client credentials grant with a signed
// client assertion (private_key_jwt, RS384 or ES384), and the short-lived
// access tokens it issues, stored as their SHA-256 only.
package smart

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/vitalwire/vitalwire/auth"
)

// The client assertion's form (RFC 7523) and the grant.
const (
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	GrantType     = "client_credentials"
	// TokenPrefix starts every access token of the token endpoint.
	TokenPrefix = "vws."
	// MaxAssertionLife is how far in the future an assertion may expire.
	MaxAssertionLife = 5 * time.Minute
	// maxAssertion bounds an assertion's size before it is parsed.
	maxAssertion = 16 << 10
	// maxJWKS bounds a registered or fetched key set.
	maxJWKS = 64 << 10
	// maxKeys bounds the keys of a set.
	maxKeys = 16
	// jwksCacheFor is how long a fetched key set is used.
	jwksCacheFor = 5 * time.Minute
	// skew is the clock difference allowed on exp, nbf and iat.
	skew = 30 * time.Second
)

// Algorithms are the signing algorithms of a client assertion.
var Algorithms = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// Error is an OAuth 2.0 error answer (RFC 6749 section 5.2).
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func oauthErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Errors of access tokens.
var (
	// ErrBadToken: no live access token of this server.
	ErrBadToken = errors.New("smart: invalid or expired access token")
)

// Client is a registered system.
type Client struct {
	ID   string `json:"client_id"`
	Name string `json:"name"`
	// JWKS is the client's public key set, or JWKSURL where it is
	// published (https only).
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURL string          `json:"jwks_url,omitempty"`
	// Scopes are the scopes it may be granted.
	Scopes []string `json:"scopes"`
	// CareTeams are the care teams whose patients it may read.
	CareTeams []string  `json:"care_teams"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Revoked   bool      `json:"revoked,omitempty"`
}

// Teams answers whether a care team holds a patient (the chart).
type Teams interface {
	TeamHasPatient(team, patient string) bool
}

// TokenURL is the token endpoint's URL that assertions must name, from
// the configuration, else base + "/oauth2/token".
func (s *Server) TokenURL(base string) string {
	if s.cfg.TokenURL != "" {
		return s.cfg.TokenURL
	}
	return base + "/oauth2/token"
}

// Server is the registry and the token endpoint.
type Server struct {
	db    *sql.DB
	cfg   auth.SMARTConfig
	teams Teams
	now   func() time.Time
	// fetch gets a client's jwks_url (https only, bounded).
	fetch *http.Client

	mu      sync.RWMutex
	clients map[string]Client
	keys    map[string]cachedKeys // by jwks_url
}

type cachedKeys struct {
	set jose.JSONWebKeySet
	at  time.Time
}

var _ auth.ClientMembership = (*Server)(nil)

// Open loads the registry.
func Open(ctx context.Context, db *sql.DB, cfg auth.SMARTConfig, teams Teams) (*Server, error) {
	s := &Server{db: db, cfg: cfg, teams: teams, now: time.Now, clients: map[string]Client{}, keys: map[string]cachedKeys{},
		fetch: &http.Client{Timeout: cfg.JWKSFetchTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("jwks_url redirects are not followed")
		}}}
	cs, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		s.clients[c.ID] = c
	}
	return s, nil
}

func (s *Server) load(ctx context.Context) ([]Client, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, jwks, jwks_url, scopes, care_teams, created_at, created_by, revoked_at
		FROM fhir_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("load fhir clients: %w", err)
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		var c Client
		var jwks, scopes, teams string
		var at, revoked int64
		if err := rows.Scan(&c.ID, &c.Name, &jwks, &c.JWKSURL, &scopes, &teams, &at, &c.CreatedBy, &revoked); err != nil {
			return nil, fmt.Errorf("load fhir clients: %w", err)
		}
		if jwks != "" {
			c.JWKS = json.RawMessage(jwks)
		}
		c.Scopes, c.CareTeams = strings.Fields(scopes), strings.Fields(teams)
		c.CreatedAt, c.Revoked = time.Unix(at, 0).UTC(), revoked != 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// ErrInvalidClient: a registration with a bad field (named), or one
// that exists already.
var ErrInvalidClient = errors.New("smart: invalid client registration")

// Validate checks a registration, naming the bad field.
func (c *Client) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidClient, fmt.Sprintf(format, args...))
	}
	if !auth.ValidID(c.ID) {
		return bad("client_id: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit")
	}
	if c.Name = strings.TrimSpace(c.Name); c.Name == "" || len(c.Name) > 200 {
		return bad("name: 1-200 characters")
	}
	switch {
	case len(c.JWKS) > 0 && c.JWKSURL != "":
		return bad("jwks or jwks_url: one, not both")
	case len(c.JWKS) > 0:
		if _, err := parseKeys(c.JWKS); err != nil {
			return bad("jwks: %v", err)
		}
	case c.JWKSURL != "":
		u, err := url.Parse(c.JWKSURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(c.JWKSURL) > 2000 {
			return bad("jwks_url: an https URL")
		}
	default:
		return bad("jwks or jwks_url: required (the client's public keys)")
	}
	if len(c.Scopes) == 0 || len(c.Scopes) > 32 {
		return bad("scopes: 1-32 system/ scopes")
	}
	for _, sc := range c.Scopes {
		p, err := ParseScope(sc)
		if err != nil || p.Context != "system" {
			return bad("scopes: %q is not a system/ scope (e.g. system/Observation.rs)", sc)
		}
	}
	if len(c.CareTeams) == 0 || len(c.CareTeams) > 256 {
		return bad("care_teams: 1-256 care team ids (the patients it may read)")
	}
	for _, t := range c.CareTeams {
		if !auth.ValidID(t) {
			return bad("care_teams: %q is not a care team id", t)
		}
	}
	return nil
}

// parseKeys reads a public key set whose keys can check RS384 or ES384.
func parseKeys(b []byte) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if len(b) > maxJWKS {
		return set, fmt.Errorf("larger than %d bytes", maxJWKS)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return set, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > maxKeys {
		return set, fmt.Errorf("1-%d keys", maxKeys)
	}
	for i, k := range set.Keys {
		if !k.IsPublic() {
			return set, fmt.Errorf("key %d: a private key; register the public key only", i)
		}
		switch pk := k.Key.(type) {
		case *rsa.PublicKey:
			if pk.N.BitLen() < 2048 {
				return set, fmt.Errorf("key %d: RSA keys of 2048 bits or more", i)
			}
		case *ecdsa.PublicKey:
			if pk.Curve != elliptic.P384() {
				return set, fmt.Errorf("key %d: EC keys on P-384 (ES384)", i)
			}
		default:
			return set, fmt.Errorf("key %d: RSA (RS384) or EC P-384 (ES384) keys only", i)
		}
	}
	return set, nil
}

// Add registers a client; by is the admin.
func (s *Server) Add(ctx context.Context, c Client, by string) (Client, error) {
	if err := c.Validate(); err != nil {
		return Client{}, err
	}
	c.CreatedAt, c.CreatedBy = s.now().UTC().Truncate(time.Second), by
	_, err := s.db.ExecContext(ctx, `INSERT INTO fhir_clients (id, name, jwks, jwks_url, scopes, care_teams, created_at, created_by)
		VALUES (?,?,?,?,?,?,?,?)`, c.ID, c.Name, string(c.JWKS), c.JWKSURL, strings.Join(c.Scopes, " "),
		strings.Join(c.CareTeams, " "), c.CreatedAt.Unix(), by)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return Client{}, fmt.Errorf("%w: client_id %s is taken", ErrInvalidClient, c.ID)
		}
		return Client{}, fmt.Errorf("add fhir client: %w", err)
	}
	s.mu.Lock()
	s.clients[c.ID] = c
	s.mu.Unlock()
	return c, nil
}

// List returns the registered clients, revoked ones included.
func (s *Server) List(ctx context.Context) ([]Client, error) {
	cs, err := s.load(ctx)
	if cs == nil {
		cs = []Client{}
	}
	return cs, err
}

// ErrNoClient: no such client.
var ErrNoClient = errors.New("smart: no such client")

// Revoke stops a client at once: its access tokens end and it gets no
// new ones.
func (s *Server) Revoke(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE fhir_clients SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, s.now().Unix(), id)
	if err != nil {
		return fmt.Errorf("revoke fhir client: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoClient
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM fhir_access_tokens WHERE client_id = ?`, id); err != nil {
		return fmt.Errorf("revoke fhir client: %w", err)
	}
	s.mu.Lock()
	c := s.clients[id]
	c.Revoked = true
	s.clients[id] = c
	s.mu.Unlock()
	return nil
}

func (s *Server) client(id string) (Client, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	return c, ok && !c.Revoked
}

// ClientHasPatient reports whether a live client's care teams hold the
// patient.
func (s *Server) ClientHasPatient(client, patient string) bool {
	c, ok := s.client(client)
	if !ok || s.teams == nil {
		return false
	}
	for _, t := range c.CareTeams {
		if s.teams.TeamHasPatient(t, patient) {
			return true
		}
	}
	return false
}

// TokenRequest is the token endpoint's form.
type TokenRequest struct {
	GrantType, AssertionType, Assertion, Scope string
}

// Token is the token endpoint's answer.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Issue answers a token request at tokenURL (the assertion's audience):
// the client authenticated by its signed assertion, the assertion's id
// used once, the scopes granted those asked for that its registration
// allows. The error is an *Error (the OAuth answer) or a failure of the
// database.
func (s *Server) Issue(ctx context.Context, req TokenRequest, tokenURL string) (Token, string, error) {
	switch {
	case req.GrantType != GrantType:
		return Token{}, "", oauthErr("unsupported_grant_type", "grant_type must be client_credentials")
	case req.AssertionType != AssertionType:
		return Token{}, "", oauthErr("invalid_client", "client_assertion_type must be %s", AssertionType)
	case req.Assertion == "" || len(req.Assertion) > maxAssertion:
		return Token{}, "", oauthErr("invalid_client", "client_assertion is required (a signed JWT of at most %d bytes)", maxAssertion)
	case req.Scope == "" || len(req.Scope) > 4096:
		return Token{}, "", oauthErr("invalid_scope", "scope is required (e.g. system/Observation.rs)")
	}
	tok, err := jwt.ParseSigned(req.Assertion, Algorithms)
	if err != nil {
		return Token{}, "", oauthErr("invalid_client", "client_assertion is not a JWT signed with RS384 or ES384")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Token{}, "", oauthErr("invalid_client", "client_assertion claims are unreadable")
	}
	c, ok := s.client(unverified.Issuer)
	if !ok {
		return Token{}, "", oauthErr("invalid_client", "unknown or revoked client")
	}
	keys, err := s.keysOf(ctx, c)
	if err != nil {
		return Token{}, c.ID, oauthErr("invalid_client", "the client's keys could not be read: %v", err)
	}
	var claims jwt.Claims
	if !verify(tok, keys, &claims) {
		return Token{}, c.ID, oauthErr("invalid_client", "client_assertion signature does not match a registered key")
	}
	now := s.now()
	switch {
	case claims.Issuer != c.ID || claims.Subject != c.ID:
		return Token{}, c.ID, oauthErr("invalid_client", "iss and sub must both be the client_id")
	case !slices.Contains([]string(claims.Audience), tokenURL):
		return Token{}, c.ID, oauthErr("invalid_client", "aud must be the token endpoint %s", tokenURL)
	case claims.Expiry == nil:
		return Token{}, c.ID, oauthErr("invalid_client", "exp is required")
	case !claims.Expiry.Time().After(now.Add(-skew)):
		return Token{}, c.ID, oauthErr("invalid_client", "client_assertion has expired")
	case claims.Expiry.Time().After(now.Add(MaxAssertionLife + skew)):
		return Token{}, c.ID, oauthErr("invalid_client", "exp may be at most 5 minutes ahead")
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(skew)):
		return Token{}, c.ID, oauthErr("invalid_client", "client_assertion is not valid yet (nbf)")
	case claims.ID == "" || len(claims.ID) > 256:
		return Token{}, c.ID, oauthErr("invalid_client", "jti is required (at most 256 characters)")
	}
	var requested []Scope
	for _, f := range strings.Fields(req.Scope) {
		if len(requested) >= 32 {
			return Token{}, c.ID, oauthErr("invalid_scope", "at most 32 scopes")
		}
		sc, err := ParseScope(f)
		if err != nil || sc.Context != "system" {
			return Token{}, c.ID, oauthErr("invalid_scope", "%q is not a system/ scope", f)
		}
		requested = append(requested, sc)
	}
	var allowed []Scope
	for _, a := range c.Scopes {
		if sc, err := ParseScope(a); err == nil {
			allowed = append(allowed, sc)
		}
	}
	granted := grant(requested, allowed)
	if len(granted) == 0 {
		return Token{}, c.ID, oauthErr("invalid_scope", "none of the scopes asked for is allowed to this client")
	}
	// The assertion's id is used once: recorded until it would expire.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM fhir_client_assertions WHERE expires_at < ?`, now.Unix()); err != nil {
		return Token{}, c.ID, fmt.Errorf("token: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO fhir_client_assertions (client_id, jti, expires_at) VALUES (?,?,?)
		ON CONFLICT (client_id, jti) DO NOTHING`, c.ID, claims.ID, claims.Expiry.Time().Add(skew).Unix())
	if err != nil {
		return Token{}, c.ID, fmt.Errorf("token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Token{}, c.ID, oauthErr("invalid_client", "client_assertion was used before (jti replayed)")
	}
	b := make([]byte, 32)
	rand.Read(b)
	access := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	exp := now.Add(s.cfg.TokenTTL)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM fhir_access_tokens WHERE expires_at < ?`, now.Unix()); err != nil {
		return Token{}, c.ID, fmt.Errorf("token: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO fhir_access_tokens (hash, client_id, scopes, issued_at, expires_at) VALUES (?,?,?,?,?)`,
		hashToken(access), c.ID, strings.Join(granted, " "), now.Unix(), exp.Unix()); err != nil {
		return Token{}, c.ID, fmt.Errorf("token: %w", err)
	}
	return Token{AccessToken: access, TokenType: "bearer", ExpiresIn: int(s.cfg.TokenTTL / time.Second),
		Scope: strings.Join(granted, " ")}, c.ID, nil
}

// verify checks tok with the key its kid names, else with each key.
func verify(tok *jwt.JSONWebToken, keys jose.JSONWebKeySet, out *jwt.Claims) bool {
	kid := ""
	if len(tok.Headers) == 1 {
		kid = tok.Headers[0].KeyID
	}
	for _, k := range keys.Keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		if tok.Claims(k.Key, out) == nil {
			return true
		}
	}
	return false
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// keysOf returns a client's keys: registered, or fetched from its
// jwks_url (https, bounded, cached a few minutes).
func (s *Server) keysOf(ctx context.Context, c Client) (jose.JSONWebKeySet, error) {
	if c.JWKSURL == "" {
		return parseKeys(c.JWKS)
	}
	s.mu.RLock()
	ck, ok := s.keys[c.JWKSURL]
	s.mu.RUnlock()
	if ok && s.now().Sub(ck.at) < jwksCacheFor {
		return ck.set, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.JWKSURL, nil)
	if err != nil || req.URL.Scheme != "https" {
		return jose.JSONWebKeySet{}, errors.New("jwks_url must be https")
	}
	res, err := s.fetch.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch jwks_url: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch jwks_url: status %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxJWKS+1))
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("fetch jwks_url: %v", err)
	}
	set, err := parseKeys(b)
	if err != nil {
		return set, err
	}
	s.mu.Lock()
	if len(s.keys) >= 1024 {
		clear(s.keys)
	}
	s.keys[c.JWKSURL] = cachedKeys{set: set, at: s.now()}
	s.mu.Unlock()
	return set, nil
}

// Check returns the claims of a live access token: the client as
// subject, RoleSystem, and the granted scopes.
func (s *Server) Check(ctx context.Context, token string) (auth.Claims, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 100 {
		return auth.Claims{}, ErrBadToken
	}
	var client, scopes string
	var iat, exp int64
	err := s.db.QueryRowContext(ctx, `SELECT client_id, scopes, issued_at, expires_at FROM fhir_access_tokens WHERE hash = ?`,
		hashToken(token)).Scan(&client, &scopes, &iat, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Claims{}, ErrBadToken
	}
	if err != nil {
		return auth.Claims{}, fmt.Errorf("check access token: %w", err)
	}
	if s.now().Unix() >= exp {
		return auth.Claims{}, ErrBadToken
	}
	if _, ok := s.client(client); !ok {
		return auth.Claims{}, ErrBadToken
	}
	return auth.Claims{Subject: client, Role: auth.RoleSystem, IssuedAt: iat, Expires: exp, ID: "smart." + hashToken(token)[:16],
		Scopes: strings.Fields(scopes)}, nil
}
