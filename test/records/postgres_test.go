// Package records_test holds the whole-service tests of the records
// database on PostgreSQL: the service runs on it from the first start,
// and an install moves its SQLite records there with `vitalwire records
// migrate`.
package records_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// ward sets up one patient with a pulse oximeter ring in a care team with
// one clinician, and uploads three minutes of desaturation, which fires
// spo2_low (below 90 for 2 minutes).
func ward(t *testing.T, svc *harness.Service, start time.Time) (secret string) {
	t.Helper()
	svc.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	svc.AddTeam(t, "ward", "Ward")
	svc.AddMember(t, "ward", "clinician", "doc-a")
	svc.AddMember(t, "ward", "patient", "p1")
	secret = svc.AddDevice(t, "ring-1", "p1")
	desaturate(t, svc, secret, start, 1, 0, 180)
	return secret
}

// desaturate uploads SpO2 87 from second from to second to after start.
func desaturate(t *testing.T, svc *harness.Service, secret string, start time.Time, seq, from, to int) {
	t.Helper()
	d := harness.Connect(t, svc.BrokerURL(), "ring-1", secret)
	var rs []string
	for s := from; s <= to; s += 10 {
		rs = append(rs, harness.Reading(vitals.SpO2, 87, "%", start.Add(time.Duration(s)*time.Second)))
	}
	d.Publish(harness.Batch(seq, rs...))
}

// signIn signs doc-a in with their password, as a clinician does in the
// browser; the first time, an admin's one-time link lets them set it.
func signIn(t *testing.T, svc *harness.Service, first bool) *harness.BrowserClient {
	t.Helper()
	if first {
		link := svc.SignInLinkFor(t, svc.Admin(), "doc-a", "clinician")
		b := svc.NewBrowserClient(t)
		code, body := b.SignInWithCode(harness.LinkCode(t, link.URL))
		require.Less(t, code, 300, body)
		code, body = b.Do("POST", "/api/v1/session/password", `{"username":"doc-a.login","password":"a passphrase of my own"}`)
		require.Equal(t, http.StatusNoContent, code, body)
	}
	b := svc.NewBrowserClient(t)
	code, body := b.Do("POST", "/api/v1/session", `{"username":"doc-a.login","password":"a passphrase of my own"}`)
	require.Less(t, code, 300, body)
	return b
}

