package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

type principal struct {
	name, token string
}

func TestEveryRouteAndRoleGetsTheRightAnswerAndPatientDataIsAudited(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	a.addPatient(t, "p1")
	a.addPatient(t, "p2")
	require.NoError(t, a.d.Chart.AddTeam(ctx, "ward-1", "Ward 1"))
	require.NoError(t, a.d.Chart.AddMember(ctx, "ward-1", "clinician", "doc-in"))
	require.NoError(t, a.d.Chart.AddMember(ctx, "ward-1", "patient", "p1"))

	mint := a.mint
	expired, _ := a.d.Signer.Mint("doc-in", auth.RoleClinician, -time.Minute)
	revoked, revokedClaims := a.d.Signer.Mint("doc-in", auth.RoleClinician, time.Hour)
	require.NoError(t, a.d.Revoked.Revoke(ctx, revokedClaims))
	other, err := auth.NewSigner([]byte(strings.Repeat("z", 32)))
	require.NoError(t, err)
	forged, _ := other.Mint("admin", auth.RoleAdmin, time.Hour)

	valid := map[string]auth.Role{"admin": auth.RoleAdmin, "clinician in team": auth.RoleClinician,
		"clinician not in team": auth.RoleClinician, "patient self": auth.RolePatient, "other patient": auth.RolePatient}
	principals := []principal{
		{"admin", mint("root", auth.RoleAdmin)},
		{"clinician in team", mint("doc-in", auth.RoleClinician)},
		{"clinician not in team", mint("doc-out", auth.RoleClinician)},
		{"patient self", mint("p1", auth.RolePatient)},
		{"other patient", mint("p2", auth.RolePatient)},
		{"no token", ""}, {"expired token", expired}, {"revoked token", revoked}, {"wrong signature", forged},
	}
	patientAnswer := map[string]int{"admin": 403, "clinician in team": 200, "clinician not in team": 403,
		"patient self": 200, "other patient": 403}

	for _, r := range Routes(a.d) {
		if r.Access == Public || r.Access == Self {
			continue // tested where they are built (sessions, visits, live)
		}
		method, path, _ := strings.Cut(r.Pattern, " ")
		path = strings.ReplaceAll(path, "{id}", "p1")
		// Other ids are of the right form and name nothing.
		path = strings.ReplaceAll(path, "{alert}", "1")
		path = strings.ReplaceAll(path, "{obs}", "none.z1.000000") // no vital type is "z"
		path = strings.ReplaceAll(path, "{vid}", "1")
		path = regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(path, "none")
		if strings.HasSuffix(path, "/aggregates") {
			path += "?type=heart_rate"
		}
		if strings.HasSuffix(path, "/readings.csv") {
			path += "?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
		}
		for _, p := range principals {
			role, isValid := valid[p.name]
			t.Run(r.Pattern+" as "+p.name, func(t *testing.T) {
				before := a.auditCount(t)
				got := a.call(method, path, p.token, "{}")
				switch {
				case r.Access == Patient:
					want, ok := patientAnswer[p.name]
					if !ok {
						want = http.StatusUnauthorized
					}
					if method == "POST" && want == http.StatusOK {
						// A change through the policy: the handler then
						// checks what it needs (a patient does not assess).
						if p.name == "patient self" {
							want = http.StatusForbidden
						} else {
							want = http.StatusBadRequest // "{}" is not an assessment
						}
						if strings.HasSuffix(path, "/visits") && p.name != "patient self" {
							want = http.StatusCreated // "{}" is a visit starting now
						}
					}
					require.Equal(t, want, got)
					require.Equal(t, before+1, a.auditCount(t), "one audit event per patient-data answer")
					actor, outcome, patient, _ := a.lastEvent(t)
					require.Equal(t, "p1", patient)
					if _, reached := patientAnswer[p.name]; reached && patientAnswer[p.name] == http.StatusOK {
						require.Equal(t, auth.Allowed, outcome)
					} else {
						require.Equal(t, auth.Refused, outcome)
					}
					if !isValid {
						require.Equal(t, "anonymous", actor)
					}
				case !isValid:
					require.Equal(t, http.StatusUnauthorized, got)
				default:
					allowed := false
					for _, x := range r.Roles {
						allowed = allowed || x == role
					}
					if allowed {
						require.NotContains(t, []int{401, 403}, got, "the route allows %s", role)
					} else {
						require.Equal(t, http.StatusForbidden, got)
					}
				}
			})
		}
	}
	t.Run("an undeclared route is not served", func(t *testing.T) {
		require.Equal(t, http.StatusNotFound, a.call("GET", "/api/v1/secrets", principals[0].token, ""))
	})
}

