package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/fhir"
)

// FHIR conformance: what the FHIR routes of the table serve, declared
// once. The CapabilityStatement is built from the route table and
// fhirParams; every FHIR route refuses a parameter it does not declare
// (or, with Prefer: handling=lenient, drops it before the handler sees
// it and reports it in the Bundle), so the statement and the handlers
// cannot drift apart. Every FHIR answer, an error included, is FHIR JSON:
// errors are OperationOutcomes, whichever layer (authentication, the
// gate, the id check, the mux) refused.

const fhirPrefix = "/fhir/r4/"

// fhirParam is a parameter a FHIR route takes.
type fhirParam struct {
	Name string
	// Type is the FHIR search parameter type (reference, token, date,
	// number, string); Definition its SearchParameter, "" for none.
	Type, Definition, Doc string
	// Control marks a result or paging parameter (_count, _summary, ...),
	// listed in the route's documentation rather than as a searchParam.
	Control bool
}

// fhirGeneral are parameters every FHIR route takes (FHIR http.html).
var fhirGeneral = []fhirParam{
	{Name: "_format", Control: true, Doc: "json, application/json or application/fhir+json; any other format is 406"},
	{Name: "_pretty", Control: true, Doc: "accepted; answers are not indented"},
}

var (
	patientRef = fhirParam{Name: "patient", Type: "reference", Definition: "http://hl7.org/fhir/SearchParameter/clinical-patient",
		Doc: "the patient, as an id or Patient/id (required, with the access policy deciding)"}
	summaryParam = fhirParam{Name: "_summary", Control: true, Doc: "count (the total only) or false"}
	pageParams   = []fhirParam{
		{Name: "_count", Control: true, Doc: "the page size"},
		{Name: "_cursor", Control: true, Doc: "where a page starts, as a next link gives it"},
		{Name: "_offset", Control: true, Doc: "entries to skip, at most a page"},
	}
)

// fhirParams are the parameters of each FHIR route, by pattern. A route
// under /fhir/r4/ that is missing here takes only the general ones.
var fhirParams = map[string][]fhirParam{
	"GET /fhir/r4/Device": {
		{Name: "patient", Type: "reference", Definition: "http://hl7.org/fhir/SearchParameter/Device-patient", Doc: patientRef.Doc},
		summaryParam,
	},
	"GET /fhir/r4/Observation": append([]fhirParam{
		patientRef,
		{Name: "subject", Type: "reference", Definition: "http://hl7.org/fhir/SearchParameter/Observation-subject", Doc: "the patient, as patient"},
		{Name: "code", Type: "token", Definition: "http://hl7.org/fhir/SearchParameter/clinical-code",
			Doc: "LOINC codes (bare or http://loinc.org|code) or IEEE 11073 codes with their system, comma-separated"},
		{Name: "category", Type: "token", Definition: "http://hl7.org/fhir/SearchParameter/Observation-category",
			Doc: "vital-signs, laboratory (glucose) or activity (steps), bare or with the observation-category system"},
		{Name: "date", Type: "date", Definition: "http://hl7.org/fhir/SearchParameter/clinical-date",
			Doc: "ge, gt, le, lt or eq with a date or an RFC 3339 time; default the last 30 days"},
		summaryParam,
	}, pageParams...),
	"GET /fhir/r4/Encounter": {
		patientRef,
		{Name: "subject", Type: "reference", Definition: "http://hl7.org/fhir/SearchParameter/Encounter-subject", Doc: "the patient, as patient"},
		summaryParam,
	},
	"GET /fhir/r4/Patient/{id}/$everything": append([]fhirParam{
		{Name: "start", Control: true, Doc: "readings from this date or time (default 24 hours ago)"},
		{Name: "end", Control: true, Doc: "readings to this date or time (default now)"},
	}, pageParams...),
}

// fhirInteraction is one FHIR route, classified.
type fhirInteraction struct {
	Pattern  string
	Resource string // "" for system-level (metadata)
	// Code is a restful interaction (read, vread, search-type,
	// history-instance), "operation" or "capabilities".
	Code      string
	Operation string // with Code "operation": its name, without $
}

