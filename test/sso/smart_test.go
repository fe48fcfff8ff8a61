package sso

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// jose runs the independent JOSE client (npm's jose) and returns what it
// printed.
func jose(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.NodeBinary(), append([]string{"assertion.mjs"}, args...)...)
	cmd.Dir = nodeDir(t)
	out, err := cmd.Output()
	require.NoError(t, err, "node assertion.mjs %s", args[0])
	return strings.TrimSpace(string(out))
}

type keyPair struct {
	Private json.RawMessage `json:"private"`
	JWKS    json.RawMessage `json:"jwks"`
}

func keygen(t testing.TB, alg string) keyPair {
	var k keyPair
	require.NoError(t, json.Unmarshal([]byte(jose(t, "keygen", alg)), &k))
	return k
}

var jtis int

// claim is one client assertion to sign: its client, audience, life and
// jti ("" for a fresh one).
type claim struct {
	client, aud string
	exp         time.Duration
	jti         string
}

// assertions signs client assertions with k, all in one run of node.
func assertions(t testing.TB, k keyPair, cs ...claim) []string {
	t.Helper()
	now := time.Now().Unix()
	var all []map[string]any
	for _, c := range cs {
		if c.jti == "" {
			jtis++
			c.jti = fmt.Sprintf("jti-%d-%d", time.Now().UnixNano(), jtis)
		}
		all = append(all, map[string]any{"iss": c.client, "sub": c.client, "aud": c.aud, "exp": now + int64(c.exp/time.Second),
			"iat": now, "jti": c.jti})
	}
	b, _ := json.Marshal(all)
	var out []string
	require.NoError(t, json.Unmarshal([]byte(jose(t, "sign", string(k.Private), string(b))), &out))
	require.Len(t, out, len(cs))
	return out
}

// token asks the token endpoint and returns the status and the answer.
func token(t testing.TB, s *harness.Service, assertion, scope string) (int, map[string]any) {
	t.Helper()
	res, err := http.PostForm(s.URL()+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion}, "scope": {scope}})
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return res.StatusCode, out
}

// fhirGet reads path with a bearer token; it returns the status, the
// content type and the decoded answer.
func fhirGet(t testing.TB, s *harness.Service, tok, path string) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, res.Header.Get("Content-Type"), out
}

