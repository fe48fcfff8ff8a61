package app

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/vitalwire/vitalwire/auth"
)

// Browser sign-in. API clients send a bearer token; the browser UI holds a
// session cookie instead (HttpOnly, SameSite=Strict, Secure under TLS), got
// by redeeming a one-time sign-in link or by a username and password. A
// request counts as activity unless it says it is a background refresh
// (X-Vitalwire-Background: 1); after auth.session_idle without activity the
// session ends (automatic log-off). A state-changing request on a cookie
// must come from a page of this server (Sec-Fetch-Site or Origin).

const (
	sessionCookie    = "vw_session"
	backgroundHeader = "X-Vitalwire-Background"
)

// authenticate finds the caller: a bearer token, else the session cookie.
// cookie reports which.
func (a *App) authenticate(r *http.Request) (c auth.Claims, cookie bool, err error) {
	if tok, err := auth.BearerToken(r); err == nil {
		c, err := a.Signer.Verify(tok)
		return c, false, err
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return auth.Claims{}, false, auth.ErrNoToken
	}
	if !sameOrigin(r) { // before the session counts it as activity
		return auth.Claims{}, true, errCrossSite
	}
	c, err = a.Sessions.Check(r.Context(), ck.Value, r.Header.Get(backgroundHeader) == "")
	if err != nil {
		return auth.Claims{}, true, err
	}
	return c, true, nil
}

var errCrossSite = errors.New("cross-site request refused")

// sameOrigin reports whether a cookie-carrying request may act: safe
// methods always; others only from this server's own pages. A WebSocket
// upgrade is a GET but is checked like a change.
func sameOrigin(r *http.Request) bool {
	upgrade := r.Header.Get("Upgrade") != ""
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !upgrade {
		return true
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return !upgrade
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// allow lets only an authenticated caller of one of roles reach h: 401
// without valid credentials, 403 for another role.
func (a *App) allow(roles []auth.Role, h http.Handler) http.Handler {
	if len(roles) == 0 {
		panic("app: a route must name at least one role")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := a.authenticate(r)
		if errors.Is(err, errCrossSite) {
			fail(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vitalwire"`)
			fail(w, http.StatusUnauthorized, "sign in, or send a valid bearer token")
			return
		}
		if !slices.Contains(roles, c.Role) {
			fail(w, http.StatusForbidden, "forbidden for role "+string(c.Role))
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), c)))
	})
}

