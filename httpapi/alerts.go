package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
)

// alertsAPI is the alerts' lifecycle, the rules in force, and a
// patient's snoozes and own levels.
type alertsAPI struct {
	access
	alerts *alerts.Service
	chart  *chart.Chart
	reload func() (int, error)
}

// list lists the alerts of the patients the caller may see: a clinician's
// care teams, a patient's own (?patient= narrows it; ?all=1 includes
// resolved ones). ?view=problems lists them as problems: one notification
// per problem with the highest severity, its alerts inside.
func (a alertsAPI) list(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	patients := patientsOf(a.chart, c)
	if p := r.URL.Query().Get("patient"); p != "" {
		if !a.allowPatient(w, r, c, p, "GET /api/v1/alerts") {
			return
		}
		patients = []string{p}
	} else if len(patients) > 0 && !a.allowed(w, r, "*", "GET /api/v1/alerts") {
		return
	}
	switch r.URL.Query().Get("view") {
	case "":
	case "problems":
		ps, err := a.alerts.Problems(r.Context(), patients, r.URL.Query().Get("all") == "", 500)
		if err != nil {
			failErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, ps)
		return
	default:
		fail(w, http.StatusBadRequest, "view: problems, or none")
		return
	}
	list, err := a.alerts.List(r.Context(), patients, r.URL.Query().Get("all") == "", 500)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// alert loads the alert {alert} and has the gate decide, as an action on
// an alert of its patient (clinicians only), auditing it; on refusal it has
// answered. An alert the caller may not act on answers as one that does
// not exist, so that ids tell nothing of other patients' alerts.
func (a alertsAPI) alert(w http.ResponseWriter, r *http.Request, action string) (alerts.Alert, auth.Claims, bool) {
	c, _ := auth.FromContext(r.Context())
	id, err := strconv.ParseInt(r.PathValue("alert"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "alert: a number")
		return alerts.Alert{}, c, false
	}
	const notFound = "no such alert"
	al, err := a.alerts.Get(r.Context(), id)
	if errors.Is(err, alerts.ErrNotFound) {
		fail(w, http.StatusNotFound, notFound)
		return al, c, false
	}
	if err != nil {
		failErr(w, err)
		return al, c, false
	}
	d, err := a.gate.AlertAction(r.Context(), c, al.Patient, request(r, action))
	if err != nil {
		a.auditFailed(w, err)
		return al, c, false
	}
	if !d.Allowed {
		fail(w, http.StatusNotFound, notFound)
		return al, c, false
	}
	return al, c, true
}

func (a alertsAPI) ack(w http.ResponseWriter, r *http.Request) {
	al, c, ok := a.alert(w, r, "POST /api/v1/alerts/{alert}/ack")
	if !ok {
		return
	}
	al, err := a.alerts.Ack(r.Context(), al.ID, c.Subject)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, al)
}

func (a alertsAPI) resolve(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	if !decodeBody(w, r, &req) {
		return
	}
	al, c, ok := a.alert(w, r, "POST /api/v1/alerts/{alert}/resolve")
	if !ok {
		return
	}
	al, err := a.alerts.ResolveWith(r.Context(), al.ID, c.Subject, alerts.Resolution{Outcome: req.Outcome, Note: req.Reason})
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, al)
}

func (a alertsAPI) reloadRules(w http.ResponseWriter, _ *http.Request) {
	n, err := a.reload()
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"rules": n})
}

func (a alertsAPI) rules(w http.ResponseWriter, _ *http.Request) {
	out := []RuleJSON{}
	for _, r := range a.alerts.Rules().Rules {
		j := RuleJSON{ID: r.ID, Kind: r.Kind, Vital: r.Vital, Severity: r.Severity, SpO2Scale: r.SpO2Scale}
		switch {
		case r.Above != nil:
			j.Level, j.Direction = r.Above, "above"
		case r.AtOrAbove != nil:
			j.Level, j.Direction = r.AtOrAbove, "above"
		case r.Below != nil:
			j.Level, j.Direction = r.Below, "below"
		case r.AtOrBelow != nil:
			j.Level, j.Direction = r.AtOrBelow, "below"
		}
		if r.For > 0 {
			j.For = r.For.String()
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a alertsAPI) snooze(w http.ResponseWriter, r *http.Request) {
	c, ok := clinicianOnly(w, r, "snoozes alerts")
	if !ok {
		return
	}
	var req SnoozeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	z := alerts.Snooze{Patient: r.PathValue("id"), Rule: req.Rule, Until: req.Until, Reason: req.Reason, By: c.Subject}
	if err := a.alerts.Snooze(r.Context(), z); err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, z)
}

func (a alertsAPI) override(w http.ResponseWriter, r *http.Request) {
	c, ok := clinicianOnly(w, r, "sets a patient's targets")
	if !ok {
		return
	}
	var req OverrideRequest
	if !decodeBody(w, r, &req) {
		return
	}
	o := alerts.Override{Level: req.Level, Clear: req.Clear, Deviation: req.Deviation, Days: req.Days, Baseline: req.Baseline}
	if err := a.alerts.SetOverride(r.Context(), r.PathValue("id"), req.Rule, o, c.Subject); err != nil {
		failErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