// awaitAlert waits for the clinician's alert list to hold rule's alert.
func awaitAlert(t *testing.T, b *harness.BrowserClient, rule string) alerts.Alert {
	t.Helper()
	var found alerts.Alert
	require.Eventually(t, func() bool {
		code, body := b.Do("GET", "/api/v1/alerts?all=1", "")
		require.Equal(t, http.StatusOK, code, body)
		var list []alerts.Alert
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		for _, a := range list {
			if a.Rule == rule && a.Patient == "p1" {
				found = a
				return true
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond, "the clinician sees the %s alert", rule)
	return found
}

func spo2Observations(t *testing.T, b *harness.BrowserClient) int {
	t.Helper()
	code, body := b.Do("GET", "/fhir/r4/Observation?patient=p1", "")
	require.Equal(t, http.StatusOK, code, body)
	var bundle struct {
		ResourceType string
		Entry        []struct {
			Resource struct {
				ResourceType string
				Code         struct {
					Coding []struct{ System, Code string }
				}
				Subject struct{ Reference string }
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &bundle))
	require.Equal(t, "Bundle", bundle.ResourceType)
	n := 0
	for _, e := range bundle.Entry {
		require.Equal(t, "Patient/p1", e.Resource.Subject.Reference)
		for _, c := range e.Resource.Code.Coding {
			if c.System == "http://loinc.org" && (c.Code == "59408-5" || c.Code == "2708-6") {
				n++
				break
			}
		}
	}
	return n
}

func TestServeOnPostgresRecords(t *testing.T) {
	cfg := harness.Config(t)
	harness.UsePostgres(t, &cfg)
	svc := harness.Start(t, cfg) // the embedded broker, SQLite readings
	start := time.Now().UTC().Add(-4 * time.Minute)
	ward(t, svc, start)

	b := signIn(t, svc, true)
	fired := awaitAlert(t, b, "spo2_low")
	require.Equal(t, alerts.Firing, fired.State)
	require.WithinDuration(t, start.Add(2*time.Minute), fired.FiredAt, 15*time.Second)
	require.Equal(t, 19, spo2Observations(t, b), "every reading is an Observation")

	// The alert is in PostgreSQL, not in a file of the data folder.
	require.Equal(t, 1, countAlerts(t, cfg, "spo2_low"))
	require.NoFileExists(t, filepath.Join(cfg.DataDir, "records.db"))

	svc.Stop()
	code, out := svc.AuditVerify(t)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "audit chain intact")
}

func TestMigrateSQLiteRecordsToPostgres(t *testing.T) {
	cfg := harness.Config(t)
	cfg.Records = app.RecordsConfig{Kind: "sqlite"} // whatever VITALWIRE_TEST_RECORDS says
	svc := harness.Start(t, cfg)
	start := time.Now().UTC().Add(-6 * time.Minute)
	secret := ward(t, svc, start)
	b := signIn(t, svc, true)
	before := awaitAlert(t, b, "spo2_low")
	svc.Stop()
	sqlitePath := filepath.Join(cfg.DataDir, "records.db")

	moved := cfg
	harness.UsePostgres(t, &moved)
	migrate := func() (string, error) {
		a := cfg.Auth.Audit
		cmd := exec.Command(harness.Binary(t), "records", "migrate", "--from", "sqlite:"+sqlitePath, "--data-dir", cfg.DataDir,
			"--chain-key", a.ChainKeyFile, "--checkpoint-key", a.CheckpointKeyFile, "--checkpoints", a.CheckpointFile)
		cmd.Env = harness.RecordsEnv(moved)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := migrate()
	require.NoError(t, err, out)
	require.Contains(t, out, "every table's count matches; audit chain intact")
	out, err = migrate()
	require.Error(t, err, "a second copy into the same database is refused")
	require.Contains(t, out, "not empty")

	// The service on PostgreSQL has what it had on SQLite, and goes on:
	// the episode's alert is the same one, the clinician acts on it, and
	// a new alert takes an id after the copied ones.
	svc2 := harness.Start(t, moved)
	b2 := signIn(t, svc2, false)
	after := awaitAlert(t, b2, "spo2_low")
	require.Equal(t, before.ID, after.ID)
	require.True(t, before.FiredAt.Equal(after.FiredAt))
	var acked alerts.Alert
	require.Equal(t, http.StatusOK, svc2.Call(t, "POST", "/api/v1/alerts/"+strconv.FormatInt(after.ID, 10)+"/ack",
		svc2.Clinician("doc-a"), nil, &acked))
	require.Equal(t, alerts.Acknowledged, acked.State)
	desaturate(t, svc2, secret, start, 2, 190, 330) // NEWS2 scores SpO2 87 as 3, which fires after 5 minutes
	news2 := awaitAlert(t, b2, "news2_single_3")
	require.Greater(t, news2.ID, before.ID)
	require.Equal(t, 1, countAlerts(t, moved, "spo2_low"), "still one alert for the episode")

	svc2.Stop()
	code, vout := svc2.AuditVerify(t)
	require.Equal(t, 0, code, vout)
	require.Contains(t, vout, "audit chain intact")
}

func countAlerts(t *testing.T, cfg app.Config, rule string) int {
	t.Helper()
	var n int
	require.NoError(t, harness.OpenRecords(t, cfg).QueryRow(`SELECT count(*) FROM alerts WHERE rule = ? AND patient = 'p1'`, rule).Scan(&n))
	return n
}
