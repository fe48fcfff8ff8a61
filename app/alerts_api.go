package app

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
)

// listAlerts lists the alerts of the patients the caller may see: a
// clinician's care teams, a patient's own (?patient= narrows it; ?all=1
// includes resolved ones).
func (a *App) listAlerts(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	patients := a.patientsOf(c)
	if p := r.URL.Query().Get("patient"); p != "" {
		if !a.allowPatient(w, r, c, p, "GET /api/v1/alerts") {
			return
		}
		patients = []string{p}
	} else if len(patients) > 0 && !a.auditChange(w, r, "GET /api/v1/alerts", "*", auth.Allowed) {
		return
	}
	list, err := a.Alerts.Store().List(r.Context(), patients, r.URL.Query().Get("all") == "", 500)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// patientsOf is whose data the caller sees without naming a patient: a
// clinician's care teams, a patient's own; an admin none (break-glass is
// per patient).
func (a *App) patientsOf(c auth.Claims) []string {
	switch c.Role {
	case auth.RoleClinician:
		return a.Chart.PatientsOf(c.Subject)
	case auth.RolePatient:
		return []string{c.Subject}
	}
	return nil
}

// alertAccess loads the alert {alert} and applies the policy to its
// patient, auditing the action.
func (a *App) alertAccess(w http.ResponseWriter, r *http.Request, action string) (alerts.Alert, auth.Claims, bool) {
	c, _ := auth.FromContext(r.Context())
	id, err := strconv.ParseInt(r.PathValue("alert"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, "alert: a number")
		return alerts.Alert{}, c, false
	}
	al, err := a.Alerts.Store().Get(r.Context(), id)
	if err != nil {
		fail(w, http.StatusNotFound, "no such alert")
		return al, c, false
	}
	return al, c, a.allowPatient(w, r, c, al.Patient, action)
}

func alertError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, alerts.ErrState):
		fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, alerts.ErrReason):
		fail(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, alerts.ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	default:
		fail(w, http.StatusInternalServerError, "internal error")
	}
}

func (a *App) ackAlert(w http.ResponseWriter, r *http.Request) {
	al, c, ok := a.alertAccess(w, r, "POST /api/v1/alerts/{alert}/ack")
	if !ok {
		return
	}
	al, err := a.Alerts.Ack(r.Context(), al.ID, c.Subject)
	if err != nil {
		alertError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, al)
}

// ResolveRequest carries the reason for resolving an alert by hand.
type ResolveRequest struct {
	Reason string `json:"reason"`
}

func (a *App) resolveAlert(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	if !decodeBody(w, r, &req) {
		return
	}
	al, c, ok := a.alertAccess(w, r, "POST /api/v1/alerts/{alert}/resolve")
	if !ok {
		return
	}
	al, err := a.Alerts.Resolve(r.Context(), al.ID, c.Subject, req.Reason)
	if err != nil {
		alertError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, al)
}

func (a *App) reloadRules(w http.ResponseWriter, r *http.Request) {
	n, err := a.ReloadRules()
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"rules": n})
}

// SnoozeRequest silences a rule for a patient until a time.
type SnoozeRequest struct {
	Rule   string    `json:"rule"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// clinicianBody lets only a clinician through (the policy has already let
// the caller reach the patient) and decodes the body into v.
func clinicianBody(w http.ResponseWriter, r *http.Request, what string, v any) (auth.Claims, bool) {
	c, _ := auth.FromContext(r.Context())
	if c.Role != auth.RoleClinician {
		fail(w, http.StatusForbidden, "only a clinician "+what)
		return c, false
	}
	return c, decodeBody(w, r, v)
}

func (a *App) snooze(w http.ResponseWriter, r *http.Request) {
	var req SnoozeRequest
	c, ok := clinicianBody(w, r, "snoozes alerts", &req)
	if !ok {
		return
	}
	if !a.ruleExists(req.Rule, "") {
		fail(w, http.StatusBadRequest, "rule: no such rule")
		return
	}
	z := alerts.Snooze{Patient: r.PathValue("id"), Rule: req.Rule, Until: req.Until, Reason: req.Reason, By: c.Subject}
	if err := a.Alerts.Store().AddSnooze(r.Context(), z, time.Now()); err != nil {
		alertError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, z)
}

// OverrideRequest sets a patient's own level for a threshold rule.
type OverrideRequest struct {
	Rule  string   `json:"rule"`
	Level float64  `json:"level"`
	Clear *float64 `json:"clear,omitempty"`
}

func (a *App) override(w http.ResponseWriter, r *http.Request) {
	var req OverrideRequest
	c, ok := clinicianBody(w, r, "sets a patient's targets", &req)
	if !ok {
		return
	}
	if !a.ruleExists(req.Rule, alerts.KindThreshold) {
		fail(w, http.StatusBadRequest, "rule: no such threshold rule")
		return
	}
	patient := r.PathValue("id")
	o := alerts.Override{Level: req.Level, Clear: req.Clear}
	if err := a.Alerts.Store().SetOverride(r.Context(), patient, req.Rule, o, c.Subject, time.Now()); err != nil {
		alertError(w, err)
		return
	}
	a.overridesMu.Lock()
	if a.overrides[patient] == nil {
		a.overrides[patient] = map[string]alerts.Override{}
	}
	a.overrides[patient][req.Rule] = o
	a.overridesMu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// ruleExists reports whether a rule (of kind, unless "") is in force.
func (a *App) ruleExists(id, kind string) bool {
	for _, r := range a.engine.Rules().Rules {
		if r.ID == id && (kind == "" || r.Kind == kind) {
			return true
		}
	}
	return false
}
