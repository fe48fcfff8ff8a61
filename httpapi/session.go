package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/auth/sso"
)

// sessionAPI signs people in and out of the browser UI, manages their
// passwords and sign-in links, revokes tokens and exports the audit log.
type sessionAPI struct {
	access
	clinic   ClinicConfig
	sessions *auth.Sessions
	revoked  *auth.Revocations
	audit    *auth.AuditLog
	watcher  *auth.Watcher
	baseURL  func() string
	secure   bool
	log      zerolog.Logger
	// sso, when single sign-on is configured, gives the provider's logout
	// URL for a session it opened.
	sso *sso.RP
	// mayRevokeLink decides (and audits) whether c may revoke another's
	// link (a clinician of the visit, its join link).
	mayRevokeLink func(r *http.Request, c, link auth.Claims) (bool, error)
}

// actionLocked is the audit action of the wrong password that locked an
// account.
const actionLocked = "account locked after failed sign-ins"

func (a sessionAPI) signIn(w http.ResponseWriter, r *http.Request) {
	var req SignInRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	var who auth.Claims
	var origin auth.Origin
	var err error
	switch {
	case req.Code != "":
		var link auth.Claims
		if link, err = a.signer.VerifySignInLink(req.Code); err == nil {
			who = auth.Claims{Subject: link.Subject, Role: link.Role}
			origin.Link = link.ID
			err = a.sessions.Redeem(r.Context(), link)
		}
		if err == nil {
			origin.Issued, _, err = a.sessions.IssuedLink(r.Context(), link.ID)
		}
	case req.Username != "":
		if !auth.ValidUsername(req.Username) {
			fail(w, http.StatusBadRequest, auth.ErrBadUsername.Error())
			return
		}
		who.Subject = req.Username
		var u auth.User
		if u, err = a.sessions.Login(r.Context(), req.Username, req.Password); err == nil {
			who = auth.Claims{Subject: u.Subject, Role: u.Role}
			origin.Issued, _, err = a.sessions.IssuedPasswordOf(r.Context(), req.Username)
		}
	default:
		fail(w, http.StatusBadRequest, "a sign-in code, or a username and password, is required")
		return
	}
	const action = "POST /api/v1/session"
	if errors.Is(err, auth.ErrBusy) {
		busy(w) // nothing was checked
		return
	}
	if err != nil {
		if !a.refused(w, r, who, "", action) {
			return
		}
		if errors.Is(err, auth.ErrAccountLocked) && !a.refused(w, r, who, "", actionLocked) {
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
		// The source address for fail2ban-style tooling; never what was
		// typed (people type passwords into the username field too).
		a.log.Warn().Str("remote_ip", clientAddr(r)).Str("reason", msg).Msg("sign-in refused")
		fail(w, http.StatusUnauthorized, msg)
		return
	}
	who.IssuedBy = origin.Issued.IssuedBy
	if aerr := a.gate.Allowed(r.Context(), who, "", request(r, action)); aerr != nil {
		a.auditFailed(w, aerr)
		return
	}
	if origin.Issued.ID != 0 {
		if err := a.sessions.UsedIssued(r.Context(), origin.Issued.ID, clientAddr(r)); err != nil {
			a.log.Error().Err(err).Msg("record use of an issued credential")
		}
	}
	a.startSession(w, r, who, origin)
}

// startSession creates a browser session for who and sets its cookie.
func (a sessionAPI) startSession(w http.ResponseWriter, r *http.Request, who auth.Claims, origin auth.Origin) {
	cookie, c, err := a.sessions.CreateFrom(r.Context(), who.Subject, who.Role, origin)
	if err != nil {
		a.log.Error().Err(err).Msg("session create failed")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	a.setCookie(w, cookie, 0)
	writeJSON(w, http.StatusOK, a.info(c))
}

// setCookie sets (maxAge 0: for the browser session) or clears (maxAge
// -1) the session cookie.
func (a sessionAPI) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: a.secure, SameSite: http.SameSiteStrictMode})
}

func (a sessionAPI) info(c auth.Claims) SessionInfo {
	return SessionInfo{Subject: c.Subject, Role: c.Role, IdleSeconds: int(a.sessions.Idle() / time.Second),
		Expires: time.Unix(c.Expires, 0).UTC(), MustSetPassword: c.Use == auth.UseSetPassword, TimeZone: a.clinic.zoneName()}
}

func (a sessionAPI) whoAmI(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, a.info(c))
}