// SignInRequest is the body of POST /api/v1/session: a one-time link's
// code, or a username and password.
type SignInRequest struct {
	Code     string `json:"code,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// SessionInfo describes the signed-in caller.
type SessionInfo struct {
	Subject     string    `json:"subject"`
	Role        auth.Role `json:"role"`
	IdleSeconds int       `json:"idle_seconds"`
	Expires     time.Time `json:"expires"`
}

func (a *App) signIn(w http.ResponseWriter, r *http.Request) {
	var req SignInRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	ev := auth.Event{Actor: "anonymous", Action: "POST /api/v1/session", Resource: r.URL.Path, Source: clientAddr(r), Outcome: auth.Refused}
	var subject string
	var role auth.Role
	var err error
	switch {
	case req.Code != "":
		var link auth.Claims
		if link, err = a.Signer.VerifySignInLink(req.Code); err == nil {
			ev.Actor, ev.Role = link.Subject, string(link.Role)
			err = a.Sessions.Redeem(r.Context(), link)
		}
		subject, role = link.Subject, link.Role
	case req.Username != "":
		var u auth.User
		ev.Actor = req.Username
		if u, err = a.Sessions.Login(r.Context(), req.Username, req.Password); err == nil {
			ev.Actor, ev.Role = u.Subject, string(u.Role)
		}
		subject, role = u.Subject, u.Role
	default:
		fail(w, http.StatusBadRequest, "a sign-in code, or a username and password, is required")
		return
	}
	if err != nil {
		if !a.audited(w, r, ev) {
			return
		}
		msg := "the sign-in link is invalid or has expired"
		switch {
		case errors.Is(err, auth.ErrLinkUsed):
			msg = "the sign-in link was used before; ask for a new one"
		case errors.Is(err, auth.ErrLockedOut):
			msg = err.Error()
		case req.Username != "":
			msg = "wrong username or password"
		}
		fail(w, http.StatusUnauthorized, msg)
		return
	}
	ev.Outcome = auth.Allowed
	if !a.audited(w, r, ev) {
		return
	}
	cookie, c, err := a.Sessions.Create(r.Context(), subject, role)
	if err != nil {
		a.log.Error().Err(err).Msg("session create failed")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	a.setSessionCookie(w, cookie, 0)
	writeJSON(w, http.StatusOK, a.sessionInfo(c))
}

// setSessionCookie sets (maxAge 0: for the browser session) or clears
// (maxAge -1) the session cookie.
func (a *App) setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: a.scheme == "https", SameSite: http.SameSiteStrictMode})
}

func (a *App) sessionInfo(c auth.Claims) SessionInfo {
	return SessionInfo{Subject: c.Subject, Role: c.Role, IdleSeconds: int(a.Sessions.Idle() / time.Second),
		Expires: time.Unix(c.Expires, 0).UTC()}
}

func (a *App) whoAmI(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, a.sessionInfo(c))
}

// signOut ends the browser session and closes its live sockets.
func (a *App) signOut(w http.ResponseWriter, r *http.Request) {
	a.setSessionCookie(w, "", -1)
	ck, err := r.Cookie(sessionCookie)
	if err != nil || !sameOrigin(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if jti, err := a.Sessions.End(r.Context(), ck.Value); err == nil {
		a.ws.revoked(jti)
	}
	w.WriteHeader(http.StatusNoContent)
}

// activity keeps a session alive while its user works on one page.
func (a *App) activity(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

// UserRequest is the body of POST /api/v1/users.
type UserRequest struct {
	Username string    `json:"username"`
	Subject  string    `json:"subject"`
	Role     auth.Role `json:"role"`
	Password string    `json:"password"`
}

func (a *App) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.Sessions.Users(r.Context())
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, us)
}

func (a *App) setUser(w http.ResponseWriter, r *http.Request) {
	var req UserRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := a.Sessions.SetPassword(r.Context(), req.Username, req.Subject, req.Role, req.Password); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if !a.auditChange(w, r, "POST /api/v1/users", "", auth.Allowed) {
		return
	}
	a.log.Info().Str("username", req.Username).Str("role", string(req.Role)).Msg("user password set")
	w.WriteHeader(http.StatusNoContent)
}

func (a *App) disableUser(w http.ResponseWriter, r *http.Request) {
	if err := a.Sessions.Disable(r.Context(), r.PathValue("username")); err != nil {
		fail(w, http.StatusNotFound, "no such user")
		return
	}
	if !a.auditChange(w, r, "POST /api/v1/users/{username}/disable", "", auth.Allowed) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SignInLinkRequest is the body of POST /api/v1/signin-links.
type SignInLinkRequest struct {
	Subject    string    `json:"subject"`
	Role       auth.Role `json:"role"`
	TTLSeconds int       `json:"ttl_seconds,omitempty"` // default 15 minutes, at most a day
}

// SignInLink is a one-time link to the browser UI.
type SignInLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// SignInURL mints a one-time sign-in link for subject in role.
func (a *App) SignInURL(subject string, role auth.Role, ttl time.Duration) SignInLink {
	code, c := a.Signer.MintSignInLink(subject, role, ttl)
	return SignInLink{URL: a.URL() + "/#/signin?code=" + url.QueryEscape(code), Expires: time.Unix(c.Expires, 0).UTC()}
}

func (a *App) newSignInLink(w http.ResponseWriter, r *http.Request) {
	var req SignInLinkRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if _, err := auth.ParseRole(string(req.Role)); err != nil || req.Subject == "" {
		fail(w, http.StatusBadRequest, "subject and role (admin, clinician, patient) are required")
		return
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl <= 0 || ttl > 24*time.Hour {
		ttl = 15 * time.Minute
	}
	if !a.auditChange(w, r, "POST /api/v1/signin-links", "", auth.Allowed) {
		return
	}
	writeJSON(w, http.StatusCreated, a.SignInURL(req.Subject, req.Role, ttl))
}
