package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
)

// chartAPI is the chart's records: patients, care teams and their
// members, assessments, break-glass.
type chartAPI struct {
	access
	chart *chart.Chart
	glass *auth.BreakGlass
	log   zerolog.Logger
}

func (a chartAPI) listPatients(w http.ResponseWriter, r *http.Request) {
	ps, err := a.chart.Patients(r.Context())
	if err != nil {
		failErr(w, err)
		return
	}
	if !a.allowed(w, r, "*", "GET /api/v1/patients") {
		return
	}
	writeJSON(w, http.StatusOK, ps)
}

func (a chartAPI) addPatient(w http.ResponseWriter, r *http.Request) {
	var p chart.Patient
	if !decodeBody(w, r, &p) {
		return
	}
	if !a.allowed(w, r, p.ID, "POST /api/v1/patients") {
		return
	}
	p, err := a.chart.AddPatient(r.Context(), p)
	if err != nil {
		failErr(w, err)
		return
	}
	a.log.Info().Str("patient", p.ID).Msg("patient added")
	writeJSON(w, http.StatusCreated, p)
}

func (a chartAPI) getPatient(w http.ResponseWriter, r *http.Request) {
	p, err := a.chart.Patient(r.Context(), r.PathValue("id"))
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a chartAPI) breakGlass(w http.ResponseWriter, r *http.Request) {
	var req BreakGlassRequest
	if !decodeBody(w, r, &req) {
		return
	}
	c, _ := auth.FromContext(r.Context())
	patient := r.PathValue("id")
	const action = "POST /api/v1/patients/{id}/break-glass"
	// No grant for a patient who is not charted: it would open nothing
	// but a record of access that never was.
	if _, err := a.chart.Patient(r.Context(), patient); err != nil {
		if aerr := a.gate.Record(r.Context(), c, patient, request(r, action), auth.Decision{BreakGlass: true}); aerr != nil {
			a.auditFailed(w, aerr)
			return
		}
		failErr(w, err)
		return
	}
	g, err := a.glass.Open(r.Context(), c, patient, req.Reason)
	// The grant is itself an access to the patient, flagged break-glass.
	d := auth.Decision{Allowed: err == nil, BreakGlass: true}
	if aerr := a.gate.Record(r.Context(), c, patient, request(r, action), d); aerr != nil {
		a.auditFailed(w, aerr)
		return
	}
	if err != nil {
		if errors.Is(err, auth.ErrReasonRequired) {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		failErr(w, err)
		return
	}
	a.log.Warn().Str("subject", c.Subject).Str("patient", patient).Time("expires", g.ExpiresAt).Msg("break-glass access granted")
	writeJSON(w, http.StatusCreated, g)
}

// reviewSince is a review list's ?since= (RFC 3339), by default 30 days
// back; false when it was answered 400.
func reviewSince(w http.ResponseWriter, r *http.Request) (time.Time, bool) {
	s := r.URL.Query().Get("since")
	if s == "" {
		return time.Now().Add(-30 * 24 * time.Hour), true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		fail(w, http.StatusBadRequest, "since: an RFC 3339 time")
		return t, false
	}
	return t, true
}

func (a chartAPI) listBreakGlass(w http.ResponseWriter, r *http.Request) {
	since, ok := reviewSince(w, r)
	if !ok {
		return
	}
	gs, err := a.glass.List(r.Context(), since)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, gs)
}

func (a chartAPI) listTeams(w http.ResponseWriter, r *http.Request) {
	ts, err := a.chart.Teams(r.Context())
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

func (a chartAPI) addTeam(w http.ResponseWriter, r *http.Request) {
	var req TeamRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := a.chart.AddTeam(r.Context(), req.ID, req.Name); err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, req)
}

func (a chartAPI) changeMember(w http.ResponseWriter, r *http.Request, add bool) {
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
	if !a.allowed(w, r, patient, r.Method+" /api/v1/care-teams/{id}/members") {
		return
	}
	var err error
	if add {
		err = a.chart.AddMember(r.Context(), team, req.Kind, req.Member)
	} else {
		err = a.chart.RemoveMember(r.Context(), team, req.Kind, req.Member)
	}
	if err != nil {
		failErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a chartAPI) addMember(w http.ResponseWriter, r *http.Request)    { a.changeMember(w, r, true) }
func (a chartAPI) removeMember(w http.ResponseWriter, r *http.Request) { a.changeMember(w, r, false) }

func (a chartAPI) myPatients(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"clinician": c.Subject, "patients": a.chart.PatientsOf(c.Subject)})
}

// assess records consciousness and supplemental oxygen for NEWS2. The
// gate has let the caller reach the patient; only clinicians assess.
func (a chartAPI) assess(w http.ResponseWriter, r *http.Request) {
	c, ok := clinicianOnly(w, r, "records an assessment")
	if !ok {
		return
	}
	var req chart.Assessment
	if !decodeBody(w, r, &req) {
		return
	}
	if err := a.chart.Assess(r.Context(), r.PathValue("id"), c.Subject, req, time.Now()); err != nil {
		failErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
