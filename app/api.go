package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/vitals"
)

// route declares who may use an endpoint. The mux serves only declared
// routes. A route is public (health and metrics, which carry no patient
// data; and the live socket, which checks each subscription itself), or is about the patient {id} (the access policy decides, and every
// answer, allowed or refused, is audited), or names the roles it allows:
// access is denied by default.
type route struct {
	pattern string // "METHOD /path/{var}"
	public  bool
	self    bool // authenticates and decides itself (visits: visitAccess)
	patient bool
	roles   []auth.Role
	handler http.HandlerFunc
}

func (a *App) routeTable() []route {
	admin := []auth.Role{auth.RoleAdmin}
	staff := []auth.Role{auth.RoleAdmin, auth.RoleClinician}
	anyone := []auth.Role{auth.RoleAdmin, auth.RoleClinician, auth.RolePatient}
	return []route{
		{pattern: "GET /healthz", public: true, handler: a.healthz},
		{pattern: "GET /readyz", public: true, handler: a.readyz},
		{pattern: "GET /metrics", public: true, handler: promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}).ServeHTTP},
		{pattern: "GET /api/v1/devices", roles: admin, handler: a.listDevices},
		{pattern: "POST /api/v1/devices", roles: admin, handler: a.addDevice},
		{pattern: "GET /api/v1/devices/{id}", roles: admin, handler: a.getDevice},
		{pattern: "POST /api/v1/devices/{id}/bind", roles: admin, handler: a.bindDevice},
		{pattern: "POST /api/v1/devices/{id}/unbind", roles: admin, handler: a.unbindDevice},
		{pattern: "POST /api/v1/devices/{id}/revoke", roles: admin, handler: a.revokeDevice},
		{pattern: "GET /api/v1/patients", roles: admin, handler: a.listPatients},
		{pattern: "POST /api/v1/patients", roles: admin, handler: a.addPatient},
		{pattern: "GET /api/v1/patients/{id}", patient: true, handler: a.getPatient},
		{pattern: "GET /api/v1/patients/{id}/readings", patient: true, handler: a.readings},
		{pattern: "GET /api/v1/patients/{id}/latest", patient: true, handler: a.latest},
		{pattern: "GET /api/v1/patients/{id}/aggregates", patient: true, handler: a.aggregates},
		{pattern: "POST /api/v1/patients/{id}/assessment", patient: true, handler: a.assess},
		{pattern: "POST /api/v1/patients/{id}/snooze", patient: true, handler: a.snooze},
		{pattern: "POST /api/v1/patients/{id}/overrides", patient: true, handler: a.override},
		{pattern: "POST /api/v1/patients/{id}/break-glass", roles: staff, handler: a.breakGlass},
		{pattern: "GET /api/v1/break-glass", roles: admin, handler: a.listBreakGlass},
		{pattern: "GET /api/v1/care-teams", roles: admin, handler: a.listTeams},
		{pattern: "POST /api/v1/care-teams", roles: admin, handler: a.addTeam},
		{pattern: "POST /api/v1/care-teams/{id}/members", roles: admin, handler: a.addMember},
		{pattern: "DELETE /api/v1/care-teams/{id}/members", roles: admin, handler: a.removeMember},
		{pattern: "GET /api/v1/me/patients", roles: []auth.Role{auth.RoleClinician}, handler: a.myPatients},
		{pattern: "GET /api/v1/alerts", roles: anyone, handler: a.listAlerts},
		{pattern: "POST /api/v1/rules/reload", roles: admin, handler: a.reloadRules},
		{pattern: "POST /api/v1/alerts/{alert}/ack", roles: staff, handler: a.ackAlert},
		{pattern: "POST /api/v1/alerts/{alert}/resolve", roles: staff, handler: a.resolveAlert},
		{pattern: "POST /api/v1/tokens/revoke", roles: anyone, handler: a.revokeToken},
		{pattern: "GET /api/v1/audit", roles: admin, handler: a.exportAudit},
		{pattern: "POST /api/v1/session", public: true, handler: a.signIn},
		{pattern: "GET /api/v1/session", roles: anyone, handler: a.whoAmI},
		{pattern: "DELETE /api/v1/session", public: true, handler: a.signOut},
		{pattern: "POST /api/v1/session/activity", roles: anyone, handler: a.activity},
		{pattern: "GET /api/v1/users", roles: admin, handler: a.listUsers},
		{pattern: "POST /api/v1/users", roles: admin, handler: a.setUser},
		{pattern: "POST /api/v1/users/{username}/disable", roles: admin, handler: a.disableUser},
		{pattern: "POST /api/v1/signin-links", roles: admin, handler: a.newSignInLink},
		{pattern: "GET /api/v1/dashboard", roles: anyone, handler: a.dashboard},
		{pattern: "GET /api/v1/patients/{id}/devices", patient: true, handler: a.patientDevices},
		{pattern: "GET /api/v1/rules", roles: anyone, handler: a.listRules},
		{pattern: "POST /api/v1/patients/{id}/visits", patient: true, handler: a.createVisit},
		{pattern: "GET /api/v1/patients/{id}/visits", patient: true, handler: a.patientVisits},
		{pattern: "GET /api/v1/visits/{visit}", self: true, handler: a.getVisit},
		{pattern: "POST /api/v1/visits/{visit}/invite", self: true, handler: a.inviteToVisit},
		{pattern: "POST /api/v1/visits/{visit}/end", self: true, handler: a.endVisitRoute},
		{pattern: "POST /api/v1/visits/{visit}/attach", self: true, handler: a.attachVisit},
		{pattern: "POST /api/v1/visits/{visit}/session", public: true, handler: a.joinSession},
		{pattern: "GET /ws/v1/visits/{visit}", self: true, handler: a.visitSocket},
		{pattern: "GET /fhir/r4/Patient/{id}", patient: true, handler: a.fhirPatient},
		{pattern: "GET /fhir/r4/Patient/{id}/$everything", patient: true, handler: a.fhirEverything},
		{pattern: "GET /fhir/r4/Device", roles: anyone, handler: a.fhirDeviceSearch},
		{pattern: "GET /fhir/r4/Device/{device}", roles: anyone, handler: a.fhirDevice},
		{pattern: "GET /fhir/r4/Observation", roles: anyone, handler: a.fhirObservationSearch},
		{pattern: "GET /fhir/r4/Observation/{obs}", roles: anyone, handler: a.fhirObservation},
		{pattern: "GET /fhir/r4/Encounter", roles: anyone, handler: a.fhirEncounterSearch},
		{pattern: "GET /fhir/r4/Encounter/{enc}", roles: anyone, handler: a.fhirEncounter},
		// The browser UI: static files, no patient data.
		{pattern: "GET /", public: true, handler: a.webUI},
		// The live socket authenticates itself (header or access_token) and
		// checks and audits each patient subscription with the policy.
		{pattern: "GET /ws/v1/live", public: true, handler: a.liveSocket},
	}
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	for _, r := range a.routeTable() {
		var h http.Handler = r.handler
		switch {
		case r.public, r.self:
		case r.patient:
			h = a.patientAccess(r.pattern, h)
		default:
			h = a.allow(r.roles, h)
		}
		mux.Handle(r.pattern, h)
	}
	return securityHeaders(mux)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// patientAccess authenticates, asks the policy about the patient {id},
