// Package sso signs people in through the hospital's OpenID Connect
// provider: the authorization code flow with PKCE (S256), state and
// nonce, the provider found by discovery, the ID token checked (signature
// from the provider's JWKS, iss, aud, exp, nonce), and its claims mapped
// to a Vitalwire person (id, role, care teams), deny by default.
//
// The sessions it leads to are the ordinary browser sessions of auth.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/vitalwire/vitalwire/auth"
)

// Errors of a sign-in. Each is refused and audited by the caller.
var (
	// ErrUnknownState: the callback's state names no sign-in begun here
	// (or it expired, or was used before).
	ErrUnknownState = errors.New("sso: unknown or expired sign-in state")
	// ErrWrongBrowser: the callback came to another browser than the one
	// that began the sign-in (login CSRF).
	ErrWrongBrowser = errors.New("sso: the sign-in was begun in another browser")
	// ErrProvider: the provider could not be reached, or refused the code.
	ErrProvider = errors.New("sso: the identity provider did not complete the sign-in")
	// ErrIDToken: the ID token failed a check (signature, issuer,
	// audience, expiry, nonce).
	ErrIDToken = errors.New("sso: the ID token was refused")
	// ErrNotMapped: the person's claims map to no Vitalwire role (deny by
	// default).
	ErrNotMapped = errors.New("sso: this account is not allowed to use Vitalwire")
	// ErrBusy: too many sign-ins are under way.
	ErrBusy = errors.New("sso: too many sign-ins under way; try again shortly")
)

const (
	// pendingTTL is how long a begun sign-in waits for its callback.
	pendingTTL = 10 * time.Minute
	// maxPending bounds the sign-ins begun and not finished.
	maxPending = 10_000
	// maxBody bounds every answer read from the provider.
	maxBody = 1 << 20
	// rediscoverAfter spaces discovery attempts after a failure.
	rediscoverAfter = 10 * time.Second
)

// RP is the relying party: Vitalwire as the provider's client.
type RP struct {
	cfg      auth.OIDCConfig
	secret   string
	redirect func() string
	client   *http.Client
	now      func() time.Time

	mu        sync.Mutex
	provider  *oidc.Provider
	endpoint  string // end_session_endpoint, if advertised
	triedAt   time.Time
	lastError error
	pending   map[string]pending // by state
}

type pending struct {
	verifier, nonce string
	binding         [32]byte
	expires         time.Time
}

// New returns the relying party of cfg; redirect is the callback URL
// (cfg.RedirectURL, else derived from the server's URL at each use). The
// provider is discovered at the first sign-in, so that a provider down at
// start stops nothing but single sign-on.
func New(cfg auth.OIDCConfig, redirect func() string) (*RP, error) {
	secret, err := cfg.Secret()
	if err != nil {
		return nil, err
	}
	if cfg.RedirectURL != "" {
		u := cfg.RedirectURL
		redirect = func() string { return u }
	}
	return &RP{cfg: cfg, secret: secret, redirect: redirect, now: time.Now, pending: map[string]pending{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: limitedTransport{http.DefaultTransport}}}, nil
}

// Name is the provider's name for the sign-in button.
func (r *RP) Name() string {
	if r.cfg.Name != "" {
		return r.cfg.Name
	}
	return "single sign-on"
}

// limitedTransport bounds every answer body read from the provider.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err == nil {
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(res.Body, maxBody), res.Body}
	}
	return res, err
}

func (r *RP) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, r.client) }

// discover returns the provider, discovering it once it answers.
func (r *RP) discover(ctx context.Context) (*oidc.Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.provider != nil {
		return r.provider, nil
	}
	if !r.triedAt.IsZero() && r.now().Sub(r.triedAt) < rediscoverAfter {
		return nil, r.lastError
	}
	r.triedAt = r.now()
	p, err := oidc.NewProvider(r.ctx(ctx), r.cfg.Issuer)
	if err != nil {
		r.lastError = fmt.Errorf("%w: discovery of %s: %v", ErrProvider, r.cfg.Issuer, err)
		return nil, r.lastError
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&extra); err == nil {
		r.endpoint = extra.EndSession
	}
	r.provider = p
	return p, nil
}