// classifyFHIR reads a FHIR route pattern as an interaction; ok is false
// for routes under /fhir/r4/ that are no FHIR interaction (SMART's
// .well-known files).
func classifyFHIR(pattern string) (fhirInteraction, bool, error) {
	method, path, _ := strings.Cut(pattern, " ")
	rest, found := strings.CutPrefix(path, fhirPrefix)
	if !found {
		return fhirInteraction{}, false, nil
	}
	if strings.HasPrefix(rest, ".") {
		return fhirInteraction{}, false, nil
	}
	parts := strings.Split(rest, "/")
	in := fhirInteraction{Pattern: pattern, Resource: parts[0]}
	isVar := func(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }
	switch {
	case method == http.MethodGet && rest == "metadata":
		in.Resource, in.Code = "", "capabilities"
	case method == http.MethodGet && len(parts) == 1:
		in.Code = "search-type"
	case method == http.MethodGet && len(parts) == 2 && isVar(parts[1]):
		in.Code = "read"
	case method == http.MethodGet && len(parts) == 3 && isVar(parts[1]) && parts[2] == "_history":
		in.Code = "history-instance"
	case method == http.MethodGet && len(parts) == 4 && isVar(parts[1]) && parts[2] == "_history" && isVar(parts[3]):
		in.Code = "vread"
	case method == http.MethodGet && len(parts) == 3 && isVar(parts[1]) && strings.HasPrefix(parts[2], "$"):
		in.Code, in.Operation = "operation", strings.TrimPrefix(parts[2], "$")
	default:
		return in, false, fmt.Errorf("httpapi: FHIR route %q is no interaction the CapabilityStatement knows", pattern)
	}
	return in, true, nil
}

