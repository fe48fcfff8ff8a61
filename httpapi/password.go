package httpapi

import (
	"errors"
	"net/http"

	"github.com/vitalwire/vitalwire/auth"
)

// A session opened with a credential an admin issued for the person (a
// sign-in link, a password the admin set) may do nothing but set the
// person's own password: every other route answers 403 with the code
// password_change_required, which the UI turns into its set-password
// form. The issued credentials are listed for review
// (GET /api/v1/issued-credentials), and every access in such a session
// names the issuer in the audit log (issued_by).

// errSetPassword: the session must set its password before anything else.
var errSetPassword = errors.New("set your own password first")

// CodePasswordChangeRequired is the code of the answer to a session that
// must set its own password first.
const CodePasswordChangeRequired = "password_change_required"

// beforePassword reports whether r is one of the few requests a session
// that must set its password may make: who am I, keep alive, set it.
func beforePassword(r *http.Request) bool {
	switch r.Method + " " + r.URL.Path {
	case "GET /api/v1/session", "POST /api/v1/session/activity", "POST /api/v1/session/password":
		return true
	}
	return false
}

// passwordFirst answers a session that must set its password first.
func passwordFirst(w http.ResponseWriter) {
	writeJSON(w, http.StatusForbidden, CodedError{Error: "an administrator issued the credential you signed in with: " +
		"set your own password before anything else", Code: CodePasswordChangeRequired})
}

// setOwnPassword sets the signed-in person's own password (a browser
// session only); a session that had to do so first becomes ordinary.
func (a sessionAPI) setOwnPassword(w http.ResponseWriter, r *http.Request) {
	var req SetPasswordRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		fail(w, http.StatusBadRequest, "a password is set from a browser session")
		return
	}
	err = a.sessions.SetOwnPassword(r.Context(), ck.Value, req.Username, req.Password)
	switch {
	case errors.Is(err, auth.ErrNoSession):
		fail(w, http.StatusUnauthorized, "sign in again")
		return
	case errors.Is(err, auth.ErrWeakPassword), errors.Is(err, auth.ErrBadUsername), errors.Is(err, auth.ErrUsernameNeeded),
		errors.Is(err, auth.ErrSamePassword):
		fail(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, auth.ErrUsernameTaken):
		fail(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		a.log.Error().Err(err).Msg("set own password failed")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	if !a.allowed(w, r, "", "POST /api/v1/session/password") {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listIssued lists the credentials admins issued for other people, for
// review (as GET /api/v1/break-glass lists grants).
func (a sessionAPI) listIssued(w http.ResponseWriter, r *http.Request) {
	since, ok := reviewSince(w, r)
	if !ok {
		return
	}
	is, err := a.sessions.Issued(r.Context(), since)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, is)
}
