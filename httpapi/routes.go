package httpapi

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/web"
)

// Access is who may use a route.
type Access int

// Kinds of access. There is no default: a route names one.
const (
	// Roles: an authenticated caller of one of the route's roles.
	Roles Access = iota + 1
	// Patient: a route about the patient {id}; the access gate decides
	// and every answer, allowed or refused, is audited.
	Patient
	// Self: the handler authenticates and asks the gate itself (visits,
	// with their join links; the live socket, per subscription).
	Self
	// Public: no credentials and no patient data (health, metrics, the
	// UI's static files, sign-in).
	Public
)

// Route is one declared endpoint. The mux serves only declared routes.
type Route struct {
	Pattern string // "METHOD /path/{var}"
	Access  Access
	Roles   []auth.Role // with Access Roles
	handler http.Handler
}

var (
	admin  = []auth.Role{auth.RoleAdmin}
	staff  = []auth.Role{auth.RoleAdmin, auth.RoleClinician}
	anyone = []auth.Role{auth.RoleAdmin, auth.RoleClinician, auth.RolePatient}
	clin   = []auth.Role{auth.RoleClinician}
	// fhirReaders: people as the policy allows, and registered systems
	// as their scopes and the policy allow.
	fhirReaders = []auth.Role{auth.RoleAdmin, auth.RoleClinician, auth.RolePatient, auth.RoleSystem}
)

// Routes lists every route the API serves, with who may use it (for the
// route x role tests and the API's description).
func Routes(d Deps) []Route { return routes(d) }

