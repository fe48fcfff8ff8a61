package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth/smart"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
)

// The REST API's OpenAPI 3.1 description, served at /api/openapi.json and
// rendered into docs/API.md. Every route of the table is in it, with its
// method, path, path parameters, security and the standard error answers,
// whether or not it has a description below: a new route appears by
// being declared. To describe one, add an entry to routeDocs under its
// pattern; request and response schemas are made from the Go types the
// handlers write, so they follow the code.

// routeDoc describes a route for people and gives its bodies' types.
type routeDoc struct {
	Summary, Description string
	// Request and Response are values of the body types (nil: none or
	// not described); Status is the success status (default 200).
	Request, Response any
	Status            int
	// Query lists the query parameters: name, then description.
	Query [][2]string
}

var routeDocs = map[string]routeDoc{
	"POST /api/v1/visits/{visit}/admit":            {Summary: "Admit a participant from the visit's waiting room (a clinician of the visit), also before they arrive"},
	"GET /api/v1/sso":                              {Summary: "Single sign-on for the sign-in page: the provider's name and login URL (204 when not configured)", Response: SSOInfo{}},
	"GET /auth/oidc/login":                         {Summary: "Begin single sign-on: redirect to the OpenID provider (PKCE, state, nonce)", Status: http.StatusFound},
	"GET /auth/oidc/callback":                      {Summary: "The OpenID provider's redirect back: the ID token is checked, the person mapped, the session cookie set", Status: http.StatusSeeOther},
	"GET /.well-known/smart-configuration":         {Summary: "SMART Backend Services discovery: token endpoint, grant, private_key_jwt, RS384/ES384, scopes", Response: SMARTConfiguration{}},
	"GET /fhir/r4/.well-known/smart-configuration": {Summary: "SMART discovery, under the FHIR base", Response: SMARTConfiguration{}},
	"POST /oauth2/token": {Summary: "SMART Backend Services token: client_credentials with a signed client assertion (form)",
		Description: "Form fields grant_type, client_assertion_type, client_assertion, scope. OAuth errors: invalid_client 401, invalid_scope and invalid_request 400."},
	"GET /api/v1/fhir-clients":                        {Summary: "List the systems registered for the FHIR API (SMART Backend Services)", Response: []smart.Client{}},
	"POST /api/v1/fhir-clients":                       {Summary: "Register a system: its public keys (jwks or jwks_url), scopes and care teams", Request: smart.Client{}, Response: smart.Client{}, Status: http.StatusCreated},
	"POST /api/v1/fhir-clients/{client}/revoke":       {Summary: "Revoke a system: its access tokens end at once", Status: http.StatusNoContent},
	"POST /api/v1/patients/{id}/monitoring":           {Summary: "Enrol the patient in remote monitoring: start date, ordering clinician, ICD-10-CM diagnoses (docs/RPM.md)"},
	"GET /api/v1/patients/{id}/monitoring":            {Summary: "The patient's monitoring episodes"},
	"POST /api/v1/patients/{id}/monitoring/{episode}": {Summary: "Record an episode's device set-up (99453) or its end, each once"},
	"POST /api/v1/patients/{id}/time-entries":         {Summary: "Record care-management time, or correct an entry (the corrected one is kept)"},
	"GET /api/v1/patients/{id}/time-entries":          {Summary: "The patient's care-management time entries with their corrections"},
	"GET /api/v1/reports/rpm": {Summary: "The monthly remote monitoring billing report: each patient's codes, met or not, with the reason (counts and minutes, no vital values)",
		Query: [][2]string{{"month", "YYYY-MM, required"}, {"care_team", "one care team"}, {"format", "json (default) or csv"}}},
	"GET /api/v1/patients/{id}/readings.csv": {Summary: "A patient's readings in a range, as a CSV file to download",
		Description: "Columns time (RFC 3339, UTC), type, value, diastolic, unit (canonical UCUM), device, time_source. At most 93 days and 500,000 readings, refused with the reason before the file starts.",
		Query:       [][2]string{{"from", "start (RFC 3339), required"}, {"to", "end, not included (RFC 3339), required"}, {"type", "vital types, comma-separated (default: all)"}}},
	"GET /api/v1/reports/measures": {Summary: "The program's quality measures by week or month (counts and times, no vital values)",
		Response: MeasuresReport{}, Description: "Clinicians: their care teams; admins: any. docs/MEASURES.md has the definitions.",
		Query: [][2]string{{"from", "a date (YYYY-MM-DD, clinic's zone) or RFC 3339 time"}, {"to", "the same, not included"},
			{"period", "week or month (default month)"}, {"care_team", "one care team"}, {"format", "json (default) or csv"}}},
	"GET /healthz":       {Summary: "Liveness: the process answers"},
	"GET /readyz":        {Summary: "Readiness: the stores, broker and audit log are reachable"},
	"GET /metrics":       {Summary: "Prometheus metrics (no patient data)"},
	"GET /api/v1/vitals": {Summary: "The catalog of vital types: codes, units, ranges"},
	"GET /api/openapi.json": {Summary: "This description of the REST API (OpenAPI 3.1)",
		Description: "Generated from the route table; docs/API.md is rendered from the same source."},
	"GET /api/v1/devices": {Summary: "List registered devices, a page at a time", Response: DevicePage{}},
	"POST /api/v1/devices": {Summary: "Register a device, optionally bound to a patient", Request: AddDeviceRequest{},
		Response: AddDeviceResponse{}, Status: http.StatusCreated, Description: "The secret is shown this once; it is stored hashed."},
	"POST /api/v1/devices/bulk": {Summary: "Enrol devices in bulk (CSV or JSON)", Response: BulkEnrolResponse{}, Status: http.StatusCreated},
	"GET /api/v1/device-kinds":  {Summary: "The catalog of device kinds", Response: []devices.Kind{}},
	"GET /api/v1/devices/{id}":  {Summary: "A device: kind, bindings, status", Response: devices.Device{}},
	"POST /api/v1/devices/{id}/bind": {Summary: "Bind a device to a patient from a time", Request: BindRequest{},
		Response: devices.Device{}},
	"POST /api/v1/devices/{id}/unbind":      {Summary: "End a device's binding", Request: BindRequest{}, Response: devices.Device{}},
	"POST /api/v1/devices/{id}/revoke":      {Summary: "Revoke a device's credentials and disconnect it"},
	"POST /api/v1/devices/{id}/readings":    {Summary: "A device posts readings over HTTPS (HTTP Basic with the device's own credentials)"},
	"POST /api/v1/vendors/{vendor}/webhook": {Summary: "A vendor cloud posts readings, signed per Standard Webhooks"},
	"GET /api/v1/patients":                  {Summary: "List patient records", Response: []chart.Patient{}},
	"POST /api/v1/patients": {Summary: "Create a patient record", Request: chart.Patient{}, Response: chart.Patient{},
		Status: http.StatusCreated},
	"GET /api/v1/patients/{id}": {Summary: "A patient's record", Response: chart.Patient{}},
	"GET /api/v1/patients/{id}/readings": {Summary: "A patient's readings, a page at a time", Response: Readings{},
		Query: [][2]string{{"since", "how far back (a duration, e.g. 24h)"}, {"type", "one vital type"}, {"limit", "page size"},
			{"cursor", "where the page starts, as the next link gives it"}}},
	"GET /api/v1/patients/{id}/latest":      {Summary: "A patient's latest reading of each vital", Response: Readings{}},
	"GET /api/v1/patients/{id}/aggregates":  {Summary: "Aggregates of a vital over windows", Query: [][2]string{{"type", "the vital type (required)"}}},
	"GET /api/v1/patients/{id}/devices":     {Summary: "The devices bound to a patient", Response: []devices.Device{}},
	"POST /api/v1/patients/{id}/assessment": {Summary: "Record a clinician's assessment (consciousness for NEWS2)"},
	"POST /api/v1/patients/{id}/snooze":     {Summary: "Snooze a rule for a patient", Request: SnoozeRequest{}, Status: http.StatusCreated},
	"POST /api/v1/patients/{id}/overrides":  {Summary: "Set a patient's own levels of a threshold or baseline rule", Request: OverrideRequest{}},
	"POST /api/v1/patients/{id}/break-glass": {Summary: "Emergency access to a patient outside one's care teams, with a reason",
		Request: BreakGlassRequest{}},
	"GET /api/v1/care-teams":                 {Summary: "List care teams", Response: []chart.Team{}},
	"POST /api/v1/care-teams":                {Summary: "Create a care team", Request: TeamRequest{}, Status: http.StatusCreated},
	"POST /api/v1/care-teams/{id}/members":   {Summary: "Add a member to a care team", Request: MemberRequest{}},
	"DELETE /api/v1/care-teams/{id}/members": {Summary: "Remove a member from a care team", Request: MemberRequest{}},
	"GET /api/v1/me/patients":                {Summary: "The patients of the calling clinician's care teams"},
	"GET /api/v1/alerts":                     {Summary: "Alerts the caller may see", Response: []alerts.Alert{}},
	"POST /api/v1/alerts/{alert}/ack":        {Summary: "Acknowledge an alert", Response: alerts.Alert{}},
	"POST /api/v1/alerts/{alert}/resolve":    {Summary: "Resolve an alert with a reason", Request: ResolveRequest{}, Response: alerts.Alert{}},
	"GET /api/v1/rules":                      {Summary: "The alert rules in force", Response: []RuleJSON{}},
	"GET /api/v1/dashboard":                  {Summary: "The caller's dashboard: a tile per patient", Response: Dashboard{}},
	"POST /api/v1/tokens/revoke":             {Summary: "Revoke a token", Request: RevokeRequest{}, Status: http.StatusNoContent},
	"GET /api/v1/audit":                      {Summary: "Export the audit log (admin)"},
	"POST /api/v1/session": {Summary: "Sign in with a password or a one-time link; sets the session cookie",
		Request: SignInRequest{}, Response: SessionInfo{}},
	"GET /api/v1/session":           {Summary: "Who the caller is", Response: SessionInfo{}},
	"DELETE /api/v1/session":        {Summary: "Sign out (204; 200 with logout_url for a single sign-on session, to end the provider's session too)", Status: http.StatusNoContent},
	"POST /api/v1/session/password": {Summary: "Set one's own password", Request: SetPasswordRequest{}},
	"POST /api/v1/users":            {Summary: "Create or change a user", Request: UserRequest{}},
	"POST /api/v1/signin-links":     {Summary: "Issue a one-time sign-in link", Request: SignInLinkRequest{}, Response: SignInLink{}},
	"POST /api/v1/patients/{id}/visits": {Summary: "Schedule a telehealth visit", Request: CreateVisitRequest{},
		Response: VisitCreated{}, Status: http.StatusCreated},
	"GET /api/v1/visits/{visit}":                  {Summary: "A visit", Response: VisitView{}},
	"POST /api/v1/visits/{visit}/invite":          {Summary: "Invite a colleague or an interpreter", Request: InviteRequest{}},
	"POST /api/v1/visits/{visit}/end":             {Summary: "End a visit and attach it to the chart", Request: NoteRequest{}},
	"POST /api/v1/visits/{visit}/attach":          {Summary: "Attach a visit to the chart (FHIR Encounter)", Request: NoteRequest{}},
	"GET /ws/v1/visits/{visit}":                   {Summary: "The visit's WebSocket: signalling and live vitals"},
	"GET /ws/v1/live":                             {Summary: "The live WebSocket: readings and alerts of the patients subscribed to"},
	"GET /":                                       {Summary: "The browser UI's files"},
	"GET /fhir/r4/metadata":                       {Summary: "The FHIR CapabilityStatement"},
	"GET /fhir/r4/Patient/{id}":                   {Summary: "FHIR read: Patient"},
	"GET /fhir/r4/Patient/{id}/$everything":       {Summary: "FHIR Patient $everything: the patient, devices, encounters and observations"},
	"GET /fhir/r4/Device":                         {Summary: "FHIR search: Device"},
	"GET /fhir/r4/Device/{device}":                {Summary: "FHIR read: Device"},
	"GET /fhir/r4/Observation":                    {Summary: "FHIR search: Observation (vital signs)"},
	"GET /fhir/r4/Observation/{obs}":              {Summary: "FHIR read: Observation"},
	"GET /fhir/r4/Encounter":                      {Summary: "FHIR search: Encounter (telehealth visits)"},
	"GET /fhir/r4/Encounter/{enc}":                {Summary: "FHIR read: Encounter"},
	"GET /fhir/r4/Encounter/{enc}/_history":       {Summary: "FHIR history: an Encounter's versions"},
	"GET /fhir/r4/Encounter/{enc}/_history/{vid}": {Summary: "FHIR vread: one version of an Encounter"},
}