// fhirInteractions classifies the table's FHIR routes.
func fhirInteractions(table []Route) ([]fhirInteraction, error) {
	var out []fhirInteraction
	for _, r := range table {
		in, ok, err := classifyFHIR(r.Pattern)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// Definitions of the operations served.
var fhirOperations = map[string]string{
	"everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
}

// Profiles the server's resources claim, by type.
var fhirProfiles = map[string][]string{
	"Observation": {
		"http://hl7.org/fhir/StructureDefinition/vitalsigns",
		"http://hl7.org/fhir/StructureDefinition/heartrate",
		"http://hl7.org/fhir/StructureDefinition/resprate",
		"http://hl7.org/fhir/StructureDefinition/oxygensat",
		"http://hl7.org/fhir/StructureDefinition/bodytemp",
		"http://hl7.org/fhir/StructureDefinition/bp",
		"http://hl7.org/fhir/StructureDefinition/bodyweight",
	},
}

// capabilityStatement describes the FHIR routes of table (FHIR R4
// CapabilityStatement); base is the server's URL.
func capabilityStatement(table []Route, base, tokenURL string, date time.Time) (fhir.Resource, error) {
	ins, err := fhirInteractions(table)
	if err != nil {
		return nil, err
	}
	byType := map[string]fhir.Resource{}
	var types []string
	for _, in := range ins {
		if in.Resource == "" {
			continue
		}
		res := byType[in.Resource]
		if res == nil {
			res = fhir.Resource{"type": in.Resource, "profile": "http://hl7.org/fhir/StructureDefinition/" + in.Resource}
			if ps := fhirProfiles[in.Resource]; len(ps) > 0 {
				res["supportedProfile"] = ps
			}
			byType[in.Resource] = res
			types = append(types, in.Resource)
		}
		var docs []string
		for _, p := range fhirParams[in.Pattern] {
			if !p.Control {
				sp := fhir.Resource{"name": p.Name, "type": p.Type, "documentation": p.Doc}
				if p.Definition != "" {
					sp["definition"] = p.Definition
				}
				res["searchParam"] = append(asList(res["searchParam"]), sp)
			} else {
				docs = append(docs, p.Name+": "+p.Doc)
			}
		}
		switch in.Code {
		case "operation":
			op := fhir.Resource{"name": in.Operation, "definition": fhirOperations[in.Operation]}
			if len(docs) > 0 {
				op["documentation"] = "Parameters: " + strings.Join(docs, "; ") + "."
			}
			res["operation"] = append(asList(res["operation"]), op)
		default:
			it := fhir.Resource{"code": in.Code}
			if len(docs) > 0 {
				it["documentation"] = "Also takes " + strings.Join(docs, "; ") + "."
			}
			res["interaction"] = append(asList(res["interaction"]), it)
			if in.Code == "vread" {
				res["versioning"], res["readHistory"] = "versioned", true
			}
		}
	}
	sort.Strings(types)
	resources := make([]fhir.Resource, 0, len(types))
	for _, t := range types {
		resources = append(resources, byType[t])
	}
	return fhir.Resource{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         date.UTC().Format("2006-01-02"),
		"publisher":    "Vitalwire",
		"kind":         "instance",
		"software":     fhir.Resource{"name": "Vitalwire"},
		"implementation": fhir.Resource{"description": "Vitalwire FHIR R4 read API: vital signs from wearables and telehealth visits",
			"url": base + "/fhir/r4"},
		"fhirVersion": "4.0.1",
		"format":      []string{"json", fhir.ContentType},
		"rest": []fhir.Resource{{
			"mode": "server",
			"documentation": "Searches refuse a parameter they do not list (400, OperationOutcome) unless the request says " +
				"Prefer: handling=lenient; then it is ignored, left out of the self link and reported in the Bundle.",
			"security": fhir.Resource{
				"cors": false,
				"extension": []fhir.Resource{{
					"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
					"extension": []fhir.Resource{{"url": "token", "valueUri": tokenURL}},
				}},
				"service": []fhir.Resource{{
					"coding": []fhir.Resource{{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
						"code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}},
					"text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
				}},
				"description": "Bearer tokens: SMART Backend Services (client credentials, private_key_jwt) for systems, " +
					"or a Vitalwire session token; scopes narrow what the access policy allows, never widen it.",
			},
			"resource": resources,
		}},
	}, nil
}

func asList(v any) []fhir.Resource {
	l, _ := v.([]fhir.Resource)
	return l
}

// capabilityAPI answers GET /fhir/r4/metadata.
type capabilityAPI struct {
	baseURL func() string
	// tokenURL is the SMART token endpoint's public URL for a base URL.
	tokenURL func(base string) string
	table    []Route // set once the table is built
	started  time.Time
}

func (c *capabilityAPI) metadata(w http.ResponseWriter, r *http.Request) {
	base := c.baseURL()
	token := base + "/oauth2/token"
	if c.tokenURL != nil {
		token = c.tokenURL(base)
	}
	cs, err := capabilityStatement(c.table, base, token, c.started)
	if err != nil {
		fhirFail(w, http.StatusInternalServerError, "exception", "internal error")
		return
	}
	writeFHIR(w, http.StatusOK, cs)
}

type fhirIgnoredKey struct{}

// fhirRoute makes pattern's handler speak FHIR at every answer: it
// refuses a format other than JSON (406), parameters the route does not
// declare (400, or dropped under Prefer: handling=lenient), and turns
// every error answer into an OperationOutcome.
func fhirRoute(pattern string, h http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, p := range append(slices.Clone(fhirGeneral), fhirParams[pattern]...) {
		allowed[p.Name] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ow := &outcomeWriter{ResponseWriter: w}
		defer ow.finish()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler || ow.wrote {
					panic(p)
				}
				ow.translate, ow.wrote, ow.status = true, true, http.StatusInternalServerError
				ow.buf.Reset()
			}
		}()
		for _, n := range wildcards(pattern) {
			// "_history", "$lastn" and the like where an id goes: an
			// interaction or operation not served, not a bad id.
			if v := r.PathValue(n); strings.HasPrefix(v, "_") || strings.HasPrefix(v, "$") {
				fhirFail(ow, http.StatusNotFound, "not-supported", "an interaction not served (see /fhir/r4/metadata)")
				return
			}
		}
		if msg := fhirAcceptable(r); msg != "" {
			fhirFail(ow, http.StatusNotAcceptable, "not-supported", msg)
			return
		}
		q := r.URL.Query()
		var unknown []string
		for name := range q {
			if !allowed[name] {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		if len(unknown) > 0 {
			if !preferLenient(r) {
				fhirFail(ow, http.StatusBadRequest, "not-supported", "unsupported search parameter: "+strings.Join(unknown, ", ")+
					" (send Prefer: handling=lenient to have unsupported parameters ignored)")
				return
			}
			for _, n := range unknown {
				q.Del(n)
			}
			r = r.Clone(context.WithValue(r.Context(), fhirIgnoredKey{}, unknown))
			r.URL.RawQuery = q.Encode()
		}
		if s := q.Get("_summary"); s != "" && s != "count" && s != "false" {
			fhirFail(ow, http.StatusBadRequest, "not-supported", "_summary: count or false")
			return
		}
		h.ServeHTTP(ow, r)
	})
}

// wildcards are the names of a pattern's path wildcards.
func wildcards(pattern string) []string {
	var out []string
	for _, part := range strings.Split(pattern, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			out = append(out, strings.TrimSuffix(strings.Trim(part, "{}"), "..."))
		}
	}
	return out
}

// summaryCount reports whether a search asks for its total only.
func summaryCount(r *http.Request) bool { return r.URL.Query().Get("_summary") == "count" }

// preferLenient reports whether the request asks for lenient handling of
// unsupported parameters (RFC 7240 Prefer, FHIR search.html).
func preferLenient(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, pref := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ';' }) {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(pref), " ", ""), "handling=lenient") {
				return true
			}
		}
	}
	return false
}