// audits the answer, and only then runs h. If the audit event cannot be
// written, the access fails: nothing is read unaudited.
func (a *App) patientAccess(action string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		patient := r.PathValue("id")
		ev := auth.Event{Actor: "anonymous", Action: action, Patient: patient, Resource: r.URL.Path, Source: clientAddr(r), Outcome: auth.Refused}
		c, _, err := a.authenticate(r)
		if errors.Is(err, errCrossSite) {
			fail(w, http.StatusForbidden, "cross-site request refused")
			return
		}
		if err != nil {
			if !a.audited(w, r, ev) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="vitalwire", error="invalid_token"`)
			fail(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		if !a.allowPatient(w, r, c, patient, action) {
			return
		}
		h.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), c)))
	})
}

// decide asks the policy about a patient for an authenticated caller and
// builds the audit event of the answer.
func (a *App) decide(r *http.Request, c auth.Claims, patient, action, resource string) (auth.Decision, auth.Event) {
	d := a.Policy.Patient(c, patient)
	ev := auth.Event{Actor: c.Subject, Role: string(c.Role), Action: action, Patient: patient, Resource: resource,
		Source: clientAddr(r), Outcome: auth.Refused, BreakGlass: d.BreakGlass}
	if d.Allowed {
		ev.Outcome = auth.Allowed
	}
	return d, ev
}

// allowPatient decides and audits; on refusal it has answered 403.
func (a *App) allowPatient(w http.ResponseWriter, r *http.Request, c auth.Claims, patient, action string) bool {
	d, ev := a.decide(r, c, patient, action, r.URL.Path)
	if !a.audited(w, r, ev) {
		return false
	}
	if !d.Allowed {
		fail(w, http.StatusForbidden, "no access to this patient")
		return false
	}
	return true
}

// audited appends ev, answering 503 when it cannot.
func (a *App) audited(w http.ResponseWriter, r *http.Request, ev auth.Event) bool {
	if _, err := a.Audit.Append(r.Context(), ev); err != nil {
		a.log.Error().Err(err).Msg("audit write failed; access refused")
		fail(w, http.StatusServiceUnavailable, "audit log unavailable")
		return false
	}
	return true
}

// auditChange records a change of patient data by the authenticated caller.
func (a *App) auditChange(w http.ResponseWriter, r *http.Request, action, patient, outcome string) bool {
	c, _ := auth.FromContext(r.Context())
	return a.audited(w, r, auth.Event{Actor: c.Subject, Role: string(c.Role), Action: action, Patient: patient,
		Resource: r.URL.Path, Source: clientAddr(r), Outcome: outcome})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{msg})
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the store answers or the spool is taking writes,
// and, with an external broker, once the device subscription is in place.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	status := map[string]any{"status": "ready"}
	code := http.StatusOK
	if p, ok := a.Store.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(r.Context()); err != nil {
			status["store"] = "unreachable (readings are spooled)"
		}
	}
	if a.consumer != nil && !a.consumer.Subscribed() {
		// Devices' messages published now would reach no subscriber.
		status["status"], status["broker"] = "starting", "not yet subscribed to the device topics"
		code = http.StatusServiceUnavailable
	}
	bytes, batches := a.Ingester.Spool().Stats()
	status["spool_bytes"], status["spool_batches"] = bytes, batches
	writeJSON(w, code, status)
}

func (a *App) listDevices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Devices.List())
}

func (a *App) getDevice(w http.ResponseWriter, r *http.Request) {
	d, err := a.Devices.Get(r.PathValue("id"))
	if err != nil {
		deviceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// AddDeviceRequest is the body of POST /api/v1/devices.
type AddDeviceRequest struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Patient string `json:"patient,omitempty"`
	// BoundFrom is when the binding to Patient starts (default now): a
	// device set up after it started measuring, or a replayed scenario.
	BoundFrom time.Time `json:"bound_from,omitzero"`
}

// AddDeviceResponse carries the secret, shown this once.
type AddDeviceResponse struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func (a *App) addDevice(w http.ResponseWriter, r *http.Request) {
	var req AddDeviceRequest
	if !decodeBody(w, r, &req) {
		return
	}
	secret, err := a.Devices.Add(r.Context(), req.ID, req.Kind)
	if err != nil {
		deviceError(w, err)
		return
	}
	if req.Patient != "" {
		from := req.BoundFrom
		if from.IsZero() {
			from = time.Now()
		}
		if err := a.Devices.Bind(r.Context(), req.ID, req.Patient, from); err != nil {
			deviceError(w, err)
			return
		}
	}
	a.log.Info().Str("device", req.ID).Msg("device added")
	writeJSON(w, http.StatusCreated, AddDeviceResponse{ID: req.ID, Secret: secret})
}

// BindRequest is the body of bind and unbind; At defaults to now.
type BindRequest struct {
	Patient string    `json:"patient,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

func (a *App) bindDevice(w http.ResponseWriter, r *http.Request) {
	var req BindRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	// Which device measures a patient decides whose readings are whose.
	if !a.auditChange(w, r, "POST /api/v1/devices/{id}/bind", req.Patient, auth.Allowed) {
		return
	}
	if err := a.Devices.Bind(r.Context(), r.PathValue("id"), req.Patient, req.At); err != nil {
		deviceError(w, err)
		return
	}
	a.getDevice(w, r)
}

func (a *App) unbindDevice(w http.ResponseWriter, r *http.Request) {
	var req BindRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	if err := a.Devices.Unbind(r.Context(), r.PathValue("id"), req.At); err != nil {
		deviceError(w, err)
		return
	}
	a.getDevice(w, r)
}

func (a *App) revokeDevice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.Devices.Revoke(r.Context(), id); err != nil {
		deviceError(w, err)
		return
	}
	if a.broker != nil {
		a.broker.DisconnectDevice(id)
	}
	a.log.Info().Str("device", id).Msg("device revoked")
	a.getDevice(w, r)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		fail(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func deviceError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, devices.ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, devices.ErrExists):
		fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, devices.ErrInvalidID), errors.Is(err, devices.ErrBindingOrder), errors.Is(err, devices.ErrRevoked):
		fail(w, http.StatusBadRequest, err.Error())
	default:
		fail(w, http.StatusInternalServerError, "internal error")
	}
}

