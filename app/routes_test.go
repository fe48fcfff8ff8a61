package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
)

// newTestApp wires the service on a fresh data folder without running it:
// the tests call its HTTP handler directly.
func newTestApp(t *testing.T, tune func(*Config)) *App {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Broker.Embedded = false
	cfg.MQTT.Broker = "tcp://127.0.0.1:1" // never connected: Run is not called
	if tune != nil {
		tune(&cfg)
	}
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	a, err := New(context.Background(), cfg, zerolog.Nop(), Options{})
	require.NoError(t, err)
	t.Cleanup(a.close)
	return a
}

type principal struct {
	name, token string
}

func call(h http.Handler, method, path, token, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func auditCount(t *testing.T, a *App) int64 {
	var n int64
	require.NoError(t, a.records.QueryRow(`SELECT count(*) FROM audit_events`).Scan(&n))
	return n
}

func lastEvent(t *testing.T, a *App) (actor, outcome, patient string, glass bool) {
	require.NoError(t, a.records.QueryRow(`SELECT actor, outcome, patient, break_glass FROM audit_events ORDER BY seq DESC LIMIT 1`).
		Scan(&actor, &outcome, &patient, &glass))
	return
}

func TestEveryRouteAndRoleGetsTheRightAnswerAndPatientDataIsAudited(t *testing.T) {
	a := newTestApp(t, nil)
	ctx := context.Background()
	for _, p := range []string{"p1", "p2"} {
		_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: p, MRN: "MRN-" + p, Name: "Name " + p, BirthDate: "1950-01-01"})
		require.NoError(t, err)
	}
	require.NoError(t, a.Chart.AddTeam(ctx, "ward-1", "Ward 1"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward-1", "clinician", "doc-in"))
	require.NoError(t, a.Chart.AddMember(ctx, "ward-1", "patient", "p1"))

	mint := func(sub string, role auth.Role) string { tok, _ := a.Signer.Mint(sub, role, time.Hour); return tok }
	expired, _ := a.Signer.Mint("doc-in", auth.RoleClinician, -time.Minute)
	revoked, revokedClaims := a.Signer.Mint("doc-in", auth.RoleClinician, time.Hour)
	require.NoError(t, a.Revoked.Revoke(ctx, revokedClaims))
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

	h := a.routes()
	for _, r := range a.routeTable() {
		if r.public || r.self {
			continue // tested where they are built (sessions, visits)
		}
		method, path, _ := strings.Cut(r.pattern, " ")
		path = strings.ReplaceAll(path, "{id}", "p1")
		if strings.HasSuffix(path, "/aggregates") {
			path += "?type=heart_rate"
		}
		for _, p := range principals {
			role, isValid := valid[p.name]
			t.Run(r.pattern+" as "+p.name, func(t *testing.T) {
				before := auditCount(t, a)
				got := call(h, method, path, p.token, "{}")
				switch {
				case r.patient:
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
					require.Equal(t, before+1, auditCount(t, a), "one audit event per patient-data answer")
					actor, outcome, patient, _ := lastEvent(t, a)
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
					for _, x := range r.roles {
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
		require.Equal(t, http.StatusNotFound, call(h, "GET", "/api/v1/secrets", principals[0].token, ""))
	})
}

func TestBreakGlass(t *testing.T) {
	a := newTestApp(t, func(c *Config) { c.Auth.BreakGlassTTL = 2 * time.Second })
	ctx := context.Background()
	_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1960-02-03"})
	require.NoError(t, err)
	h := a.routes()
	doc, _ := a.Signer.Mint("doc-er", auth.RoleClinician, time.Hour)
	readings := "/api/v1/patients/p1/readings"

	require.Equal(t, http.StatusForbidden, call(h, "GET", readings, doc, ""), "outside the care team")
	t.Run("refused without a reason", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, call(h, "POST", "/api/v1/patients/p1/break-glass", doc, `{"reason":""}`))
		_, outcome, _, glass := lastEvent(t, a)
		require.Equal(t, auth.Refused, outcome)
		require.True(t, glass)
		require.Equal(t, http.StatusForbidden, call(h, "GET", readings, doc, ""))
	})
	t.Run("with a reason, allowed for the configured time and flagged", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, call(h, "POST", "/api/v1/patients/p1/break-glass", doc,
			`{"reason":"collapsed in the waiting room, care team unreachable"}`))
		require.Equal(t, http.StatusOK, call(h, "GET", readings, doc, ""))
		actor, outcome, patient, glass := lastEvent(t, a)
		require.Equal(t, "doc-er", actor)
		require.Equal(t, auth.Allowed, outcome)
		require.Equal(t, "p1", patient)
		require.True(t, glass, "the access is flagged as break-glass")
	})
	t.Run("listed for review", func(t *testing.T) {
		gs, err := a.Glass.List(ctx, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, gs, 1)
		require.Equal(t, "doc-er", gs[0].Subject)
		require.Contains(t, gs[0].Reason, "collapsed")
		admin, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
		require.Equal(t, http.StatusOK, call(h, "GET", "/api/v1/break-glass", admin, ""))
	})
	t.Run("refused again once it expires", func(t *testing.T) {
		require.Eventually(t, func() bool { return call(h, "GET", readings, doc, "") == http.StatusForbidden },
			5*time.Second, 50*time.Millisecond)
	})
}

func TestARevokedTokenIsRefusedAtOnce(t *testing.T) {
	a := newTestApp(t, nil)
	h := a.routes()
	admin, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
	victim, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
	require.Equal(t, http.StatusOK, call(h, "GET", "/api/v1/devices", victim, ""))
	require.Equal(t, http.StatusNoContent, call(h, "POST", "/api/v1/tokens/revoke", admin, `{"token":"`+victim+`"}`))
	require.Equal(t, http.StatusUnauthorized, call(h, "GET", "/api/v1/devices", victim, ""))
	require.Equal(t, http.StatusOK, call(h, "GET", "/api/v1/devices", admin, ""), "other tokens still work")
	pat, _ := a.Signer.Mint("p9", auth.RolePatient, time.Hour)
	require.Equal(t, http.StatusForbidden, call(h, "POST", "/api/v1/tokens/revoke", pat, `{"token":"`+admin+`"}`),
		"a patient cannot revoke another's token")
}

func TestAnAccessThatCannotBeAuditedFails(t *testing.T) {
	a := newTestApp(t, nil)
	ctx := context.Background()
	_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1960-02-03"})
	require.NoError(t, err)
	pat, _ := a.Signer.Mint("p1", auth.RolePatient, time.Hour)
	h := a.routes()
	require.Equal(t, http.StatusOK, call(h, "GET", "/api/v1/patients/p1/readings", pat, ""))
	// The audit table becomes unwritable.
	_, err = a.records.Exec(`CREATE TRIGGER audit_jammed BEFORE INSERT ON audit_events BEGIN SELECT RAISE(FAIL, 'disk full'); END`)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, call(h, "GET", "/api/v1/patients/p1/readings", pat, ""),
		"no audit event, no access")
	require.Equal(t, http.StatusServiceUnavailable, call(h, "GET", "/api/v1/patients/p1", pat, ""))
}