// TestASMARTBackendClientReadsObservationsInItsScope: an EHR registered
// with its public key (ES384) gets an access token with an assertion
// signed by an independent JOSE library, reads the Observations and
// Patients its scopes and care team allow, and is refused beyond them;
// replayed, mis-addressed, expired and foreign-key assertions get no
// token; every answer is in the audit log under the client's id.
func TestASMARTBackendClientReadsObservationsInItsScope(t *testing.T) {
	t.Parallel()
	nodeDir(t)
	cfg := harness.Config(t)
	// Behind a reverse proxy: the token endpoint's public URL, which
	// assertions must name as their audience.
	const tokenURL = "https://vitalwire.hospital.test/oauth2/token"
	cfg.Auth.SMART.TokenURL = tokenURL
	s := harness.Start(t, cfg)
	ward(t, s)
	secret := s.AddDevice(t, "watch-p1", "p1")
	dev := harness.Connect(t, s.BrokerURL(), "watch-p1", secret)
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	dev.Publish(harness.Batch(1, harness.Reading(vitals.HeartRate, 72, "/min", now), harness.Reading(vitals.SpO2, 97, "%", now)))
	s.WaitCount(t, "p1", vitals.HeartRate, now.Add(-time.Minute), now.Add(time.Minute), 1, 10*time.Second)

	var conf map[string]any
	s.MustCall(t, http.StatusOK, "GET", "/.well-known/smart-configuration", "", nil, &conf)
	require.Equal(t, tokenURL, conf["token_endpoint"])
	require.Equal(t, []any{"private_key_jwt"}, conf["token_endpoint_auth_methods_supported"])
	require.ElementsMatch(t, []any{"RS384", "ES384"}, conf["token_endpoint_auth_signing_alg_values_supported"])
	require.Contains(t, conf["scopes_supported"], "system/Observation.rs")

	key := keygen(t, "ES384")
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/fhir-clients", s.Admin(), map[string]any{
		"client_id": "ehr-1", "name": "Hospital EHR", "jwks": key.JWKS,
		"scopes": []string{"system/Observation.rs", "system/Patient.rs"}, "care_teams": []string{"ward"}}, nil)

	signed := assertions(t, key,
		claim{"ehr-1", tokenURL, 4 * time.Minute, ""},                      // 0: the first token
		claim{"ehr-1", tokenURL, time.Minute, ""},                          // 1: a v1 scope
		claim{"ehr-1", tokenURL, time.Minute, "once-only"},                 // 2: used twice
		claim{"ehr-1", "https://elsewhere.example/token", time.Minute, ""}, // 3
		claim{"ehr-1", tokenURL, -2 * time.Minute, ""},                     // 4: expired
		claim{"ehr-1", tokenURL, 15 * time.Minute, ""},                     // 5: too long-lived
		claim{"ehr-1", tokenURL, time.Minute, ""},                          // 6: a scope not allowed
		claim{"ehr-1", s.URL() + "/oauth2/token", time.Minute, ""},         // 7: not the configured URL
	)
	code, tok := token(t, s, signed[0], "system/Observation.rs system/Patient.rs system/Encounter.rs")
	require.Equal(t, http.StatusOK, code, "%v", tok)
	require.Equal(t, "bearer", tok["token_type"])
	require.Equal(t, "system/Observation.rs system/Patient.rs", tok["scope"], "granted what is asked and allowed")
	access := tok["access_token"].(string)

	t.Run("reads the Observations of a patient of its care team", func(t *testing.T) {
		code, ct, b := fhirGet(t, s, access, "/fhir/r4/Observation?patient=p1")
		require.Equal(t, http.StatusOK, code, "%v", b)
		require.Contains(t, ct, "application/fhir+json")
		require.Equal(t, "Bundle", b["resourceType"])
		entries, _ := b["entry"].([]any)
		require.Len(t, entries, 2, "the heart rate and the SpO2")
		code, _, p := fhirGet(t, s, access, "/fhir/r4/Patient/p1")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "Patient", p["resourceType"])
	})
	t.Run("is refused a patient outside its care teams", func(t *testing.T) {
		code, _, _ := fhirGet(t, s, access, "/fhir/r4/Observation?patient=p3")
		require.Equal(t, http.StatusForbidden, code)
	})
	t.Run("is refused a resource outside its scopes, with an OperationOutcome", func(t *testing.T) {
		code, ct, b := fhirGet(t, s, access, "/fhir/r4/Encounter?patient=p1")
		require.Equal(t, http.StatusForbidden, code)
		require.Contains(t, ct, "application/fhir+json")
		require.Equal(t, "OperationOutcome", b["resourceType"])
	})

	t.Run("a v1 scope is granted in its v2 form", func(t *testing.T) {
		code, tok := token(t, s, signed[1], "system/Observation.read")
		require.Equal(t, http.StatusOK, code, "%v", tok)
		require.Equal(t, "system/Observation.rs", tok["scope"])
		code, _, _ = fhirGet(t, s, tok["access_token"].(string), "/fhir/r4/Patient/p1")
		require.Equal(t, http.StatusForbidden, code, "no Patient scope in this token")
	})

	replayed := signed[2]
	code, _ = token(t, s, replayed, "system/Observation.rs")
	require.Equal(t, http.StatusOK, code)
	other := keygen(t, "ES384")
	foreign := assertions(t, other, claim{"ehr-1", tokenURL, time.Minute, ""}, claim{"ehr-2", tokenURL, time.Minute, ""})
	for _, tc := range []struct{ why, assertion, scope, want string }{
		{"a replayed jti", replayed, "system/Observation.rs", "invalid_client"},
		{"another audience", signed[3], "system/Observation.rs", "invalid_client"},
		{"the server's own address instead of its public token URL", signed[7], "system/Observation.rs", "invalid_client"},
		{"an expired assertion", signed[4], "system/Observation.rs", "invalid_client"},
		{"an assertion living past 5 minutes", signed[5], "system/Observation.rs", "invalid_client"},
		{"a key the client did not register", foreign[0], "system/Observation.rs", "invalid_client"},
		{"an unknown client", foreign[1], "system/Observation.rs", "invalid_client"},
		{"a scope it is not allowed", signed[6], "system/Encounter.rs", "invalid_scope"},
	} {
		t.Run("refused: "+tc.why, func(t *testing.T) {
			code, out := token(t, s, tc.assertion, tc.scope)
			require.GreaterOrEqual(t, code, 400)
			require.Equal(t, tc.want, out["error"], "%v", out)
			require.Nil(t, out["access_token"])
		})
	}

	evs := auditEvents(t, s)
	issued := findEvents(evs, "POST /oauth2/token", "ehr-1")
	var allowed, refused int
	for _, e := range issued {
		require.Equal(t, "system", e.Role)
		if e.Outcome == auth.Allowed {
			allowed++
		} else {
			refused++
		}
	}
	require.Equal(t, 3, allowed, "the tokens issued")
	require.Equal(t, 7, refused, "the refusals that named ehr-1")
	// The first refusal of a caller without valid credentials from a
	// source is an event of its own (the others of the minute are
	// aggregated): here, the unknown client's.
	require.NotEmpty(t, findEvents(evs, "POST /oauth2/token", "anonymous"), "the unknown client's refusal")
	var reads []string
	for _, e := range evs {
		if e.Actor == "ehr-1" && strings.HasPrefix(e.Action, "GET /fhir/r4/") {
			reads = append(reads, e.Action+" "+e.Patient+" "+e.Outcome)
		}
	}
	require.Subset(t, reads, []string{
		"GET /fhir/r4/Observation p1 allowed", "GET /fhir/r4/Patient/{id} p1 allowed",
		"GET /fhir/r4/Observation p3 refused", "GET /fhir/r4/Encounter p1 refused",
	})
	t.Run("an RS384 key works as an ES384 one does", func(t *testing.T) {
		rsa := keygen(t, "RS384")
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/fhir-clients", s.Admin(), map[string]any{
			"client_id": "lab-1", "name": "Lab system", "jwks": rsa.JWKS,
			"scopes": []string{"system/*.read"}, "care_teams": []string{"other"}}, nil)
		code, tok := token(t, s, assertions(t, rsa, claim{"lab-1", tokenURL, time.Minute, ""})[0], "system/*.rs")
		require.Equal(t, http.StatusOK, code, "%v", tok)
		code, _, _ = fhirGet(t, s, tok["access_token"].(string), "/fhir/r4/Patient/p3")
		require.Equal(t, http.StatusOK, code, "p3 is in its care team")
		code, _, _ = fhirGet(t, s, tok["access_token"].(string), "/fhir/r4/Patient/p1")
		require.Equal(t, http.StatusForbidden, code, "p1 is not")
	})
	t.Run("a system's token reaches nothing outside the FHIR API", func(t *testing.T) {
		code := s.Call(t, "GET", "/api/v1/patients/p1/readings", access, nil, nil)
		require.Equal(t, http.StatusUnauthorized, code)
	})
	t.Run("a revoked client's token ends at once", func(t *testing.T) {
		s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/fhir-clients/ehr-1/revoke", s.Admin(), nil, nil)
		code, _, _ := fhirGet(t, s, access, "/fhir/r4/Observation?patient=p1")
		require.Equal(t, http.StatusUnauthorized, code)
	})
}