// ReadingJSON is a reading in API answers.
type ReadingJSON struct {
	Device       string      `json:"device"`
	Patient      string      `json:"patient"`
	Type         vitals.Type `json:"type"`
	Time         time.Time   `json:"time"`
	Value        float64     `json:"value"`
	Diastolic    *float64    `json:"diastolic,omitempty"`
	Unit         string      `json:"unit"`
	ReceivedTime bool        `json:"received_time,omitempty"`
}

func readingJSON(r vitals.Reading) ReadingJSON {
	out := ReadingJSON{Device: r.Device, Patient: r.Patient, Type: r.Type, Time: r.Time, Value: r.Value, Unit: r.Unit, ReceivedTime: r.ReceivedTime}
	if r.Type == vitals.BloodPressure {
		d := r.Diastolic
		out.Diastolic = &d
	}
	return out
}

// queryWindow reads type, since (a duration back from now), from and to.
func queryWindow(r *http.Request) (types []vitals.Type, from, to time.Time, err error) {
	q := r.URL.Query()
	to = time.Now().Add(time.Minute)
	from = to.Add(-time.Hour - time.Minute)
	if s := q.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, from, to, errors.New("since: a positive duration such as 10m")
		}
		from = time.Now().Add(-d)
	}
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, from, to, errors.New("from: an RFC 3339 time")
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, from, to, errors.New("to: an RFC 3339 time")
		}
	}
	if !from.Before(to) {
		return nil, from, to, errors.New("from must be before to")
	}
	if s := q.Get("type"); s != "" {
		for _, t := range strings.Split(s, ",") {
			if _, ok := vitals.Lookup(vitals.Type(t)); !ok {
				return nil, from, to, errors.New("type: unknown vital type " + t)
			}
			types = append(types, vitals.Type(t))
		}
	} else {
		types = vitals.Types()
	}
	return types, from, to, nil
}

