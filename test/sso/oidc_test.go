package sso

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

var clinician = user{Password: "correct horse battery", Claims: map[string]any{
	"name": "Gregory House", "email": "house@hospital.test", "roles": []string{"vitalwire-clinician"}, "care_teams": []string{"ward"}}}

// ward charts Ada (p1) and Ben (p2) in the care team "ward", Cy (p3) in
// "other"; no clinician is in either yet.
func ward(t testing.TB, s *harness.Service) {
	for _, p := range []chart.Patient{
		{ID: "p1", MRN: "MRN-001", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1},
		{ID: "p2", MRN: "MRN-002", Name: "Ben Franklin", BirthDate: "1946-01-17", SpO2Scale: 1},
		{ID: "p3", MRN: "MRN-003", Name: "Cy Young", BirthDate: "1967-03-29", SpO2Scale: 1},
	} {
		s.AddPatient(t, p)
	}
	s.AddTeam(t, "ward", "Ward 7")
	s.AddTeam(t, "other", "Ward 9")
	for _, m := range [][3]string{{"ward", "patient", "p1"}, {"ward", "patient", "p2"}, {"other", "patient", "p3"}} {
		s.AddMember(t, m[0], m[1], m[2])
	}
}

// TestAClinicianSignsInThroughTheHospitalsIdentityProvider: the sign-in
// page offers the provider; its login page signs the clinician in; they
// land on the dashboard with the patients of the care team their claims
// name (and no other); the sign-in is audited; signing out ends the
// session here and goes on to the provider's logout.
func TestAClinicianSignsInThroughTheHospitalsIdentityProvider(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.Addr = freeAddr(t)
	base := "http://" + cfg.HTTP.Addr
	issuer := startProvider(t, base, map[string]user{"dr.house": clinician})
	withSSO(&cfg.Auth.OIDC, issuer)
	s := harness.Start(t, cfg)
	ward(t, s)
	browser := testenv.StartBrowser(t)
	tab := browser.Tab(t)

	tab.Go(base + "/#/signin")
	tab.Wait(`document.querySelector('#sso a')`, 10*time.Second)
	require.Equal(t, "Sign in with Test Hospital", testenv.Eval[string](tab, `document.querySelector('#sso a').textContent`))
	tab.Screenshot("sso-signin-page")
	require.Empty(t, harness.Axe(t, tab), "serious accessibility violations on the sign-in page")

	testenv.Eval[bool](tab, `document.querySelector('#sso a').click() || true`)
	tab.Wait(`location.href.startsWith(`+harness.JSString(issuer)+`) && document.querySelector('#login')`, 15*time.Second)
	tab.Screenshot("sso-provider-login")
	testenv.Eval[bool](tab, `document.querySelector('#login').value = 'dr.house'; document.querySelector('#password').value = 'correct horse battery';
		document.querySelector('#submit').click(); true`)

	tab.Wait(`document.querySelector('#who') && document.querySelector('#who').textContent.includes('Signed in as dr.house')`, 15*time.Second)
	tab.Wait(`document.querySelectorAll('li.tile').length === 2`, 10*time.Second)
	require.Equal(t, []string{"p1", "p2"}, testenv.Eval[[]string](tab, `[...document.querySelectorAll('li.tile')].map(e => e.dataset.patient).sort()`))
	require.NotContains(t, testenv.Eval[string](tab, `document.querySelector('main').textContent`), "Cy Young")
	tab.Screenshot("sso-dashboard")

	evs := auditEvents(t, s)
	in := findEvents(evs, "GET /auth/oidc/callback", "dr.house")
	require.Len(t, in, 1, "the sign-in is audited")
	require.Equal(t, auth.Allowed, in[0].Outcome)
	require.Equal(t, "clinician", in[0].Role)

	// Sign-out: the session ends here, and the browser goes on to the
	// provider's logout (RP-initiated logout).
	testenv.Eval[bool](tab, `[...document.querySelectorAll('button')].find(b => b.textContent === 'Sign out').click() || true`)
	tab.Wait(`location.href.startsWith(`+harness.JSString(issuer)+`)`, 10*time.Second)
	require.Contains(t, testenv.Eval[string](tab, `location.href`), "/session/end")
	out := findEvents(auditEvents(t, s), "DELETE /api/v1/session", "dr.house")
	require.Len(t, out, 1, "the sign-out is audited")
	tab.Go(base + "/api/v1/session")
	require.Contains(t, testenv.Eval[string](tab, `document.body.textContent`), "sign in", "the session has ended")
}

