package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/auth/smart"
)

// SMART Backend Services for the FHIR API: the discovery document, the
// token endpoint (client credentials with a signed client assertion,
// every answer audited with the client it claims to be), the registry of
// clients for admins, and the scope check of the FHIR routes: a system's
// access token reaches only /fhir/r4/, and there only what its scopes
// and the access policy both allow.

const actionToken = "POST /oauth2/token"

type smartAPI struct {
	access
	srv     *smart.Server
	baseURL func() string
}

func (a smartAPI) tokenURL() string { return a.srv.TokenURL(a.baseURL()) }

// SMARTConfiguration is /.well-known/smart-configuration.
type SMARTConfiguration struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Capabilities                      []string `json:"capabilities"`
}

func (a smartAPI) configuration(w http.ResponseWriter, _ *http.Request) {
	if a.srv == nil {
		fail(w, http.StatusNotFound, "SMART Backend Services are not enabled")
		return
	}
	var scopes []string
	for _, res := range append([]string{"*"}, smart.Resources...) {
		scopes = append(scopes, "system/"+res+".rs", "system/"+res+".read")
	}
	writeJSON(w, http.StatusOK, SMARTConfiguration{
		TokenEndpoint:                     a.tokenURL(),
		GrantTypesSupported:               []string{smart.GrantType},
		TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
		TokenEndpointAuthSigningAlgs:      []string{"RS384", "ES384"},
		ScopesSupported:                   scopes,
		Capabilities:                      []string{"client-confidential-asymmetric", "permission-v1", "permission-v2"},
	})
}

func oauthFail(w http.ResponseWriter, status int, e *smart.Error) {
	if e.Code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	writeJSON(w, status, e)
}

func (a smartAPI) token(w http.ResponseWriter, r *http.Request) {
	if a.srv == nil {
		fail(w, http.StatusNotFound, "SMART Backend Services are not enabled")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthFail(w, http.StatusBadRequest, &smart.Error{Code: "invalid_request",
			Description: "a form (application/x-www-form-urlencoded) of at most 64 KiB is required"})
		return
	}
	req := smart.TokenRequest{GrantType: r.PostForm.Get("grant_type"), AssertionType: r.PostForm.Get("client_assertion_type"),
		Assertion: r.PostForm.Get("client_assertion"), Scope: r.PostForm.Get("scope")}
	// client is a registered client's id once the assertion named one;
	// a refusal before that is an anonymous one (aggregated per source).
	tok, client, err := a.srv.Issue(r.Context(), req, a.tokenURL())
	who := auth.Claims{Subject: client, Role: auth.RoleSystem}
	var oe *smart.Error
	switch {
	case errors.As(err, &oe):
		if client == "" {
			who = auth.Claims{}
		}
		if !a.refused(w, r, who, "", actionToken) {
			return
		}
		a.log.Warn().Str("remote_ip", clientAddr(r)).Str("client", client).Str("error", oe.Code).Msg("token request refused")
		oauthFail(w, http.StatusBadRequest, oe)
		return
	case err != nil:
		a.log.Error().Err(err).Msg("token request failed")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	if err := a.gate.Allowed(r.Context(), who, "", request(r, actionToken)); err != nil {
		a.auditFailed(w, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tok)
}

// The admin API of the client registry.

func (a smartAPI) listClients(w http.ResponseWriter, r *http.Request) {
	if a.srv == nil {
		fail(w, http.StatusNotFound, "SMART Backend Services are not enabled")
		return
	}
	cs, err := a.srv.List(r.Context())
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cs)
}

func (a smartAPI) addClient(w http.ResponseWriter, r *http.Request) {
	if a.srv == nil {
		fail(w, http.StatusNotFound, "SMART Backend Services are not enabled")
		return
	}
	var c smart.Client
	if !decodeBody(w, r, &c) {
		return
	}
	c.CreatedAt, c.CreatedBy, c.Revoked = c.CreatedAt.UTC(), "", false
	if err := c.Validate(); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if !a.allowed(w, r, "", "POST /api/v1/fhir-clients") {
		return
	}
	by, _ := auth.FromContext(r.Context())
	c, err := a.srv.Add(r.Context(), c, by.Subject)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, smart.ErrInvalidClient) {
			status = http.StatusConflict
		}
		fail(w, status, err.Error())
		return
	}
	a.log.Info().Str("client", c.ID).Msg("fhir client registered")
	writeJSON(w, http.StatusCreated, c)
}

