package app

import (
	"errors"
	"net/http"
	"time"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
)

func chartError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, chart.ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, chart.ErrExists):
		fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, chart.ErrInvalid):
		fail(w, http.StatusBadRequest, err.Error())
	default:
		fail(w, http.StatusInternalServerError, "internal error")
	}
}

func (a *App) listPatients(w http.ResponseWriter, r *http.Request) {
	ps, err := a.Chart.Patients(r.Context())
	if err != nil {
		chartError(w, err)
		return
	}
	if !a.auditChange(w, r, "GET /api/v1/patients", "*", auth.Allowed) {
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

func (a *App) addPatient(w http.ResponseWriter, r *http.Request) {
	var p chart.Patient
	if !decodeBody(w, r, &p) {
		return
	}
	if !a.auditChange(w, r, "POST /api/v1/patients", p.ID, auth.Allowed) {
		return
	}
	p, err := a.Chart.AddPatient(r.Context(), p)
	if err != nil {
		chartError(w, err)
		return
	}
	a.log.Info().Str("patient", p.ID).Msg("patient added")
	writeJSON(w, http.StatusCreated, p)
}

func (a *App) getPatient(w http.ResponseWriter, r *http.Request) {
	p, err := a.Chart.Patient(r.Context(), r.PathValue("id"))
	if err != nil {
		chartError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// BreakGlassRequest is the body of a break-glass request.
type BreakGlassRequest struct {
	Reason string `json:"reason"`
}

func (a *App) breakGlass(w http.ResponseWriter, r *http.Request) {
	var req BreakGlassRequest
	if !decodeBody(w, r, &req) {
		return
	}
	c, _ := auth.FromContext(r.Context())
	patient := r.PathValue("id")
	ev := auth.Event{Actor: c.Subject, Role: string(c.Role), Action: "POST /api/v1/patients/{id}/break-glass", Patient: patient,
		Resource: r.URL.Path, Source: clientAddr(r), Outcome: auth.Refused, BreakGlass: true}
	g, err := a.Glass.Open(r.Context(), c, patient, req.Reason)
	if err == nil {
		ev.Outcome = auth.Allowed
	}
	if !a.audited(w, r, ev) {
		return
	}
	if err != nil {
		if errors.Is(err, auth.ErrReasonRequired) {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	a.log.Warn().Str("subject", c.Subject).Str("patient", patient).Time("expires", g.ExpiresAt).Msg("break-glass access granted")
	writeJSON(w, http.StatusCreated, g)
}

func (a *App) listBreakGlass(w http.ResponseWriter, r *http.Request) {
	since := time.Now().Add(-30 * 24 * time.Hour)
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			fail(w, http.StatusBadRequest, "since: an RFC 3339 time")
			return
		}
		since = t
	}
	gs, err := a.Glass.List(r.Context(), since)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, gs)
}

func (a *App) listTeams(w http.ResponseWriter, r *http.Request) {
	ts, err := a.Chart.Teams(r.Context())
	if err != nil {
		chartError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// TeamRequest creates a care team.
type TeamRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (a *App) addTeam(w http.ResponseWriter, r *http.Request) {
	var req TeamRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := a.Chart.AddTeam(r.Context(), req.ID, req.Name); err != nil {
		chartError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

// MemberRequest adds or removes a care-team member.
type MemberRequest struct {
	Kind   string `json:"kind"` // clinician or patient
	Member string `json:"member"`
}

func (a *App) changeMember(w http.ResponseWriter, r *http.Request, add bool) {
	var req MemberRequest
	if !decodeBody(w, r, &req) {
		return
	}
	team := r.PathValue("id")
	// Who may see a patient is patient data too: audited.
	patient := "*"
	if req.Kind == "patient" {
		patient = req.Member
	}
	if !a.auditChange(w, r, r.Method+" /api/v1/care-teams/{id}/members", patient, auth.Allowed) {
		return
	}
	var err error
	if add {
		err = a.Chart.AddMember(r.Context(), team, req.Kind, req.Member)
	} else {
		err = a.Chart.RemoveMember(r.Context(), team, req.Kind, req.Member)
	}
	if err != nil {
		chartError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *App) addMember(w http.ResponseWriter, r *http.Request)    { a.changeMember(w, r, true) }
func (a *App) removeMember(w http.ResponseWriter, r *http.Request) { a.changeMember(w, r, false) }

func (a *App) myPatients(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"clinician": c.Subject, "patients": a.Chart.PatientsOf(c.Subject)})
}

// RevokeRequest names the token to revoke.
type RevokeRequest struct {
	Token string `json:"token"`
}

// revokeToken revokes a token: an admin any token, anyone else their own.
// A revoked token is refused at once on every route.
func (a *App) revokeToken(w http.ResponseWriter, r *http.Request) {
	var req RevokeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	c, _ := auth.FromContext(r.Context())
	target, err := a.Signer.Verify(req.Token)
	if errors.Is(err, auth.ErrExpired) || errors.Is(err, auth.ErrRevoked) {
		w.WriteHeader(http.StatusNoContent) // nothing left to revoke
		return
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "token: not a valid token of this server")
		return
	}
	if c.Role != auth.RoleAdmin && target.Subject != c.Subject {
		fail(w, http.StatusForbidden, "only an admin revokes another's token")
		return
	}
	if err := a.Revoked.Revoke(r.Context(), target); err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	a.log.Info().Str("jti", target.ID).Str("subject", target.Subject).Msg("token revoked")
	w.WriteHeader(http.StatusNoContent)
}

func (a *App) exportAudit(w http.ResponseWriter, r *http.Request) {
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
	if _, err := auth.Export(r.Context(), a.records, q, w); err != nil {
		a.log.Error().Err(err).Msg("audit export failed")
	}
}

// assess records consciousness and supplemental oxygen for NEWS2. The
// policy has let the caller reach the patient; only clinicians assess.
func (a *App) assess(w http.ResponseWriter, r *http.Request) {
	var req chart.Assessment
	c, ok := clinicianBody(w, r, "records an assessment", &req)
	if !ok {
		return
	}
	if err := a.Chart.Assess(r.Context(), r.PathValue("id"), c.Subject, req, time.Now()); err != nil {
		chartError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