// routes builds the handler groups from d and declares the table.
func routes(d Deps) []Route {
	ac := access{authn: authn{signer: d.Signer, sessions: d.Sessions, smart: d.SMART, userScopes: d.SSO != nil && d.SSO.UserScopes()}, gate: d.Gate, log: d.Log,
		door: frontDoor{refusals: d.Refusals, anonymous: d.AnonymousLimit, signIn: d.SignInLimit}}
	dev := devicesAPI{access: ac, reg: d.Devices, chart: d.Chart, limits: d.DeviceLimits, disconnect: d.Disconnect, log: d.Log}
	if dev.limits == (devices.Config{}) {
		dev.limits = devices.DefaultConfig()
	}
	ch := chartAPI{access: ac, chart: d.Chart, glass: d.Glass, log: d.Log}
	vs := vitalsAPI{pages: d.Pages, store: d.Store, devices: d.Devices, log: d.Log}
	al := alertsAPI{access: ac, alerts: d.Alerts, chart: d.Chart, reload: d.ReloadRules}
	ss := sessionAPI{access: ac, clinic: d.Clinic, sessions: d.Sessions, revoked: d.Revoked, audit: d.Audit, watcher: d.Watcher,
		baseURL: d.BaseURL, secure: d.Secure, log: d.Log}
	vi := visitsAPI{access: ac, visits: d.Visits, chart: d.Chart, encounters: d.Encounters, sfu: d.SFU, recorder: d.Recorder,
		watcher: d.Watcher, sessions: ss, joinTTL: d.JoinLinkTTL, joinMaxAge: d.JoinLinkMaxAge, log: d.Log}
	ss.mayRevokeLink = vi.mayRevokeLink
	sm := smartAPI{access: ac, srv: d.SMART, baseURL: d.BaseURL}
	so := ssoAPI{access: ac, rp: d.SSO, sessions: d.Sessions, chart: d.Chart, secure: d.Secure, log: d.Log}
	ss.sso = d.SSO
	fh := fhirAPI{access: ac, pages: d.Pages, chart: d.Chart, devices: d.Devices, store: d.Store, encounters: d.Encounters, baseURL: d.BaseURL}
	fc := &capabilityAPI{baseURL: d.BaseURL, started: time.Now()}
	if d.SMART != nil {
		fc.tokenURL = d.SMART.TokenURL
	}
	oa := &openAPIDoc{baseURL: d.BaseURL}
	db := dashboardAPI{access: ac, chart: d.Chart, devices: d.Devices, store: d.Store, alerts: d.Alerts, log: d.Log}
	lv := liveAPI{access: ac, hub: d.Hub, watcher: d.Watcher}
	hs := healthAPI{ready: d.Ready}
	ms := measuresAPI{access: ac, chart: d.Chart, program: d.Program, store: d.Store, alerts: d.Alerts, visits: d.Visits, clinic: d.Clinic, log: d.Log, now: time.Now}
	in := newIngestAPI(ac, d)
	rp := rpmAPI{access: ac, program: d.Program, sources: d.ProgramSources, chart: d.Chart, log: d.Log}
	ba := brokerAuthAPI{policy: d.BrokerPolicy, secret: sha256.Sum256([]byte(d.BrokerSecret)), limit: d.BrokerAuthLimit, log: d.Log}

	table := []Route{
		{Pattern: "GET /healthz", Access: Public, handler: http.HandlerFunc(hs.healthz)},
		{Pattern: "GET /readyz", Access: Public, handler: http.HandlerFunc(hs.readyz)},
		{Pattern: "GET /metrics", Access: Public, handler: promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{})},
		{Pattern: "GET /api/v1/vitals", Access: Public, handler: http.HandlerFunc(vitalsCatalog)},
		{Pattern: "GET /api/openapi.json", Access: Public, handler: http.HandlerFunc(oa.serve)},
		{Pattern: "GET /api/v1/devices", Roles: admin, handler: http.HandlerFunc(dev.list)},
		{Pattern: "POST /api/v1/devices", Roles: admin, handler: http.HandlerFunc(dev.add)},
		{Pattern: "POST /api/v1/devices/bulk", Roles: admin, handler: http.HandlerFunc(dev.bulk)},
		{Pattern: "GET /api/v1/device-kinds", Access: Public, handler: http.HandlerFunc(deviceKinds)},
		// An external broker's dynamic auth: the shared secret, checked by
		// the handler, rate limited per source.
		{Pattern: "POST /api/v1/broker/auth", Access: Self, handler: http.HandlerFunc(ba.authenticate)},
		{Pattern: "POST /api/v1/broker/acl", Access: Self, handler: http.HandlerFunc(ba.authorize)},
		{Pattern: "GET /api/v1/devices/{id}", Roles: admin, handler: http.HandlerFunc(dev.get)},
		{Pattern: "POST /api/v1/devices/{id}/bind", Roles: admin, handler: http.HandlerFunc(dev.bind)},
		{Pattern: "POST /api/v1/devices/{id}/unbind", Roles: admin, handler: http.HandlerFunc(dev.unbind)},
		{Pattern: "POST /api/v1/devices/{id}/revoke", Roles: admin, handler: http.HandlerFunc(dev.revoke)},
		// A device's own readings, with its own credentials (HTTP Basic),
		// never a person's token; checked by the handler.
		{Pattern: "POST /api/v1/devices/{id}/readings", Access: Self, handler: http.HandlerFunc(in.deviceReadings)},
		// A vendor cloud's readings, signed (Standard Webhooks); checked
		// and, when refused, audited by the handler.
		{Pattern: "POST /api/v1/vendors/{vendor}/webhook", Access: Self, handler: http.HandlerFunc(in.vendorWebhook)},
		{Pattern: "GET /api/v1/patients", Roles: admin, handler: http.HandlerFunc(ch.listPatients)},
		{Pattern: "POST /api/v1/patients", Roles: admin, handler: http.HandlerFunc(ch.addPatient)},
		{Pattern: "GET /api/v1/patients/{id}", Access: Patient, handler: http.HandlerFunc(ch.getPatient)},
		{Pattern: "GET /api/v1/patients/{id}/readings", Access: Patient, handler: http.HandlerFunc(vs.readings)},
		{Pattern: "GET /api/v1/patients/{id}/readings.csv", Access: Patient, handler: http.HandlerFunc(vs.readingsCSV)},
		{Pattern: "GET /api/v1/patients/{id}/latest", Access: Patient, handler: http.HandlerFunc(vs.latest)},
		{Pattern: "GET /api/v1/patients/{id}/aggregates", Access: Patient, handler: http.HandlerFunc(vs.aggregates)},
		{Pattern: "GET /api/v1/patients/{id}/devices", Access: Patient, handler: http.HandlerFunc(vs.patientDevices)},
		{Pattern: "POST /api/v1/patients/{id}/assessment", Access: Patient, handler: http.HandlerFunc(ch.assess)},
		{Pattern: "POST /api/v1/patients/{id}/snooze", Access: Patient, handler: http.HandlerFunc(al.snooze)},
		{Pattern: "POST /api/v1/patients/{id}/overrides", Access: Patient, handler: http.HandlerFunc(al.override)},
		{Pattern: "POST /api/v1/patients/{id}/break-glass", Roles: staff, handler: http.HandlerFunc(ch.breakGlass)},
		{Pattern: "GET /api/v1/break-glass", Roles: admin, handler: http.HandlerFunc(ch.listBreakGlass)},
		{Pattern: "GET /api/v1/issued-credentials", Roles: admin, handler: http.HandlerFunc(ss.listIssued)},
		{Pattern: "GET /api/v1/care-teams", Roles: admin, handler: http.HandlerFunc(ch.listTeams)},
		{Pattern: "POST /api/v1/care-teams", Roles: admin, handler: http.HandlerFunc(ch.addTeam)},
		{Pattern: "POST /api/v1/care-teams/{id}/members", Roles: admin, handler: http.HandlerFunc(ch.addMember)},
		{Pattern: "DELETE /api/v1/care-teams/{id}/members", Roles: admin, handler: http.HandlerFunc(ch.removeMember)},
		{Pattern: "GET /api/v1/me/patients", Roles: clin, handler: http.HandlerFunc(ch.myPatients)},
		{Pattern: "GET /api/v1/alerts", Roles: anyone, handler: http.HandlerFunc(al.list)},
		{Pattern: "POST /api/v1/alerts/{alert}/ack", Roles: clin, handler: http.HandlerFunc(al.ack)},
		{Pattern: "POST /api/v1/alerts/{alert}/resolve", Roles: clin, handler: http.HandlerFunc(al.resolve)},
		{Pattern: "GET /api/v1/rules", Roles: anyone, handler: http.HandlerFunc(al.rules)},
		{Pattern: "POST /api/v1/rules/reload", Roles: admin, handler: http.HandlerFunc(al.reloadRules)},
		{Pattern: "GET /api/v1/reports/measures", Roles: staff, handler: http.HandlerFunc(ms.report)},
		{Pattern: "GET /api/v1/dashboard", Roles: anyone, handler: http.HandlerFunc(db.dashboard)},
		{Pattern: "POST /api/v1/tokens/revoke", Roles: anyone, handler: http.HandlerFunc(ss.revokeToken)},
		{Pattern: "GET /api/v1/audit", Roles: admin, handler: http.HandlerFunc(ss.exportAudit)},
		{Pattern: "POST /api/v1/session", Access: Public, handler: ac.signInLimited("POST /api/v1/session", http.HandlerFunc(ss.signIn))},
		{Pattern: "GET /api/v1/session", Roles: anyone, handler: http.HandlerFunc(ss.whoAmI)},
		{Pattern: "DELETE /api/v1/session", Access: Public, handler: http.HandlerFunc(ss.signOut)},
		// Single sign-on (OpenID Connect): the provider for the sign-in
		// page, the redirect to it, and its redirect back.
		{Pattern: "GET /api/v1/sso", Access: Public, handler: http.HandlerFunc(so.info)},
		{Pattern: "GET /auth/oidc/login", Access: Public, handler: ac.signInLimited("GET /auth/oidc/login", http.HandlerFunc(so.login))},
		{Pattern: "GET /auth/oidc/callback", Access: Public, handler: ac.signInLimited(actionSSO, http.HandlerFunc(so.callback))},
		{Pattern: "POST /api/v1/session/activity", Roles: anyone, handler: http.HandlerFunc(ss.activity)},
		{Pattern: "POST /api/v1/session/password", Roles: anyone, handler: http.HandlerFunc(ss.setOwnPassword)},
		{Pattern: "GET /api/v1/users", Roles: admin, handler: http.HandlerFunc(ss.listUsers)},
		{Pattern: "POST /api/v1/users", Roles: admin, handler: http.HandlerFunc(ss.setUser)},
		{Pattern: "POST /api/v1/users/{username}/disable", Roles: admin, handler: http.HandlerFunc(ss.disableUser)},
		{Pattern: "POST /api/v1/signin-links", Roles: admin, handler: http.HandlerFunc(ss.newSignInLink)},
		{Pattern: "POST /api/v1/patients/{id}/visits", Access: Patient, handler: http.HandlerFunc(vi.create)},
		{Pattern: "GET /api/v1/patients/{id}/visits", Access: Patient, handler: http.HandlerFunc(vi.ofPatient)},
		{Pattern: "GET /api/v1/visits/{visit}", Access: Self, handler: http.HandlerFunc(vi.get)},
		{Pattern: "POST /api/v1/visits/{visit}/invite", Access: Self, handler: http.HandlerFunc(vi.invite)},
		{Pattern: "POST /api/v1/visits/{visit}/end", Access: Self, handler: http.HandlerFunc(vi.end)},
		{Pattern: "POST /api/v1/visits/{visit}/attach", Access: Self, handler: http.HandlerFunc(vi.attach)},
		{Pattern: "POST /api/v1/visits/{visit}/patient-link", Access: Self, handler: http.HandlerFunc(vi.patientLink)},
		{Pattern: "POST /api/v1/visits/{visit}/admit", Access: Self, handler: http.HandlerFunc(vi.admit)},
		{Pattern: "POST /api/v1/visits/{visit}/session", Access: Public,
			handler: ac.signInLimited("POST /api/v1/visits/{visit}/session", http.HandlerFunc(vi.joinSession))},
		{Pattern: "GET /ws/v1/visits/{visit}", Access: Self, handler: http.HandlerFunc(vi.socket)},
		// The FHIR CapabilityStatement: no credentials, as clients
		// discover the server with it (FHIR http.html#capabilities).
		{Pattern: "GET /fhir/r4/metadata", Access: Public, handler: http.HandlerFunc(fc.metadata)},
		{Pattern: "GET /fhir/r4/Patient/{id}", Access: Patient, handler: http.HandlerFunc(fh.patient)},
		{Pattern: "GET /fhir/r4/Patient/{id}/$everything", Access: Patient, handler: http.HandlerFunc(fh.everything)},
		{Pattern: "GET /fhir/r4/Device", Roles: fhirReaders, handler: http.HandlerFunc(fh.deviceSearch)},
		{Pattern: "GET /fhir/r4/Device/{device}", Roles: fhirReaders, handler: http.HandlerFunc(fh.device)},
		{Pattern: "GET /fhir/r4/Observation", Roles: fhirReaders, handler: http.HandlerFunc(fh.observationSearch)},
		{Pattern: "GET /fhir/r4/Observation/{obs}", Roles: fhirReaders, handler: http.HandlerFunc(fh.observation)},
		{Pattern: "GET /fhir/r4/Encounter", Roles: fhirReaders, handler: http.HandlerFunc(fh.encounterSearch)},
		{Pattern: "GET /fhir/r4/Encounter/{enc}", Roles: fhirReaders, handler: http.HandlerFunc(fh.encounter)},
		{Pattern: "GET /fhir/r4/Encounter/{enc}/_history", Roles: fhirReaders, handler: http.HandlerFunc(fh.encounterHistory)},
		{Pattern: "GET /fhir/r4/Encounter/{enc}/_history/{vid}", Roles: fhirReaders, handler: http.HandlerFunc(fh.encounterVersion)},
		// The remote monitoring program: enrolment and time are the
		// patient's (clinicians record, the handler checks); the report
		// decides each patient's line with the policy and audits each.
		{Pattern: "POST /api/v1/patients/{id}/monitoring", Access: Patient, handler: http.HandlerFunc(rp.enrol)},
		{Pattern: "GET /api/v1/patients/{id}/monitoring", Access: Patient, handler: http.HandlerFunc(rp.episodes)},
		{Pattern: "POST /api/v1/patients/{id}/monitoring/{episode}", Access: Patient, handler: http.HandlerFunc(rp.changeEpisode)},
		{Pattern: "POST /api/v1/patients/{id}/time-entries", Access: Patient, handler: http.HandlerFunc(rp.recordTime)},
		{Pattern: "GET /api/v1/patients/{id}/time-entries", Access: Patient, handler: http.HandlerFunc(rp.timeEntries)},
		{Pattern: "GET /api/v1/reports/rpm", Roles: staff, handler: http.HandlerFunc(rp.report)},
		// SMART Backend Services: discovery, the token endpoint (the
		// client's signed assertion, checked and audited by the handler),
		// and the registry of clients.
		{Pattern: "GET /.well-known/smart-configuration", Access: Public, handler: http.HandlerFunc(sm.configuration)},
		{Pattern: "GET /fhir/r4/.well-known/smart-configuration", Access: Public, handler: http.HandlerFunc(sm.configuration)},
		{Pattern: "POST /oauth2/token", Access: Self, handler: ac.signInLimited(actionToken, http.HandlerFunc(sm.token))},
		{Pattern: "GET /api/v1/fhir-clients", Roles: admin, handler: http.HandlerFunc(sm.listClients)},
		{Pattern: "POST /api/v1/fhir-clients", Roles: admin, handler: http.HandlerFunc(sm.addClient)},
		{Pattern: "POST /api/v1/fhir-clients/{client}/revoke", Roles: admin, handler: http.HandlerFunc(sm.revokeClient)},
		// The browser UI: static files, no patient data.
		{Pattern: "GET /", Access: Public, handler: web.Handler()},
		// The live socket authenticates itself (header or access_token) and
		// has the gate decide and audit each patient subscription.
		{Pattern: "GET /ws/v1/live", Access: Self, handler: http.HandlerFunc(lv.socket)},
	}
	for i := range table {
		r := &table[i]
		if r.Roles != nil && r.Access == 0 {
			r.Access = Roles
		}
		switch r.Access {
		case Public, Self:
		case Patient:
			r.handler = ac.patientRoute(r.Pattern, r.handler)
		case Roles:
			r.handler = ac.roles(r.Roles, r.handler)
		default:
			panic("httpapi: route " + r.Pattern + " declares no access")
		}
		if needs, ok := fhirNeeds[r.Pattern]; ok {
			r.handler = ac.scoped(r.Pattern, needs, r.handler)
		}
		r.handler = validIDs(r.Pattern, r.handler) // before anything else
		if strings.HasPrefix(r.Pattern, "GET "+fhirPrefix) {
			r.handler = fhirRoute(r.Pattern, r.handler) // FHIR answers, errors included
		}
	}
	fc.table, oa.table = table, table
	return table
}