// TestSingleSignOnRefusesBadIDTokensAndUnmappedPeople: through the real
// callback, an ID token for another audience, an expired one, one whose
// payload was changed after signing, and a person whose claims map to no
// role each open no session, and each refusal is audited.
func TestSingleSignOnRefusesBadIDTokensAndUnmappedPeople(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.Addr = freeAddr(t)
	base := "http://" + cfg.HTTP.Addr
	bad := func(mint string) user { u := clinician; u.Mint = mint; return u }
	issuer := startProvider(t, base, map[string]user{
		"dr.house":  clinician,
		"wrong-aud": bad("wrong-aud"), "expired": bad("expired"), "tampered": bad("tampered"),
		"visitor": {Password: "correct horse battery", Claims: map[string]any{"roles": []string{"staff"}}},
	})
	withSSO(&cfg.Auth.OIDC, issuer)
	s, log := harness.StartLogged(t, cfg)
	ward(t, s)

	// The server's log names the check that refused each (the reason,
	// never the token or the person's claims).
	for _, tc := range []struct{ login, why, shown, reason string }{
		{"wrong-aud", "an ID token for another client", "sso_error=failed", `expected audience \"vitalwire\"`},
		{"expired", "an expired ID token", "sso_error=failed", "token is expired"},
		{"tampered", "an ID token changed after signing", "sso_error=failed", "failed to verify signature"},
		{"visitor", "claims that map to no role", "sso_error=not-allowed", "not allowed to use Vitalwire"},
	} {
		t.Run("refused: "+tc.why, func(t *testing.T) {
			before := len(log.String())
			c, jar, end := signInOverHTTP(t, base, tc.login, "correct horse battery")
			require.Contains(t, log.String()[before:], tc.reason)
			require.True(t, strings.HasPrefix(end.String(), base+"/"), "back at Vitalwire: %s", end)
			require.Contains(t, end.Fragment, tc.shown)
			require.False(t, hasSession(jar, base), "no session was made")
			res, err := c.Get(base + "/api/v1/session")
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		})
	}
	evs := auditEvents(t, s)
	// A token that failed its checks names nobody the service can trust:
	// those refusals are audited as anonymous ones (aggregated per source,
	// as every refusal without valid credentials); the person the
	// provider vouched for but who maps to no role is named.
	callbacks := findEvents(evs, "GET /auth/oidc/callback", "")
	require.NotEmpty(t, callbacks)
	for _, e := range callbacks {
		require.Equal(t, auth.Refused, e.Outcome, "no sign-in was allowed: %+v", e)
	}
	require.NotEmpty(t, findEvents(evs, "GET /auth/oidc/callback", "anonymous"), "the bad tokens' refusals")
	require.Len(t, findEvents(evs, "GET /auth/oidc/callback", "visitor"), 1, "the unmapped person's refusal")

	t.Run("the same provider signs a good token in", func(t *testing.T) {
		c, jar, _ := signInOverHTTP(t, base, "dr.house", "correct horse battery")
		require.True(t, hasSession(jar, base))
		res, err := c.Get(base + "/api/v1/me/patients")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	})
	for _, secret := range []string{"Gregory House", "house@hospital.test", "correct horse battery", clientSecret} {
		require.NotContains(t, log.String(), secret, "the log holds no names, e-mail addresses or secrets")
	}
}

// TestUserScopesGrantedToASingleSignOnSessionNarrowItsFHIRReads: with
// Vitalwire asking the provider for user/Observation.rs, a clinician's
// session reads the Observations of their patients on the FHIR API but
// not their Patient resources (403 OperationOutcome, audited), while the
// dashboard's own API is not narrowed.
func TestUserScopesGrantedToASingleSignOnSessionNarrowItsFHIRReads(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.Addr = freeAddr(t)
	base := "http://" + cfg.HTTP.Addr
	issuer := startProvider(t, base, map[string]user{"dr.house": clinician}, "user/Observation.rs")
	withSSO(&cfg.Auth.OIDC, issuer)
	cfg.Auth.OIDC.Scopes = []string{"profile", "user/Observation.rs"}
	s := harness.Start(t, cfg)
	ward(t, s)

	c, jar, _ := signInOverHTTP(t, base, "dr.house", "correct horse battery")
	require.True(t, hasSession(jar, base))
	get := func(path string) (int, string) {
		res, err := c.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := get("/fhir/r4/Observation?patient=p1")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"resourceType":"Bundle"`)
	code, body = get("/fhir/r4/Patient/p1")
	require.Equal(t, http.StatusForbidden, code, body)
	require.Contains(t, body, `"resourceType":"OperationOutcome"`)
	code, _ = get("/api/v1/me/patients")
	require.Equal(t, http.StatusOK, code, "the dashboard's API is not narrowed by FHIR scopes")

	var outcomes []string
	for _, e := range auditEvents(t, s) {
		if e.Actor == "dr.house" && strings.HasPrefix(e.Action, "GET /fhir/r4/") {
			outcomes = append(outcomes, e.Action+" "+e.Outcome)
		}
	}
	require.Equal(t, []string{"GET /fhir/r4/Observation allowed", "GET /fhir/r4/Patient/{id} refused"}, outcomes)
}
