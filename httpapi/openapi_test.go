package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
)

func operations(spec map[string]any) []string {
	var out []string
	for path, item := range spec["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDescribesEveryRouteOfTheTableAndNoOther(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	table := Routes(a.d)
	var patterns []string
	for _, r := range table {
		patterns = append(patterns, r.Pattern)
	}
	sort.Strings(patterns)
	spec := OpenAPI(table, "http://localhost:8080")
	require.Equal(t, patterns, operations(spec))

	t.Run("it is what /api/openapi.json serves, without credentials", func(t *testing.T) {
		h, err := New(a.d)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		var served map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &served))
		require.Equal(t, "3.1.0", served["openapi"])
		require.Equal(t, patterns, operations(served))
	})
	t.Run("operation ids are unique", func(t *testing.T) {
		seen := map[string]string{}
		for _, r := range table {
			id := operationID(r.Pattern)
			require.NotContains(t, seen, id, "%s and %s", r.Pattern, seen[id])
			seen[id] = r.Pattern
		}
	})
	t.Run("every described route is in the table", func(t *testing.T) {
		for p := range routeDocs {
			require.Contains(t, patterns, p, "routeDocs describes a route the table does not serve")
		}
	})
	t.Run("path id patterns are the forms the routes check", func(t *testing.T) {
		re := regexp.MustCompile(idPattern)
		for _, id := range []string{"p1", "a_b", "a.b-c", "_x", "", strings.Repeat("x", 64), strings.Repeat("x", 65), "a/b", "é"} {
			require.Equal(t, auth.ValidID(id), re.MatchString(id) && len(id) <= 64, id)
		}
	})
}

func TestARouteWithoutADescriptionStillAppearsWithItsParametersSecurityAndErrors(t *testing.T) {
	table := []Route{{Pattern: "POST /api/v1/widgets/{id}/frobnicate", Access: Roles, Roles: []auth.Role{auth.RoleAdmin}}}
	spec := OpenAPI(table, "http://x")
	op := spec["paths"].(map[string]any)["/api/v1/widgets/{id}/frobnicate"].(map[string]any)["post"].(map[string]any)
	require.Equal(t, "POST /api/v1/widgets/{id}/frobnicate", op["summary"])
	params := op["parameters"].([]any)
	require.Len(t, params, 1)
	require.Equal(t, "id", params[0].(map[string]any)["name"])
	require.Equal(t, "path", params[0].(map[string]any)["in"])
	require.NotEmpty(t, op["security"])
	require.Contains(t, op["description"], "roles admin")
	for _, code := range []string{"200", "400", "401", "403", "404", "429", "500", "503"} {
		require.Contains(t, op["responses"], code)
	}
}

// docs/API.md is rendered from the same description; a route added to
// the table without regenerating it fails here.
func TestAPIDocIsCurrent(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	want := APIMarkdown(OpenAPI(Routes(a.d), "http://localhost:8080"))
	path := filepath.Join("..", "docs", "API.md")
	if os.Getenv("VITALWIRE_UPDATE_DOCS") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "docs/API.md is stale: VITALWIRE_UPDATE_DOCS=1 go test ./httpapi -run TestAPIDocIsCurrent")
}

func TestEveryFHIRRouteIsAnInteractionTheCapabilityStatementKnows(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	ins, err := fhirInteractions(Routes(a.d))
	require.NoError(t, err)
	require.NotEmpty(t, ins)
	_, _, err = classifyFHIR("PUT /fhir/r4/Observation/{obs}")
	require.Error(t, err, "an update route would need the statement to learn it")
}

func TestAFHIRHandlerThatPanicsAnswersA500OperationOutcome(t *testing.T) {
	h := fhirRoute("GET /fhir/r4/Patient/{id}", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/fhir/r4/Patient/p1", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Equal(t, "application/fhir+json", rec.Header().Get("Content-Type"))
	var o struct {
		ResourceType string
		Issue        []struct{ Severity, Code, Diagnostics string }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &o))
	require.Equal(t, "OperationOutcome", o.ResourceType)
	require.Equal(t, "exception", o.Issue[0].Code)
	require.NotContains(t, rec.Body.String(), "boom", "no internals in the answer")
}

// The served document is built once per base URL (anyone may fetch it):
// each answer is the document for the base URL of that moment.
func TestTheServedOpenAPIDocumentFollowsTheBaseURL(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	table := Routes(a.d)
	base := "https://one.example"
	doc := &openAPIDoc{baseURL: func() string { return base }, table: table}
	servedFor := func() map[string]any {
		rec := httptest.NewRecorder()
		doc.serve(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		var got map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		return got
	}
	want := func() map[string]any {
		var m map[string]any
		raw, err := json.Marshal(OpenAPI(table, base))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}
	require.Equal(t, want(), servedFor())
	require.Equal(t, want(), servedFor(), "the second answer, from the kept bytes")
	base = "https://two.example"
	require.Equal(t, want(), servedFor(), "a new base URL gives its own document")
}
