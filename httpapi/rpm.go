package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/rpm"
)

// rpmAPI is the remote monitoring program: episodes, care-management
// time, and the billing report.
type rpmAPI struct {
	access
	program *rpm.Program
	sources rpm.Sources
	chart   *chart.Chart
	log     zerolog.Logger
}

// ready answers 503 when the service runs without the program.
func (a rpmAPI) ready(w http.ResponseWriter) bool {
	if a.program == nil {
		fail(w, http.StatusServiceUnavailable, "the remote monitoring program is not configured")
		return false
	}
	return true
}

// clinician answers 403 unless the caller is a clinician: the patient
// routes' gate lets a patient read their own record, but only clinicians
// enrol and record care-management time.
func clinician(w http.ResponseWriter, r *http.Request) (auth.Claims, bool) {
	c, _ := auth.FromContext(r.Context())
	if c.Role != auth.RoleClinician {
		fail(w, http.StatusForbidden, "only a clinician records this")
		return c, false
	}
	return c, true
}

func (a rpmAPI) enrol(w http.ResponseWriter, r *http.Request) {
	if !a.ready(w) {
		return
	}
	c, ok := clinician(w, r)
	if !ok {
		return
	}
	var e rpm.Enrolment
	if !decodeBody(w, r, &e) {
		return
	}
	ep, err := a.program.Enrol(r.Context(), r.PathValue("id"), c.Subject, e)
	if err != nil {
		failErr(w, err)
		return
	}
	a.log.Info().Str("patient", ep.Patient).Str("episode", ep.ID).Msg("monitoring episode started")
	writeJSON(w, http.StatusCreated, ep)
}

func (a rpmAPI) episodes(w http.ResponseWriter, r *http.Request) {
	if !a.ready(w) {
		return
	}
	eps, err := a.program.Episodes(r.Context(), r.PathValue("id"))
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, eps)
}

func (a rpmAPI) changeEpisode(w http.ResponseWriter, r *http.Request) {
	if !a.ready(w) {
		return
	}
	c, ok := clinician(w, r)
	if !ok {
		return
	}
	var ch rpm.EpisodeChange
	if !decodeBody(w, r, &ch) {
		return
	}
	ep, err := a.program.Change(r.Context(), r.PathValue("id"), r.PathValue("episode"), c.Subject, ch)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ep)
}

func (a rpmAPI) recordTime(w http.ResponseWriter, r *http.Request) {
	if !a.ready(w) {
		return
	}
	c, ok := clinician(w, r)
	if !ok {
		return
	}
	var e rpm.NewTimeEntry
	if !decodeBody(w, r, &e) {
		return
	}
	te, err := a.program.Record(r.Context(), r.PathValue("id"), c.Subject, e)
	if err != nil {
		failErr(w, err)
		return
	}
	a.log.Info().Str("patient", te.Patient).Int64("entry", te.ID).Int64("supersedes", te.Supersedes).Msg("care-management time recorded")
	writeJSON(w, http.StatusCreated, te)
}

// timeEntries lists a patient's entries of ?month=YYYY-MM (UTC bounds
// with a day's margin: entries near the edges of the patient's month are
// shown), by default the last 90 days.
func (a rpmAPI) timeEntries(w http.ResponseWriter, r *http.Request) {
	if !a.ready(w) {
		return
	}
	to := time.Now().Add(time.Hour)
	from := to.Add(-90 * 24 * time.Hour)
	if m := r.URL.Query().Get("month"); m != "" {
		start, err := rpm.ParseMonth(m)
		if err != nil {
			failErr(w, err)
			return
		}
		from, to = start.Add(-26*time.Hour), start.AddDate(0, 1, 0).Add(26*time.Hour)
	}
	es, err := a.program.Entries(r.Context(), r.PathValue("id"), from, to)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, es)
}

// report is the program's billing report of ?month= for the caller's
// patients (an admin: every patient; a clinician: their care teams'),
// optionally of one care team, as JSON or (format=csv) CSV. Each patient
// in it is an audit event; a refused report is one.
func (a rpmAPI) report(w http.ResponseWriter, r *http.Request) {
	if !a.ready(w) {
		return
	}
	const action = "GET /api/v1/reports/rpm"
	c, _ := auth.FromContext(r.Context())
	q := r.URL.Query()
	month, team, format := q.Get("month"), q.Get("care_team"), q.Get("format")
	if _, err := rpm.ParseMonth(month); err != nil {
		failErr(w, err)
		return
	}
	if team != "" && !auth.ValidID(team) {
		fail(w, http.StatusBadRequest, "care_team: "+idForm("id"))
		return
	}
	if format != "" && format != "json" && format != "csv" {
		fail(w, http.StatusBadRequest, "format: json or csv")
		return
	}
	req := auditedQuery(r, action, url.Values{"month": {month}, "care_team": {team}})
	var members map[string]bool
	if team != "" {
		teams, err := a.chart.Teams(r.Context())
		if err != nil {
			failErr(w, err)
			return
		}
		found, mine := false, c.Role == auth.RoleAdmin
		for _, t := range teams {
			if t.ID != team {
				continue
			}
			found, members = true, map[string]bool{}
			for _, p := range t.Patients {
				members[p] = true
			}
			for _, cl := range t.Clinicians {
				mine = mine || cl == c.Subject
			}
		}
		if !found || !mine {
			if err := a.gate.Record(r.Context(), c, "*", req, auth.Decision{}); err != nil {
				a.auditFailed(w, err)
				return
			}
			if !found {
				fail(w, http.StatusNotFound, "no such care team")
			} else {
				fail(w, http.StatusForbidden, "not a clinician of this care team")
			}
			return
		}
	}
	include := func(p string) bool {
		return a.gate.Policy.ProgramReport(c, p).Allowed && (members == nil || members[p])
	}
	rep, err := a.program.Report(r.Context(), a.sources, rpm.Request{Month: month, Include: include})
	if err != nil {
		failErr(w, err)
		return
	}
	rep.CareTeam = team
	ids := make([]string, len(rep.Patients))
	for i, p := range rep.Patients {
		ids[i] = p.Patient
	}
	if err := a.gate.ProgramReport(r.Context(), c, ids, req); err != nil {
		a.auditFailed(w, err)
		return
	}
	a.log.Info().Str("subject", c.Subject).Str("month", month).Int("patients", len(ids)).Msg("program report")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="rpm-`+month+`.csv"`)
		w.WriteHeader(http.StatusOK)
		if err := rep.WriteCSV(w); err != nil {
			a.log.Warn().Err(err).Msg("program report: write csv")
		}
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// auditedQuery describes r for the audit log with the query parameters
// that say what was asked (checked before), not the raw query.
func auditedQuery(r *http.Request, action string, v url.Values) auth.Request {
	for k, vs := range v {
		if len(vs) == 0 || vs[0] == "" {
			delete(v, k)
		}
	}
	q := request(r, action)
	q.Resource = r.URL.Path + "?" + v.Encode()
	return q
}
