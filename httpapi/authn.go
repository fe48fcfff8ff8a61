package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/auth/smart"
)

// API clients send a bearer token; the browser UI holds a session cookie
// instead (HttpOnly, SameSite=Strict, Secure under TLS), got by redeeming
// a one-time sign-in link or by a username and password. A request counts
// as activity unless it says it is a background refresh
// (X-Vitalwire-Background: 1); after auth.session_idle without activity the
// session ends (automatic log-off). A state-changing request on a cookie
// must come from a page of this server (Sec-Fetch-Site or Origin).

const (
	sessionCookie    = "vw_session"
	backgroundHeader = "X-Vitalwire-Background"
)

var errCrossSite = errors.New("cross-site request refused")

// authn finds out who is calling.
type authn struct {
	signer   *auth.Signer
	sessions *auth.Sessions
	smart    *smart.Server
	// userScopes: single sign-on sessions may be narrowed by the user/
	// scopes the provider granted (auth.oidc.scopes asks for some).
	userScopes bool
}

// credential finds the caller: a bearer token, else the session cookie.
// A system's access token (SMART) counts on the FHIR API only.
func (a authn) credential(r *http.Request) (auth.Credential, error) {
	if tok, err := auth.BearerToken(r); err == nil && strings.HasPrefix(tok, smart.TokenPrefix) {
		if a.smart == nil || !strings.HasPrefix(r.URL.Path, "/fhir/r4/") {
			return auth.Credential{Via: auth.ViaToken}, auth.ErrWrongUse
		}
		c, err := a.smart.Check(r.Context(), tok)
		return auth.Credential{Claims: c, Via: auth.ViaToken}, err
	}
	if tok, err := auth.BearerToken(r); err == nil {
		c, err := a.signer.Verify(tok)
		return auth.Credential{Claims: c, Via: auth.ViaToken}, err
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return auth.Credential{}, auth.ErrNoToken
	}
	if !sameOrigin(r) { // before the session counts it as activity
		return auth.Credential{Via: auth.ViaSession}, errCrossSite
	}
	c, err := a.sessions.Check(r.Context(), ck.Value, r.Header.Get(backgroundHeader) == "")
	if err == nil && c.Use != "" && !beforePassword(r) {
		err = errSetPassword // an admin-issued credential: the person's own password first
	}
	return auth.Credential{Claims: c, Via: auth.ViaSession, Cookie: ck.Value}, err
}

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

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// access is the HTTP side of the access gate: it authenticates, asks the
// auth.Gate (which decides with the policy and audits), and answers the
// refusals.
type access struct {
	authn
	gate *auth.Gate
	log  zerolog.Logger
	door frontDoor
}

// frontDoor holds the limits on callers without credentials (see Deps).
// Its zero value limits nothing and audits every refusal on its own.
type frontDoor struct {
	refusals  *auth.Refusals
	anonymous *auth.Limiter
	signIn    *auth.Limiter
}

// request describes r for the audit log under action.
func request(r *http.Request, action string) auth.Request {
	return auth.Request{Action: action, Resource: r.URL.Path, Source: clientAddr(r)}
}

// auditFailed answers 503 when an audit event cannot be written: nothing
// is read unaudited.
// An id no record can have (auth.ErrInvalidID) was refused before it was
// written, and is the caller's mistake: 400.
func (a access) auditFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, auth.ErrInvalidID) {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	a.log.Error().Err(err).Msg("audit write failed; access refused")
	fail(w, http.StatusServiceUnavailable, "audit log unavailable")
}

// allowPatient decides and audits the caller's access to patient; on refusal
// it has answered.
func (a access) allowPatient(w http.ResponseWriter, r *http.Request, c auth.Claims, patient, action string) bool {
	d, err := a.gate.Patient(r.Context(), c, patient, request(r, action))
	if err != nil {
		a.auditFailed(w, err)
		return false
	}
	if !d.Allowed {
		fail(w, http.StatusForbidden, "no access to this patient")
		return false
	}
	return true
}

// allowed audits an access or change the route's roles already allow; on
// failure it has answered.
func (a access) allowed(w http.ResponseWriter, r *http.Request, patient, action string) bool {
	c, _ := auth.FromContext(r.Context())
	if err := a.gate.Allowed(r.Context(), c, patient, request(r, action)); err != nil {
		a.auditFailed(w, err)
		return false
	}
	return true
}

// refused audits a refusal of a caller who could not be authenticated
// and reports whether the caller may still be answered (401 and the
// like); on false it has answered. With no claims at all (an anonymous
// caller) the refusal is rate limited per source (429 with Retry-After)
// and aggregated (auth.Refusals); a caller who named themself (a
// username that failed to sign in) gets an event of their own.
func (a access) refused(w http.ResponseWriter, r *http.Request, c auth.Claims, patient, action string) bool {
	if c.Subject != "" || a.door.refusals == nil {
		if err := a.gate.Refused(r.Context(), c, patient, request(r, action)); err != nil {
			a.auditFailed(w, err)
			return false
		}
		return true
	}
	ok, retry := true, time.Duration(0)
	if a.door.anonymous != nil {
		ok, retry = a.door.anonymous.Allow(auth.SourceKey(clientAddr(r)))
	}
	if err := a.door.refusals.Refuse(r.Context(), patient, request(r, action), !ok); err != nil {
		a.auditFailed(w, err)
		return false
	}
	if !ok {
		tooMany(w, retry, "too many requests without valid credentials")
		return false
	}
	return true
}