// signOut ends the browser session, closes its sockets and audits it.
// A session opened by single sign-on answers the provider's logout URL
// (RP-initiated logout) when the provider has one, for the page to go to.
func (a sessionAPI) signOut(w http.ResponseWriter, r *http.Request) {
	a.setCookie(w, "", -1)
	ck, err := r.Cookie(sessionCookie)
	if err != nil || !sameOrigin(r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	c, cerr := a.sessions.Check(r.Context(), ck.Value, false)
	jti, via, err := a.sessions.EndVia(r.Context(), ck.Value)
	if err != nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.watcher.End(jti, "signed out")
	if cerr == nil {
		if err := a.gate.Allowed(r.Context(), c, "", request(r, "DELETE /api/v1/session")); err != nil {
			a.log.Error().Err(err).Msg("audit of a sign-out failed")
		}
	}
	if via == "oidc" && a.sso != nil {
		if u := a.sso.LogoutURL(); u != "" {
			writeJSON(w, http.StatusOK, SignOut{LogoutURL: u})
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// SignOut is the answer to a sign-out of a single sign-on session: the
// provider's logout page, for the browser to go to.
type SignOut struct {
	LogoutURL string `json:"logout_url"`
}

// activity keeps a session alive while its user works on one page.
func (sessionAPI) activity(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (a sessionAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := a.sessions.Users(r.Context())
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, us)
}

func (a sessionAPI) setUser(w http.ResponseWriter, r *http.Request) {
	var req UserRequest
	if !decodeBody(w, r, &req) {
		return
	}
	// A password set for someone else is recorded as issued, and must be
	// replaced by its owner at first use.
	by, _ := auth.FromContext(r.Context())
	if err := a.sessions.SetPasswordBy(r.Context(), by, req.Username, req.Subject, req.Role, req.Password); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if !a.allowed(w, r, "", "POST /api/v1/users") {
		return
	}
	a.log.Info().Str("username", req.Username).Str("role", string(req.Role)).Msg("user password set")
	w.WriteHeader(http.StatusNoContent)
}

func (a sessionAPI) disableUser(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Disable(r.Context(), r.PathValue("username")); err != nil {
		fail(w, http.StatusNotFound, "no such user")
		return
	}
	if !a.allowed(w, r, "", "POST /api/v1/users/{username}/disable") {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// NewSignInLink mints a one-time sign-in link to the UI at base for
// subject in role.
func NewSignInLink(signer *auth.Signer, base, subject string, role auth.Role, ttl time.Duration) SignInLink {
	l, _ := mintSignInLink(signer, base, subject, role, ttl)
	return l
}

func mintSignInLink(signer *auth.Signer, base, subject string, role auth.Role, ttl time.Duration) (SignInLink, auth.Claims) {
	code, c := signer.MintSignInLink(subject, role, ttl)
	return SignInLink{URL: base + "/#/signin?code=" + url.QueryEscape(code), Expires: time.Unix(c.Expires, 0).UTC()}, c
}

func (a sessionAPI) newSignInLink(w http.ResponseWriter, r *http.Request) {
	var req SignInLinkRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if _, err := auth.ParseRole(string(req.Role)); err != nil || !auth.ValidID(req.Subject) {
		fail(w, http.StatusBadRequest, "subject (an id: "+idForm("id")+") and role (admin, clinician, patient) are required")
		return
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl <= 0 || ttl > 24*time.Hour {
		ttl = 15 * time.Minute
	}
	if !a.allowed(w, r, "", "POST /api/v1/signin-links") {
		return
	}
	by, _ := auth.FromContext(r.Context())
	link, c := mintSignInLink(a.signer, a.baseURL(), req.Subject, req.Role, ttl)
	// Recorded before it is handed out: a link for someone else is never
	// unaccounted for.
	if err := a.sessions.IssueLink(r.Context(), by, c); err != nil {
		a.log.Error().Err(err).Msg("record issued sign-in link")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusCreated, link)
}

// revokeToken revokes a token, a sign-in link or a join link: an admin
// any, anyone else their own, and a clinician of a visit's care team the
// visit's join links. A revoked token is refused at once on every route
// and socket, and the sessions a revoked link minted end with it.
func (a sessionAPI) revokeToken(w http.ResponseWriter, r *http.Request) {
	var req RevokeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	c, _ := auth.FromContext(r.Context())
	// Expired or revoked, it is revoked again: what it opened ends.
	target, err := a.signer.Inspect(req.Token)
	if err != nil {
		fail(w, http.StatusBadRequest, "token: not a valid token of this server")
		return
	}
	allowed := c.Role == auth.RoleAdmin || target.Subject == c.Subject
	if !allowed && a.mayRevokeLink != nil && target.Use != "" {
		if allowed, err = a.mayRevokeLink(r, c, target); err != nil {
			a.auditFailed(w, err)
			return
		}
	}
	if !allowed {
		fail(w, http.StatusForbidden, "only an admin revokes another's token")
		return
	}
	if err := a.revoked.Revoke(r.Context(), target); err != nil {
		failErr(w, err)
		return
	}
	a.log.Info().Str("jti", target.ID).Str("subject", target.Subject).Str("use", target.Use).Msg("token revoked")
	w.WriteHeader(http.StatusNoContent)
}

func (a sessionAPI) exportAudit(w http.ResponseWriter, r *http.Request) {
	q := auth.Query{Patient: r.URL.Query().Get("patient")}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if s := r.URL.Query().Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				fail(w, http.StatusBadRequest, name+": an RFC 3339 time")
				return
			}
			*dst = t
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if _, err := a.audit.Export(r.Context(), q, w); err != nil {
		a.log.Error().Err(err).Msg("audit export failed")
	}
}