func TestBreakGlass(t *testing.T) {
	a := newFixture(t, fixtureOptions{breakGlassTTL: 2 * time.Second})
	ctx := context.Background()
	a.addPatient(t, "p1")
	doc := a.mint("doc-er", auth.RoleClinician)
	readings := "/api/v1/patients/p1/readings"

	require.Equal(t, http.StatusForbidden, a.call("GET", readings, doc, ""), "outside the care team")
	t.Run("refused without a reason", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, a.call("POST", "/api/v1/patients/p1/break-glass", doc, `{"reason":""}`))
		_, outcome, _, glass := a.lastEvent(t)
		require.Equal(t, auth.Refused, outcome)
		require.True(t, glass)
		require.Equal(t, http.StatusForbidden, a.call("GET", readings, doc, ""))
	})
	t.Run("with a reason, allowed for the configured time and flagged", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, a.call("POST", "/api/v1/patients/p1/break-glass", doc,
			`{"reason":"collapsed in the waiting room, care team unreachable"}`))
		require.Equal(t, http.StatusOK, a.call("GET", readings, doc, ""))
		actor, outcome, patient, glass := a.lastEvent(t)
		require.Equal(t, "doc-er", actor)
		require.Equal(t, auth.Allowed, outcome)
		require.Equal(t, "p1", patient)
		require.True(t, glass, "the access is flagged as break-glass")
	})
	t.Run("listed for review", func(t *testing.T) {
		gs, err := a.d.Glass.List(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, gs, 1)
		require.Equal(t, "doc-er", gs[0].Subject)
		require.Contains(t, gs[0].Reason, "collapsed")
		admin := a.mint("root", auth.RoleAdmin)
		require.Equal(t, http.StatusOK, a.call("GET", "/api/v1/break-glass", admin, ""))
	})
	t.Run("refused again once it expires", func(t *testing.T) {
		require.Eventually(t, func() bool { return a.call("GET", readings, doc, "") == http.StatusForbidden },
			5*time.Second, 50*time.Millisecond)
	})
}

func TestARevokedTokenIsRefusedAtOnce(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	admin := a.mint("root", auth.RoleAdmin)
	victim := a.mint("root", auth.RoleAdmin)
	require.Equal(t, http.StatusOK, a.call("GET", "/api/v1/devices", victim, ""))
	require.Equal(t, http.StatusNoContent, a.call("POST", "/api/v1/tokens/revoke", admin, `{"token":"`+victim+`"}`))
	require.Equal(t, http.StatusUnauthorized, a.call("GET", "/api/v1/devices", victim, ""))
	require.Equal(t, http.StatusOK, a.call("GET", "/api/v1/devices", admin, ""), "other tokens still work")
	pat := a.mint("p9", auth.RolePatient)
	require.Equal(t, http.StatusForbidden, a.call("POST", "/api/v1/tokens/revoke", pat, `{"token":"`+admin+`"}`),
		"a patient cannot revoke another's token")
}

func TestAnAccessThatCannotBeAuditedFails(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	a.addPatient(t, "p1")
	pat := a.mint("p1", auth.RolePatient)
	require.Equal(t, http.StatusOK, a.call("GET", "/api/v1/patients/p1/readings", pat, ""))
	// The audit table becomes unwritable.
	testenv.JamInserts(t, a.records, "audit_events")
	require.Equal(t, http.StatusServiceUnavailable, a.call("GET", "/api/v1/patients/p1/readings", pat, ""),
		"no audit event, no access")
	require.Equal(t, http.StatusServiceUnavailable, a.call("GET", "/api/v1/patients/p1", pat, ""))
}