// oauthScopes are the scopes asked for: openid and the configured ones
// (default profile, email).
func (r *RP) oauthScopes() []string {
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range r.cfg.Scopes {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	if len(r.cfg.Scopes) == 0 {
		scopes = append(scopes, "profile", "email")
	}
	return scopes
}

func (r *RP) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: r.cfg.ClientID, ClientSecret: r.secret, Endpoint: p.Endpoint(),
		RedirectURL: r.redirect(), Scopes: r.oauthScopes()}
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Begin starts a sign-in: the URL to send the browser to, and a binding
// value to keep in the browser (a cookie) that the callback must show.
func (r *RP) Begin(ctx context.Context) (authURL, binding string, err error) {
	p, err := r.discover(ctx)
	if err != nil {
		return "", "", err
	}
	state, nonce, verifier, binding := random(), random(), oauth2.GenerateVerifier(), random()
	now := r.now()
	r.mu.Lock()
	if len(r.pending) >= maxPending {
		for s, pd := range r.pending {
			if now.After(pd.expires) {
				delete(r.pending, s)
			}
		}
	}
	if len(r.pending) >= maxPending {
		r.mu.Unlock()
		return "", "", ErrBusy
	}
	r.pending[state] = pending{verifier: verifier, nonce: nonce, binding: sha256.Sum256([]byte(binding)), expires: now.Add(pendingTTL)}
	r.mu.Unlock()
	return r.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), binding, nil
}

// take removes and returns the sign-in begun with state.
func (r *RP) take(state, binding string) (pending, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pd, ok := r.pending[state]
	if !ok || r.now().After(pd.expires) {
		delete(r.pending, state)
		return pending{}, ErrUnknownState
	}
	h := sha256.Sum256([]byte(binding))
	if subtle.ConstantTimeCompare(h[:], pd.binding[:]) != 1 {
		return pending{}, ErrWrongBrowser // kept: the right browser may still come
	}
	delete(r.pending, state)
	return pd, nil
}

// Claims are an ID token's verified claims.
type Claims map[string]any

// UserScopes reports whether Vitalwire asks the provider for SMART user/
// scopes: then a session's FHIR reads are narrowed to those granted.
func (r *RP) UserScopes() bool {
	for _, s := range r.cfg.Scopes {
		if strings.HasPrefix(s, "user/") {
			return true
		}
	}
	return false
}

// Finish completes a sign-in at the callback: the state and the browser's
// binding must match a sign-in begun here; the code is exchanged with the
// PKCE verifier; the ID token is verified. It returns the token's claims,
// and, when user/ scopes were asked for, the scopes granted (the token
// answer's scope, else those asked for, as RFC 6749 says).
func (r *RP) Finish(ctx context.Context, state, code, binding string) (Claims, []string, error) {
	c, tok, err := r.finish(ctx, state, code, binding)
	if err != nil || !r.UserScopes() {
		return c, nil, err
	}
	granted := r.oauthScopes()
	if s, _ := tok.Extra("scope").(string); s != "" {
		granted = strings.Fields(s)
	}
	if len(granted) > 64 {
		granted = granted[:64]
	}
	if !slices.Contains(granted, oidc.ScopeOpenID) {
		granted = append(granted, oidc.ScopeOpenID) // never empty: the session is narrowed
	}
	return c, granted, nil
}

func (r *RP) finish(ctx context.Context, state, code, binding string) (Claims, *oauth2.Token, error) {
	pd, err := r.take(state, binding)
	if err != nil {
		return nil, nil, err
	}
	p, err := r.discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	tok, err := r.oauth(p).Exchange(r.ctx(ctx), code, oauth2.VerifierOption(pd.verifier))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: code exchange: %v", ErrProvider, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, fmt.Errorf("%w: no id_token in the token answer", ErrIDToken)
	}
	c, err := r.Verify(ctx, raw, pd.nonce)
	return c, tok, err
}