func (a *App) readings(w http.ResponseWriter, r *http.Request) {
	patient := r.PathValue("id")
	types, from, to, err := queryWindow(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []ReadingJSON{}
	for _, t := range types {
		rs, err := a.Store.Range(r.Context(), vitals.Query{Patient: patient, Type: t, From: from, To: to})
		if err != nil {
			a.log.Error().Err(err).Msg("readings query failed")
			fail(w, http.StatusServiceUnavailable, "store unavailable")
			return
		}
		for _, x := range rs {
			out = append(out, readingJSON(x))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"patient": patient, "from": from, "to": to, "readings": out})
}

func (a *App) latest(w http.ResponseWriter, r *http.Request) {
	rs, err := a.Store.Latest(r.Context(), r.PathValue("id"))
	if err != nil {
		a.log.Error().Err(err).Msg("latest query failed")
		fail(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	out := []ReadingJSON{}
	for _, x := range rs {
		out = append(out, readingJSON(x))
	}
	writeJSON(w, http.StatusOK, map[string]any{"patient": r.PathValue("id"), "readings": out})
}

func (a *App) aggregates(w http.ResponseWriter, r *http.Request) {
	types, from, to, err := queryWindow(r)
	if err != nil || len(types) != 1 || r.URL.Query().Get("type") == "" {
		fail(w, http.StatusBadRequest, "one type is required, with since or from/to")
		return
	}
	var every time.Duration
	if s := r.URL.Query().Get("every"); s != "" {
		if every, err = time.ParseDuration(s); err != nil || every <= 0 {
			fail(w, http.StatusBadRequest, "every: a positive duration")
			return
		}
		if to.Sub(from)/every > 10_000 {
			fail(w, http.StatusBadRequest, "every: at most 10000 windows")
			return
		}
	}
	ws, err := a.Store.Aggregate(r.Context(), vitals.AggregateQuery{
		Query: vitals.Query{Patient: r.PathValue("id"), Type: types[0], From: from, To: to}, Every: every})
	if err != nil {
		a.log.Error().Err(err).Msg("aggregate query failed")
		fail(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"patient": r.PathValue("id"), "type": types[0], "windows": ws})
}
