package httpapi

import (
	"errors"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/auth/sso"
	"github.com/vitalwire/vitalwire/chart"
)

// Single sign-on (OpenID Connect). GET /auth/oidc/login sends the browser
// to the provider with a fresh state, nonce and PKCE challenge, and keeps
// a binding value in a short-lived cookie (SameSite=Lax, so that the
// provider's redirect back carries it; the session cookie is Strict); the
// provider redirects back to GET /auth/oidc/callback, which checks the
// state against the browser's binding, exchanges the code, verifies the
// ID token, maps its claims to a person (deny by default), audits the
// answer, and only then starts an ordinary session.

const (
	ssoCookie = "vw_oidc"
	// actionSSO is the audit action of a single sign-on.
	actionSSO = "GET /auth/oidc/callback"
	// maxCallbackParam bounds the state and code read from the callback.
	maxCallbackParam = 2048
)

type ssoAPI struct {
	access
	rp       *sso.RP
	sessions *auth.Sessions
	chart    *chart.Chart
	secure   bool
	log      zerolog.Logger
}

// SSOInfo tells the sign-in page about single sign-on.
type SSOInfo struct {
	Name     string `json:"name"`
	LoginURL string `json:"login_url"`
}

// info answers 204 when single sign-on is not configured (the sign-in
// page asks on every load: not an error).
func (a ssoAPI) info(w http.ResponseWriter, _ *http.Request) {
	if a.rp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, SSOInfo{Name: a.rp.Name(), LoginURL: "/auth/oidc/login"})
}

func (a ssoAPI) bindingCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: value, Path: "/auth/oidc/", MaxAge: maxAge, HttpOnly: true,
		Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

func (a ssoAPI) login(w http.ResponseWriter, r *http.Request) {
	if a.rp == nil {
		fail(w, http.StatusNotFound, "single sign-on is not configured")
		return
	}
	to, binding, err := a.rp.Begin(r.Context())
	if err != nil {
		a.log.Warn().Err(err).Msg("single sign-on could not begin")
		status := http.StatusBadGateway
		if errors.Is(err, sso.ErrBusy) {
			status = http.StatusServiceUnavailable
		}
		fail(w, status, "the identity provider cannot be reached; try again, or sign in with a password")
		return
	}
	a.bindingCookie(w, binding, 600)
	http.Redirect(w, r, to, http.StatusFound)
}

// ssoRefusal is what the sign-in page is told of a refused sign-in (the
// reason is in the audit log and the server's log, not in the URL).
func ssoRefusal(err error) string {
	switch {
	case errors.Is(err, sso.ErrNotMapped):
		return "not-allowed"
	case errors.Is(err, sso.ErrProvider):
		return "provider"
	}
	return "failed"
}

func (a ssoAPI) callback(w http.ResponseWriter, r *http.Request) {
	if a.rp == nil {
		fail(w, http.StatusNotFound, "single sign-on is not configured")
		return
	}
	a.bindingCookie(w, "", -1) // one use, whatever happens
	q := r.URL.Query()
	state, code := q.Get("state"), q.Get("code")
	var err error
	var claims sso.Claims
	var scopes []string
	var id sso.Identity
	switch {
	case q.Get("error") != "":
		err = sso.ErrProvider // the provider refused (the person cancelled, or is not allowed)
	case state == "" || code == "" || len(state) > maxCallbackParam || len(code) > maxCallbackParam:
		err = sso.ErrUnknownState
	default:
		binding := ""
		if ck, cerr := r.Cookie(ssoCookie); cerr == nil {
			binding = ck.Value
		}
		if claims, scopes, err = a.rp.Finish(r.Context(), state, code, binding); err == nil {
			id, err = a.rp.Map(r.Context(), claims, a.sessions.User)
		}
	}
	if err != nil {
		// The refused person, when the provider vouched for them.
		who := auth.Claims{}
		if sub, _ := claims["sub"].(string); auth.ValidID(sub) {
			who.Subject = sub
		}
		if !a.refused(w, r, who, "", actionSSO) {
			return
		}
		a.log.Warn().Str("remote_ip", clientAddr(r)).Str("reason", err.Error()).Msg("single sign-on refused")
		http.Redirect(w, r, "/#/signin?sso_error="+ssoRefusal(err), http.StatusSeeOther)
		return
	}
	if id.HasTeams {
		if _, err := a.chart.SetClinicianTeams(r.Context(), id.Subject, id.Teams); err != nil {
			a.log.Error().Err(err).Msg("single sign-on: care teams not updated")
			fail(w, http.StatusInternalServerError, "internal error")
			return
		}
	}
	who := auth.Claims{Subject: id.Subject, Role: id.Role}
	if err := a.gate.Allowed(r.Context(), who, "", request(r, actionSSO)); err != nil {
		a.auditFailed(w, err)
		return
	}
	cookie, _, err := a.sessions.CreateFrom(r.Context(), id.Subject, id.Role, auth.Origin{Via: "oidc", Scopes: scopes})
	if err != nil {
		a.log.Error().Err(err).Msg("session create failed")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true,
		Secure: a.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/#/", http.StatusSeeOther)
}