// tooMany answers 429 with Retry-After.
func tooMany(w http.ResponseWriter, retry time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	fail(w, http.StatusTooManyRequests, msg)
}

// busy answers 503 with Retry-After: the password checks are all taken
// (auth.ErrBusy).
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	fail(w, http.StatusServiceUnavailable, auth.ErrBusy.Error())
}

// signInLimited limits sign-in attempts (password, sign-in link, join
// link) per source address before h reads anything; a refused attempt is
// counted in the source's aggregated refusals.
func (a access) signInLimited(action string, h http.Handler) http.Handler {
	if a.door.signIn == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, retry := a.door.signIn.Allow(auth.SourceKey(clientAddr(r)))
		if ok {
			h.ServeHTTP(w, r)
			return
		}
		if a.door.refusals != nil {
			if err := a.door.refusals.Refuse(r.Context(), "", request(r, action), true); err != nil {
				a.auditFailed(w, err)
				return
			}
		}
		tooMany(w, retry, "too many sign-in attempts from this address")
	})
}

// The forms of the ids in paths, by wildcard name: checked before the
// route authenticates, decides, audits or looks anything up, so that an
// id no record can have is a 400 and is written nowhere.
var (
	alertIDRE = regexp.MustCompile(`^[0-9]{1,19}$`)
	// A resource's version (FHIR vread) counts from 1.
	versionIDRE = regexp.MustCompile(`^[1-9][0-9]{0,8}$`)
	// An Observation id is a patient id, a type letter with a base-36
	// time, and a device tag, dot-separated (fhir.ObservationID).
	observationIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.[A-Za-z]-?[0-9a-z]{1,13}\.[0-9a-f]{6}$`)
	pathIDs         = map[string]func(string) bool{
		"id": auth.ValidID, "visit": auth.ValidID, "device": auth.ValidID, "enc": auth.ValidID,
		"username": auth.ValidUsername,
		"vendor":   auth.ValidID,
		"episode":  auth.ValidID,
		"client":   auth.ValidID,
		"alert":    alertIDRE.MatchString,
		"obs":      observationIDRE.MatchString,
		"vid":      versionIDRE.MatchString,
	}
)

// validIDs checks the path's ids of a route declared with pattern.
func validIDs(pattern string, h http.Handler) http.Handler {
	var names []string
	for _, part := range strings.Split(pattern, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			name := strings.TrimSuffix(strings.Trim(part, "{}"), "...")
			if pathIDs[name] == nil {
				panic("httpapi: route " + pattern + ": no id form for {" + name + "}")
			}
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, n := range names {
			if !pathIDs[n](r.PathValue(n)) {
				fail(w, http.StatusBadRequest, "invalid "+n+" in the path: "+idForm(n))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func idForm(name string) string {
	switch name {
	case "username":
		return "3-64 of a-z, 0-9, '.', '_' and '-'"
	case "alert":
		return "a number"
	case "vid":
		return "a version number from 1"
	case "obs":
		return "an Observation id of this server"
	}
	return "1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"
}

// patientRoute authenticates, lets the gate decide about the patient {id}
// and audit the answer, and only then runs h.
func (a access) patientRoute(action string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		patient := r.PathValue("id")
		cred, err := a.credential(r)
		if errors.Is(err, errCrossSite) {
			fail(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		if errors.Is(err, errSetPassword) {
			if a.refused(w, r, cred.Claims, patient, action) {
				passwordFirst(w)
			}
			return
		}
		if err != nil {
			if !a.refused(w, r, auth.Claims{}, patient, action) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="vitalwire", error="invalid_token"`)
			fail(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		if !a.allowPatient(w, r, cred.Claims, patient, action) {
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), cred.Claims)))
	})
}

// roles lets only an authenticated caller of one of roles reach h: 401
// without valid credentials, 403 for another role.
func (a access) roles(roles []auth.Role, h http.Handler) http.Handler {
	if len(roles) == 0 {
		panic("httpapi: a route must name at least one role")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, err := a.credential(r)
		if errors.Is(err, errCrossSite) {
			fail(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		if errors.Is(err, errSetPassword) {
			passwordFirst(w)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vitalwire"`)
			fail(w, http.StatusUnauthorized, "sign in, or send a valid bearer token")
			return
		}
		if !slices.Contains(roles, cred.Role) {
			fail(w, http.StatusForbidden, "forbidden for role "+string(cred.Role))
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), cred.Claims)))
	})
}

// patientsOf is whose data the caller sees without naming a patient: a
// clinician's care teams, a patient's own; an admin none (break-glass is
// per patient).
func patientsOf(ch interface{ PatientsOf(string) []string }, c auth.Claims) []string {
	switch c.Role {
	case auth.RoleClinician:
		return ch.PatientsOf(c.Subject)
	case auth.RolePatient:
		return []string{c.Subject}
	}
	return nil
}

// clinicianOnly lets only a clinician through (the gate has let the caller
// reach the patient); what says what they may not do otherwise.
func clinicianOnly(w http.ResponseWriter, r *http.Request, what string) (auth.Claims, bool) {
	c, _ := auth.FromContext(r.Context())
	if c.Role != auth.RoleClinician {
		fail(w, http.StatusForbidden, "only a clinician "+what)
		return c, false
	}
	return c, true
}