// pathParamPatterns are the forms of path ids, as validIDs checks them.
var pathParamPatterns = map[string]string{
	"id": idPattern, "visit": idPattern, "device": idPattern, "enc": idPattern, "vendor": idPattern, "episode": idPattern, "client": idPattern,
	"username": "^[a-z0-9._-]{3,64}$", "alert": alertIDRE.String(), "obs": observationIDRE.String(), "vid": versionIDRE.String(),
}

// idPattern is auth.ValidID's form.
const idPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

// schemas builds JSON Schemas (2020-12, as OpenAPI 3.1 uses) of Go types
// into components.
type schemas struct{ defs map[string]any }

var timeType = reflect.TypeOf(time.Time{})

func (s *schemas) of(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == reflect.TypeOf(time.Duration(0)) {
			return map[string]any{"type": "integer", "description": "nanoseconds"}
		}
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": s.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.of(t.Elem())}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := s.defs[name]; !ok {
			s.defs[name] = map[string]any{} // a placeholder against recursion
			props := map[string]any{}
			var required []string
			s.fields(t, props, &required)
			def := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				sort.Strings(required)
				def["required"] = required
			}
			s.defs[name] = def
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (s *schemas) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			s.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = s.of(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9]`)

func schemaName(t reflect.Type) string {
	pkg := t.PkgPath()
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	if pkg == "httpapi" {
		return nonName.ReplaceAllString(t.Name(), "")
	}
	return nonName.ReplaceAllString(strings.ToUpper(pkg[:1])+pkg[1:]+t.Name(), "")
}

func jsonBody(ref map[string]any, media string) map[string]any {
	return map[string]any{"content": map[string]any{media: map[string]any{"schema": ref}}}
}

// OpenAPI describes the routes of table (OpenAPI 3.1); base is the
// server's URL.
func OpenAPI(table []Route, base string) map[string]any {
	sc := &schemas{defs: map[string]any{}}
	errRef := sc.of(reflect.TypeOf(Error{}))
	outcome := map[string]any{"type": "object", "description": "A FHIR R4 OperationOutcome",
		"required": []string{"resourceType", "issue"},
		"properties": map[string]any{"resourceType": map[string]any{"const": "OperationOutcome"},
			"issue": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}}
	fhirResource := map[string]any{"type": "object", "description": "A FHIR R4 resource (see /fhir/r4/metadata)",
		"required": []string{"resourceType"}, "properties": map[string]any{"resourceType": map[string]any{"type": "string"}}}
	sc.defs["OperationOutcome"], sc.defs["FHIRResource"] = outcome, fhirResource

	paths := map[string]any{}
	for _, r := range table {
		method, path, _ := strings.Cut(r.Pattern, " ")
		doc := routeDocs[r.Pattern]
		isFHIR := strings.HasPrefix(path, fhirPrefix)
		op := map[string]any{
			"operationId": operationID(r.Pattern),
			"summary":     doc.Summary,
			"tags":        []string{tagOf(path)},
		}
		if doc.Summary == "" {
			op["summary"] = r.Pattern
		}
		desc := accessText(r)
		if doc.Description != "" {
			desc = doc.Description + "\n\n" + desc
		}
		op["description"] = desc
		var params []any
		for _, name := range wildcards(r.Pattern) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true,
				"schema": map[string]any{"type": "string", "pattern": pathParamPatterns[name]}})
		}
		for _, q := range doc.Query {
			params = append(params, map[string]any{"name": q[0], "in": "query", "description": q[1], "schema": map[string]any{"type": "string"}})
		}
		if isFHIR {
			for _, p := range append(fhirGeneral, fhirParams[r.Pattern]...) {
				params = append(params, map[string]any{"name": p.Name, "in": "query", "description": p.Doc, "schema": map[string]any{"type": "string"}})
			}
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch r.Access {
		case Public:
			op["security"] = []any{}
		case Self:
			op["security"] = []any{} // the handler authenticates (see the description)
		default:
			op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
		}
		if doc.Request != nil {
			op["requestBody"] = jsonBody(sc.of(reflect.TypeOf(doc.Request)), "application/json")
		}
		status := doc.Status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch {
		case isFHIR:
			ok = map[string]any{"description": "A FHIR resource or Bundle"}
			for k, v := range jsonBody(map[string]any{"$ref": "#/components/schemas/FHIRResource"}, "application/fhir+json") {
				ok[k] = v
			}
		case doc.Response != nil:
			for k, v := range jsonBody(sc.of(reflect.TypeOf(doc.Response)), "application/json") {
				ok[k] = v
			}
		}
		responses := map[string]any{fmt.Sprint(status): ok}
		codes := []int{400, 429, 500, 503}
		if r.Access != Public {
			codes = append(codes, 401, 403)
		}
		if len(wildcards(r.Pattern)) > 0 {
			codes = append(codes, 404)
		}
		if isFHIR {
			codes = append(codes, 404, 406)
		}
		for _, c := range codes {
			e := map[string]any{"description": http.StatusText(c)}
			if isFHIR {
				for k, v := range jsonBody(map[string]any{"$ref": "#/components/schemas/OperationOutcome"}, "application/fhir+json") {
					e[k] = v
				}
			} else {
				for k, v := range jsonBody(errRef, "application/json") {
					e[k] = v
				}
			}
			responses[fmt.Sprint(c)] = e
		}
		op["responses"] = responses
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Vitalwire REST API", "version": "1",
			"description": "Vitalwire's REST API: devices, patients, vitals, alerts, visits, sessions, and the FHIR R4 read API. " +
				"Deny by default: each operation says who may call it; every read or change of patient data is audited."},
		"servers": []any{map[string]any{"url": base}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": sc.defs,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "A Vitalwire token, or a SMART access token on the FHIR API"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie, "description": "The browser UI's session"},
			},
		},
	}
}

// accessText says who may call a route.
func accessText(r Route) string {
	switch r.Access {
	case Public:
		return "Access: public (no credentials, no patient data)."
	case Self:
		return "Access: the handler authenticates the caller itself (device credentials, a shared secret, a signature, or a visit's join link)."
	case Patient:
		return "Access: about the patient {id}; the access policy decides (a clinician of their care teams, the patient themself) and every answer is audited."
	}
	roles := make([]string, len(r.Roles))
	for i, x := range r.Roles {
		roles[i] = string(x)
	}
	return "Access: roles " + strings.Join(roles, ", ") + "."
}

func tagOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case parts[0] == "fhir":
		return "FHIR R4"
	case parts[0] == "ws":
		return "WebSocket"
	case parts[0] == "api" && len(parts) > 2:
		return parts[2]
	case parts[0] == "api":
		return "meta"
	case parts[0] == "":
		return "UI"
	}
	return "operations"
}

// operationID names a route: method and path words in camel case.
func operationID(pattern string) string {
	var b strings.Builder
	for i, w := range strings.FieldsFunc(strings.ToLower(pattern), func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
	}) {
		if i > 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// openAPIDoc answers GET /api/openapi.json.
type openAPIDoc struct {
	baseURL func() string
	table   []Route // set once the table is built

	// The document is the same for every caller of one base URL, and
	// building it costs milliseconds and megabytes (reflection over every
	// route's types): anyone may ask for it without credentials, so it is
	// built once per base URL and the encoded bytes are served.
	mu   sync.Mutex
	base string
	body []byte
}

func (o *openAPIDoc) serve(w http.ResponseWriter, r *http.Request) {
	base := o.baseURL()
	o.mu.Lock()
	if o.body == nil || o.base != base {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(OpenAPI(o.table, base)); err != nil {
			o.mu.Unlock()
			fail(w, http.StatusInternalServerError, "internal error")
			return
		}
		o.base, o.body = base, buf.Bytes()
	}
	body := o.body
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// APIMarkdown renders an OpenAPI description (as OpenAPI builds it) for
// people: docs/API.md.
func APIMarkdown(spec map[string]any) string {
	var b strings.Builder
	info := spec["info"].(map[string]any)
	fmt.Fprintf(&b, "# %s\n\n", info["title"])
	b.WriteString("<!-- Generated from the route table (httpapi.OpenAPI); do not edit. Regenerate with\n" +
		"     VITALWIRE_UPDATE_DOCS=1 go test ./httpapi -run TestAPIDocIsCurrent -->\n\n")
	fmt.Fprintf(&b, "%s\n\n", info["description"])
	b.WriteString("The machine-readable description is served at `GET /api/openapi.json` (OpenAPI 3.1). " +
		"Errors are `{\"error\": \"...\"}` with the status; on the FHIR API they are OperationOutcomes " +
		"(`application/fhir+json`), and `GET /fhir/r4/metadata` lists what the FHIR API serves.\n")
	type row struct{ tag, path, method, summary, access, body string }
	var rows []row
	paths := spec["paths"].(map[string]any)
	for path, item := range paths {
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			access := op["description"].(string)
			if i := strings.LastIndex(access, "Access: "); i >= 0 {
				access = strings.TrimSuffix(access[i+len("Access: "):], ".")
			}
			var body []string
			if rb, ok := op["requestBody"].(map[string]any); ok {
				body = append(body, "in: "+schemaRef(rb))
			}
			for code, resp := range op["responses"].(map[string]any) {
				if code < "300" {
					if ref := schemaRef(resp.(map[string]any)); ref != "" {
						body = append(body, "out: "+ref)
					}
				}
			}
			rows = append(rows, row{op["tags"].([]string)[0], path, strings.ToUpper(method), op["summary"].(string), access, strings.Join(body, "; ")})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].tag != rows[j].tag {
			return rows[i].tag < rows[j].tag
		}
		if rows[i].path != rows[j].path {
			return rows[i].path < rows[j].path
		}
		return rows[i].method < rows[j].method
	})
	tag := ""
	for _, r := range rows {
		if r.tag != tag {
			tag = r.tag
			fmt.Fprintf(&b, "\n## %s\n\n| method | path | what | access | bodies |\n|---|---|---|---|---|\n", tag)
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", r.method, r.path, mdCell(r.summary), mdCell(r.access), r.body)
	}
	schemas := spec["components"].(map[string]any)["schemas"].(map[string]any)
	names := make([]string, 0, len(schemas))
	for n := range schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("\n## Schemas\n")
	for _, n := range names {
		def := schemas[n].(map[string]any)
		props, _ := def["properties"].(map[string]any)
		fmt.Fprintf(&b, "\n### %s\n\n", n)
		if d, ok := def["description"].(string); ok {
			fmt.Fprintf(&b, "%s\n\n", d)
		}
		if len(props) == 0 {
			continue
		}
		required := map[string]bool{}
		if rs, ok := def["required"].([]string); ok {
			for _, r := range rs {
				required[r] = true
			}
		}
		b.WriteString("| field | type | required |\n|---|---|---|\n")
		fields := make([]string, 0, len(props))
		for f := range props {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			req := ""
			if required[f] {
				req = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f, typeText(props[f].(map[string]any)), req)
		}
	}
	return b.String()
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func schemaRef(body map[string]any) string {
	content, _ := body["content"].(map[string]any)
	for _, m := range content {
		return typeText(m.(map[string]any)["schema"].(map[string]any))
	}
	return ""
}

// typeText is a schema's type for people: a schema's name, a type, or
// an array of one.
func typeText(s map[string]any) string {
	if ref, ok := s["$ref"].(string); ok {
		n := strings.TrimPrefix(ref, "#/components/schemas/")
		return "[" + n + "](#" + strings.ToLower(n) + ")"
	}
	switch s["type"] {
	case "array":
		return typeText(s["items"].(map[string]any)) + "[]"
	case "object":
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			return "map of " + typeText(ap)
		}
		return "object"
	case nil:
		return "any"
	}
	if f, ok := s["format"].(string); ok {
		return s["type"].(string) + " (" + f + ")"
	}
	return s["type"].(string)
}