func (a smartAPI) revokeClient(w http.ResponseWriter, r *http.Request) {
	if a.srv == nil {
		fail(w, http.StatusNotFound, "SMART Backend Services are not enabled")
		return
	}
	if !a.allowed(w, r, "", "POST /api/v1/fhir-clients/{client}/revoke") {
		return
	}
	if err := a.srv.Revoke(r.Context(), r.PathValue("client")); err != nil {
		if errors.Is(err, smart.ErrNoClient) {
			fail(w, http.StatusNotFound, "no such client, or revoked already")
			return
		}
		failErr(w, err)
		return
	}
	a.log.Info().Str("client", r.PathValue("client")).Msg("fhir client revoked")
	w.WriteHeader(http.StatusNoContent)
}

// fhirNeeds are the scopes each FHIR route needs of a system.
var fhirNeeds = map[string][]smart.Need{
	"GET /fhir/r4/Patient/{id}": {{Resource: "Patient", Perm: 'r'}},
	"GET /fhir/r4/Patient/{id}/$everything": {{Resource: "Patient", Perm: 'r'}, {Resource: "Observation", Perm: 's'},
		{Resource: "Encounter", Perm: 's'}, {Resource: "Device", Perm: 's'}},
	"GET /fhir/r4/Device":                         {{Resource: "Device", Perm: 's'}},
	"GET /fhir/r4/Device/{device}":                {{Resource: "Device", Perm: 'r'}},
	"GET /fhir/r4/Observation":                    {{Resource: "Observation", Perm: 's'}},
	"GET /fhir/r4/Observation/{obs}":              {{Resource: "Observation", Perm: 'r'}},
	"GET /fhir/r4/Encounter":                      {{Resource: "Encounter", Perm: 's'}},
	"GET /fhir/r4/Encounter/{enc}":                {{Resource: "Encounter", Perm: 'r'}},
	"GET /fhir/r4/Encounter/{enc}/_history":       {{Resource: "Encounter", Perm: 'r'}},
	"GET /fhir/r4/Encounter/{enc}/_history/{vid}": {{Resource: "Encounter", Perm: 'r'}},
}

// scoped refuses (403, audited) a system whose token's scopes, or a
// single sign-on session whose granted user/ scopes, do not cover the
// FHIR route's needs, before the route decides anything else. Other
// callers are not narrowed by scopes (the policy alone decides).
func (a access) scoped(pattern string, needs []smart.Need, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := auth.BearerToken(r)
		system := err == nil && strings.HasPrefix(tok, smart.TokenPrefix)
		if !system && (err == nil || !a.userScopes) {
			h.ServeHTTP(w, r)
			return
		}
		cred, err := a.credential(r)
		context := "user"
		if cred.Role == auth.RoleSystem {
			context = "system"
		}
		if err != nil || len(cred.Scopes) == 0 || smart.Allows(context, cred.Scopes, needs) {
			h.ServeHTTP(w, r) // an invalid credential is the route's to refuse
			return
		}
		patient := r.PathValue("id")
		if patient == "" {
			patient = strings.TrimPrefix(r.URL.Query().Get("patient"), "Patient/")
			if !auth.ValidID(patient) {
				patient = ""
			}
		}
		if !a.refused(w, r, cred.Claims, patient, pattern) {
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="vitalwire", error="insufficient_scope"`)
		fhirFail(w, http.StatusForbidden, "forbidden", "the access token's scopes do not allow this interaction")
	})
}