// Verify checks an ID token (signature with the provider's keys, iss,
// aud, exp, and the nonce) and returns its claims.
func (r *RP) Verify(ctx context.Context, raw, nonce string) (Claims, error) {
	p, err := r.discover(ctx)
	if err != nil {
		return nil, err
	}
	idt, err := p.VerifierContext(r.ctx(ctx), &oidc.Config{ClientID: r.cfg.ClientID, Now: r.now}).Verify(r.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIDToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w: nonce does not match the sign-in", ErrIDToken)
	}
	var c Claims
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrIDToken, err)
	}
	return c, nil
}

// Identity is who a person is in Vitalwire.
type Identity struct {
	Subject string
	Role    auth.Role
	// Teams are the care teams of the care-team claim; HasTeams tells an
	// empty list from a claim not configured.
	Teams    []string
	HasTeams bool
}

// Users finds a Vitalwire user by username.
type Users func(ctx context.Context, username string) (auth.User, bool)

// Map maps verified claims to a person: a role from the roles claim (id
// from the subject claim), else an existing enabled user named by the
// username claim; else ErrNotMapped. Only clinicians and admins sign in
// this way.
func (r *RP) Map(ctx context.Context, c Claims, users Users) (Identity, error) {
	var id Identity
	if r.cfg.RolesClaim != "" {
		vals := claimStrings(c[r.cfg.RolesClaim])
		switch {
		case anyIn(vals, r.cfg.AdminRoles):
			id.Role = auth.RoleAdmin
		case anyIn(vals, r.cfg.ClinicianRoles):
			id.Role = auth.RoleClinician
		}
		if id.Role != "" {
			claim := r.cfg.SubjectClaim
			if claim == "" {
				claim = "sub"
			}
			id.Subject, _ = c[claim].(string)
			if !auth.ValidID(id.Subject) {
				return Identity{}, fmt.Errorf("%w: the %s claim is not a usable id (1-64 of A-Z a-z 0-9 . _ -)", ErrNotMapped, claim)
			}
		}
	}
	if id.Role == "" && r.cfg.UsernameClaim != "" && users != nil {
		name, _ := c[r.cfg.UsernameClaim].(string)
		if u, ok := users(ctx, name); ok && auth.ValidUsername(name) && !u.Disabled &&
			(u.Role == auth.RoleAdmin || u.Role == auth.RoleClinician) {
			id.Subject, id.Role = u.Subject, u.Role
		}
	}
	if id.Role == "" {
		return Identity{}, ErrNotMapped
	}
	if r.cfg.CareTeamsClaim != "" && id.Role == auth.RoleClinician {
		id.HasTeams = true
		for _, t := range claimStrings(c[r.cfg.CareTeamsClaim]) {
			if auth.ValidID(t) && len(id.Teams) < 256 {
				id.Teams = append(id.Teams, t)
			}
		}
	}
	return id, nil
}

// claimStrings reads a claim that is a string or a list of strings.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func anyIn(vals, want []string) bool {
	for _, v := range vals {
		if slices.Contains(want, v) {
			return true
		}
	}
	return false
}

// LogoutURL is the provider's RP-initiated logout URL, returning to this
// server's root as the provider knows it (the redirect URL's, so that it
// is the public one behind a proxy), or "" when the provider advertises
// no end_session_endpoint.
func (r *RP) LogoutURL() string {
	back := strings.TrimSuffix(r.redirect(), "/auth/oidc/callback") + "/"
	r.mu.Lock()
	ep := r.endpoint
	r.mu.Unlock()
	if ep == "" {
		return ""
	}
	u, err := url.Parse(ep)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", r.cfg.ClientID)
	q.Set("post_logout_redirect_uri", back)
	u.RawQuery = q.Encode()
	return u.String()
}