// fhirAcceptable checks _format and Accept: the server speaks FHIR R4
// JSON only. It returns why not, or "".
func fhirAcceptable(r *http.Request) string {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch strings.ToLower(strings.TrimSpace(strings.SplitN(f, ";", 2)[0])) {
		case "json", "application/json", fhir.ContentType:
			return ""
		}
		return "_format: this server answers json (application/fhir+json) only"
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return ""
	}
	for _, rng := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
		if err != nil {
			continue
		}
		if v, ok := params["fhirversion"]; ok && v != "4.0" && !strings.HasPrefix(v, "4.0.") {
			continue
		}
		if params["q"] == "0" {
			continue
		}
		switch mt {
		case "*/*", "application/*", "application/json", fhir.ContentType:
			return ""
		}
	}
	return "Accept: this server answers application/fhir+json (FHIR R4) only"
}

// fhirSearchset builds a searchset Bundle; parameters dropped under
// lenient handling are reported in it as an OperationOutcome entry
// (search mode outcome).
func fhirSearchset(r *http.Request, base string, res []fhir.Resource, total int, links [][2]string) fhir.Resource {
	if summaryCount(r) {
		res = nil
	}
	b := fhir.Bundle("searchset", base, res, total, links)
	if ignored, _ := r.Context().Value(fhirIgnoredKey{}).([]string); len(ignored) > 0 {
		oo := fhir.Outcome("warning", "not-supported", "ignored unsupported search parameters: "+strings.Join(ignored, ", "))
		entries := asList(b["entry"])
		b["entry"] = append(entries, fhir.Resource{"resource": oo, "search": fhir.Resource{"mode": "outcome"}})
	}
	return b
}

// outcomeWriter turns an error answer that is not FHIR (the shared
// authentication, gate, id and rate-limit answers write the API's JSON
// Error) into an OperationOutcome with the same status and message.
type outcomeWriter struct {
	http.ResponseWriter
	status    int
	wrote     bool
	translate bool
	buf       bytes.Buffer
}

func (w *outcomeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *outcomeWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), fhir.ContentType) {
		w.translate, w.status = true, code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *outcomeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.translate {
		if w.buf.Len() < 4096 {
			w.buf.Write(b[:min(len(b), 4096)])
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// maxOutcomeText bounds the message an OperationOutcome repeats.
const maxOutcomeText = 512

func (w *outcomeWriter) finish() {
	if !w.translate {
		return
	}
	var e CodedError
	_ = json.Unmarshal(w.buf.Bytes(), &e)
	msg := e.Error
	if msg == "" || w.status >= 500 && w.status != http.StatusServiceUnavailable {
		msg = strings.ToLower(http.StatusText(w.status))
	}
	if len(msg) > maxOutcomeText {
		msg = msg[:maxOutcomeText]
	}
	w.Header().Del("Content-Length")
	oo := fhir.Outcome("error", issueCode(w.status), msg)
	if e.Code != "" && len(e.Code) <= 64 {
		// The code clients act on (password_change_required), as the
		// issue's details.
		oo["issue"].([]fhir.Resource)[0]["details"] = fhir.Resource{
			"coding": []fhir.Resource{{"system": errorCodeSystem, "code": e.Code}}, "text": msg}
	}
	writeFHIR(w.ResponseWriter, w.status, oo)
}

// errorCodeSystem names the REST API's error codes (CodedError.Code).
const errorCodeSystem = "urn:vitalwire:error-code"

// issueCode is the OperationOutcome issue type of an error status.
func issueCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusUnauthorized:
		return "login"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		return "not-supported"
	case http.StatusConflict:
		return "conflict"
	case http.StatusTooManyRequests:
		return "throttled"
	case http.StatusServiceUnavailable:
		return "transient"
	}
	return "exception"
}

// fhirFallback answers what no FHIR route serves: 405 with Allow for a
// path served with another method, else 404 (an unknown resource type or
// an interaction not served), both as OperationOutcomes.
func fhirFallback(table []Route) http.Handler {
	probe := http.NewServeMux()
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	methods := map[string][]string{}
	for _, r := range table {
		method, path, _ := strings.Cut(r.Pattern, " ")
		if strings.HasPrefix(path, fhirPrefix) {
			if methods[path] == nil {
				probe.Handle(path, nop)
			}
			methods[path] = append(methods[path], method)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, path := probe.Handler(r); path != "" {
			allow := methods[path]
			if slices.Contains(allow, http.MethodGet) {
				allow = append(slices.Clone(allow), http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			fhirFail(w, http.StatusMethodNotAllowed, "not-supported", r.Method+" is not served here: "+strings.Join(allow, ", "))
			return
		}
		fhirFail(w, http.StatusNotFound, "not-supported", "unknown resource type, or an interaction not served (see /fhir/r4/metadata)")
	})
}
