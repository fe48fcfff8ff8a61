package httpapi

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/live"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// fixture is the API over real components on a fresh SQLite folder: no
// broker, no ingester, no listener. The tests call its handler directly.
type fixture struct {
	h       http.Handler
	d       Deps
	records *sql.DB
}

type fixtureOptions struct {
	breakGlassTTL time.Duration
	// store replaces the SQLite vitals store (benchmarks on InfluxDB).
	store vitals.Store
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if o.breakGlassTTL == 0 {
		o.breakGlassTTL = time.Hour
	}
	records, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { records.Close() })
	store := o.store
	if store == nil {
		sq, err := sqlitestore.Open(ctx, filepath.Join(dir, "vitals.db"))
		require.NoError(t, err)
		t.Cleanup(func() { sq.Close() })
		store = sq
	}
	signer, err := auth.NewSigner([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	audit, err := auth.OpenAuditLog(ctx, records)
	require.NoError(t, err)
	revoked, err := auth.OpenRevocations(ctx, records)
	require.NoError(t, err)
	signer.CheckRevocations(revoked)
	glass, err := auth.OpenBreakGlass(ctx, records, o.breakGlassTTL)
	require.NoError(t, err)
	sessions := auth.NewSessions(records, 15*time.Minute, 12*time.Hour)
	reg, err := devices.Open(ctx, records)
	require.NoError(t, err)
	ch, err := chart.Open(ctx, records)
	require.NoError(t, err)
	var svc *alerts.Service
	engine := alerts.NewEngine(alerts.DefaultRules(), func(p string) alerts.PatientInfo {
		return alerts.PatientInfo{Scale: 1, Overrides: svc.Overrides(p)}
	})
	svc = alerts.NewService(engine, alerts.NewStore(records), nil, zerolog.Nop(), nil)
	sfu, err := telehealth.NewSFU(telehealth.Config{LoopbackOnly: true}, zerolog.Nop())
	require.NoError(t, err)
	visits := telehealth.NewVisits(records)
	encounters := chart.NewEncounters(records)
	d := Deps{
		Log: zerolog.Nop(), Metrics: prometheus.NewRegistry(), BaseURL: func() string { return "http://vitalwire.test" },
		Signer: signer, Sessions: sessions, Revoked: revoked, Glass: glass, Audit: audit,
		Gate:    &auth.Gate{Policy: &auth.Policy{Teams: ch, BreakGlass: glass}, Audit: audit},
		Watcher: auth.NewWatcher(sessions, revoked),
		Devices: reg, Chart: ch, Encounters: encounters, Store: store, Alerts: svc,
		ReloadRules: func() (int, error) { return len(alerts.DefaultRules().Rules), nil }, Hub: live.NewHub(),
		Visits: visits, SFU: sfu, Recorder: &telehealth.Recorder{Visits: visits, Encounters: encounters, Readings: store,
			Alerts: noAlerts{}, SFU: sfu, Lookback: time.Hour},
		JoinLinkTTL: time.Hour, SessionMaxAge: 12 * time.Hour,
		Ready:          func(context.Context) (map[string]any, bool) { return map[string]any{"status": "ready"}, true },
		Program:        rpm.New(records, rpm.DefaultConfig()),
		ProgramSources: rpm.Sources{Days: store, Visits: visits, Roster: ch},
	}
	h, err := New(d)
	require.NoError(t, err)
	return &fixture{h: h, d: d, records: records}
}

type noAlerts struct{}

func (noAlerts) AlertsBetween(context.Context, string, time.Time, time.Time) ([]chart.EncounterAlert, error) {
	return nil, nil
}

func (f *fixture) mint(sub string, role auth.Role) string {
	tok, _ := f.d.Signer.Mint(sub, role, time.Hour)
	return tok
}

func (f *fixture) call(method, path, token, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code
}

func (f *fixture) auditCount(t *testing.T) int64 {
	var n int64
	require.NoError(t, f.records.QueryRow(`SELECT count(*) FROM audit_events`).Scan(&n))
	return n
}

func (f *fixture) lastEvent(t *testing.T) (actor, outcome, patient string, glass bool) {
	require.NoError(t, f.records.QueryRow(`SELECT actor, outcome, patient, break_glass FROM audit_events ORDER BY seq DESC LIMIT 1`).
		Scan(&actor, &outcome, &patient, &glass))
	return
}

func (f *fixture) addPatient(t *testing.T, id string) {
	_, err := f.d.Chart.AddPatient(context.Background(), chart.Patient{ID: id, MRN: "MRN-" + id, Name: "Name " + id, BirthDate: "1950-01-01"})
	require.NoError(t, err)
}
