package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/vitals"
)

// runApp starts the service and returns a function that stops it.
func runApp(t *testing.T, cfg app.Config) (*app.App, func()) {
	t.Helper()
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	a, err := app.New(context.Background(), cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel), app.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(stop)
	return a, stop
}

func apiCall(t *testing.T, a *app.App, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, a.URL()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func TestAlertsFireLiveAreActedOnAndSurviveARestartWithoutDuplicates(t *testing.T) {
	cfg := testConfig(t)
	cfg.Broker.Addr = "127.0.0.1:0"
	a, stop := runApp(t, cfg)
	ctx := context.Background()
	_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	require.NoError(t, err)
	require.NoError(t, a.Chart.AddTeam(ctx, "ward", "Ward"))
	for _, c := range []string{"doc-a", "doc-b"} {
		require.NoError(t, a.Chart.AddMember(ctx, "ward", "clinician", c))
	}
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "patient", "p1"))
	secret := addDevice(t, a, "ring-1", "p1")
	docA, _ := a.Signer.Mint("doc-a", auth.RoleClinician, time.Hour)
	docB, _ := a.Signer.Mint("doc-b", auth.RoleClinician, time.Hour)

	// Doctor B watches p1 live.
	wsURL := strings.Replace(a.URL(), "http://", "ws://", 1) + "/ws/v1/live?access_token=" + docB
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1"}}))
	// This test follows the spo2_low alert (an SpO2 of 87 also scores 3 in
	// NEWS2, which fires after 5 minutes).
	nextAlert := func() alerts.Alert {
		t.Helper()
		for {
			var m struct {
				Type  string
				Alert alerts.Alert
			}
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			require.NoError(t, conn.ReadJSON(&m))
			if m.Type == "alert" && m.Alert.Rule == "spo2_low" {
				return m.Alert
			}
		}
	}
	countRule := func(list []alerts.Alert, rule string) int {
		n := 0
		for _, x := range list {
			if x.Rule == rule {
				n++
			}
		}
		return n
	}

	// Three minutes of desaturation, uploaded as the ring does.
	d := connectDevice(t, "tcp://"+a.BrokerAddr(), "ring-1", secret)
	start := time.Now().UTC().Add(-4 * time.Minute)
	var rs []string
	for s := 0; s <= 180; s += 10 {
		rs = append(rs, reading(vitals.SpO2, 87, "%", start.Add(time.Duration(s)*time.Second)))
	}
	d.publish(batch(1, rs...))
	fired := nextAlert()
	require.Equal(t, "spo2_low", fired.Rule)
	require.Equal(t, alerts.Firing, fired.State)
	require.Equal(t, "p1", fired.Patient)
	require.WithinDuration(t, start.Add(2*time.Minute), fired.FiredAt, 15*time.Second, "fires when the 2 minutes are up, in event time")

	var list []alerts.Alert
	require.Equal(t, http.StatusOK, apiCall(t, a, "GET", "/api/v1/alerts", docA, "", &list))
	require.Equal(t, 1, countRule(list, "spo2_low"))
	require.Zero(t, countRule(list, "news2_single_3"), "NEWS2 needs 5 minutes; the data covers 3")

	// Doctor A acknowledges; doctor B's live view sees it.
	var acked alerts.Alert
	require.Equal(t, http.StatusOK, apiCall(t, a, "POST", "/api/v1/alerts/"+itoa(fired.ID)+"/ack", docA, "", &acked))
	require.Equal(t, "doc-a", acked.AckedBy)
	seen := nextAlert()
	require.Equal(t, alerts.Acknowledged, seen.State)
	require.Equal(t, "doc-a", seen.AckedBy)

	// A restart in the middle of the episode: the readings keep coming,
	// and no second alert opens.
	conn.Close()
	stop()
	a2, _ := runApp(t, cfg)
	d2 := connectDevice(t, "tcp://"+a2.BrokerAddr(), "ring-1", secret)
	rs = rs[:0]
	for s := 190; s <= 230; s += 10 {
		rs = append(rs, reading(vitals.SpO2, 86, "%", start.Add(time.Duration(s)*time.Second)))
	}
	d2.publish(batch(2, rs...))
	require.Equal(t, http.StatusOK, apiCall(t, a2, "GET", "/api/v1/alerts?all=1", docA, "", &list))
	require.Equal(t, 1, countRule(list, "spo2_low"), "still one alert per rule for the episode")

	// Resolving by hand needs a reason.
	require.Equal(t, http.StatusBadRequest, apiCall(t, a2, "POST", "/api/v1/alerts/"+itoa(fired.ID)+"/resolve", docA, `{"reason":""}`, nil))
	var resolved alerts.Alert
	require.Equal(t, http.StatusOK, apiCall(t, a2, "POST", "/api/v1/alerts/"+itoa(fired.ID)+"/resolve", docA, `{"reason":"probe repositioned"}`, &resolved))
	require.Equal(t, alerts.Resolved, resolved.State)

	t.Run("a clinician outside the care team sees none of it", func(t *testing.T) {
		other, _ := a2.Signer.Mint("doc-x", auth.RoleClinician, time.Hour)
		var none []alerts.Alert
		require.Equal(t, http.StatusOK, apiCall(t, a2, "GET", "/api/v1/alerts?all=1", other, "", &none))
		require.Empty(t, none)
		require.Equal(t, http.StatusForbidden, apiCall(t, a2, "POST", "/api/v1/alerts/"+itoa(fired.ID)+"/ack", other, "", nil))
	})
}

func itoa(n int64) string { return strconvFormat(n) }

func strconvFormat(n int64) string { return strconv.FormatInt(n, 10) }

func TestRulesReloadWithoutRestartAndABadFileChangesNothing(t *testing.T) {
	cfg := testConfig(t)
	rulesFile := cfg.DataDir + "/rules.yaml"
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - {id: hr_high, kind: threshold, vital: heart_rate, above: 150}\n"), 0o600))
	cfg.Alerts.RulesFile = rulesFile
	a := startApp(t, cfg)
	admin, _ := a.Signer.Mint("root", auth.RoleAdmin, time.Hour)
	var got map[string]int
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - {id: hr_high, kind: threshold, vital: heart_rate, above: 150}\n  - {id: hr_low, kind: threshold, vital: heart_rate, below: 35}\n"), 0o600))
	require.Equal(t, http.StatusOK, apiCall(t, a, "POST", "/api/v1/rules/reload", admin, "", &got))
	require.Equal(t, 2, got["rules"])

	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - {id: broken, kind: threshold, vital: heart_rate}\n"), 0o600))
	require.Equal(t, http.StatusUnprocessableEntity, apiCall(t, a, "POST", "/api/v1/rules/reload", admin, "", nil))

	// The two rules stay in force: a heart rate of 30 still raises hr_low.
	_, err := a.Chart.AddPatient(context.Background(), chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	require.NoError(t, err)
	secret := addDevice(t, a, "w1", "p1")
	d := connectDevice(t, "tcp://"+a.BrokerAddr(), "w1", secret)
	d.publish(reading(vitals.HeartRate, 30, "/min", time.Now()))
	open, err := a.Alerts.Store().List(context.Background(), []string{"p1"}, true, 10)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, "hr_low", open[0].Rule)
}

func TestAClinicianAssessmentFeedsNEWS2(t *testing.T) {
	a := startApp(t, testConfig(t))
	ctx := context.Background()
	chartWard(t, a, "p1", "doc")
	doc, _ := a.Signer.Mint("doc", auth.RoleClinician, time.Hour)
	pat, _ := a.Signer.Mint("p1", auth.RolePatient, time.Hour)
	require.Equal(t, http.StatusForbidden, apiCall(t, a, "POST", "/api/v1/patients/p1/assessment", pat, `{"consciousness":"alert"}`, nil))
	require.Equal(t, http.StatusBadRequest, apiCall(t, a, "POST", "/api/v1/patients/p1/assessment", doc, `{"consciousness":"sleepy"}`, nil))

	secret := addDevice(t, a, "w1", "p1")
	d := connectDevice(t, "tcp://"+a.BrokerAddr(), "w1", secret)
	d.publish(reading(vitals.HeartRate, 70, "/min", time.Now().Add(-9*time.Minute)))
	list := func() []alerts.Alert {
		l, err := a.Alerts.Store().List(ctx, []string{"p1"}, true, 10)
		require.NoError(t, err)
		return l
	}
	require.Empty(t, list(), "a normal heart rate of an alert patient raises nothing")

	require.Equal(t, http.StatusNoContent, apiCall(t, a, "POST", "/api/v1/patients/p1/assessment", doc, `{"consciousness":"voice","on_oxygen":true}`, nil))
	// Six minutes of readings (NEWS2 rules need five).
	var rs []string
	for m := 6; m >= 0; m-- {
		rs = append(rs, reading(vitals.HeartRate, 71, "/min", time.Now().Add(-time.Duration(m)*time.Minute)))
	}
	d.publish(batch(1, rs...))
	var found bool
	for _, al := range list() {
		if al.Rule == "news2_single_3" {
			found = al.Partial
		}
	}
	require.True(t, found, "responds only to voice: a 3 in NEWS2, from a partial score")
}

func TestPerPatientOverridesAndSnoozes(t *testing.T) {
	a := startApp(t, testConfig(t))
	ctx := context.Background()
	chartWard(t, a, "p1", "doc")
	var err error
	doc, _ := a.Signer.Mint("doc", auth.RoleClinician, time.Hour)

	// An athlete's heart runs fast: her own level is 150.
	require.Equal(t, http.StatusNoContent, apiCall(t, a, "POST", "/api/v1/patients/p1/overrides", doc, `{"rule":"heart_rate_high","level":150,"clear":140}`, nil))
	require.Equal(t, http.StatusBadRequest, apiCall(t, a, "POST", "/api/v1/patients/p1/overrides", doc, `{"rule":"no_such_rule","level":1}`, nil))
	// A known probe problem: spo2_low snoozed for an hour, with a reason.
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	require.Equal(t, http.StatusBadRequest, apiCall(t, a, "POST", "/api/v1/patients/p1/snooze", doc, `{"rule":"spo2_low","until":"`+until+`","reason":""}`, nil))
	require.Equal(t, http.StatusCreated, apiCall(t, a, "POST", "/api/v1/patients/p1/snooze", doc, `{"rule":"spo2_low","until":"`+until+`","reason":"finger probe loose, replaced at 14:00"}`, nil))

	secret := addDevice(t, a, "w1", "p1")
	d := connectDevice(t, "tcp://"+a.BrokerAddr(), "w1", secret)
	start := time.Now().UTC().Add(-7 * time.Minute)
	var rs []string
	for s := 0; s <= 360; s += 10 {
		at := start.Add(time.Duration(s) * time.Second)
		rs = append(rs, reading(vitals.HeartRate, 142, "/min", at), reading(vitals.SpO2, 88, "%", at))
	}
	d.publish(batch(1, rs...))
	// The broker acknowledged the batch: its alerts are already decided.
	open, err := a.Alerts.Store().List(ctx, []string{"p1"}, true, 10)
	require.NoError(t, err)
	rules := map[string]bool{}
	for _, al := range open {
		rules[al.Rule] = true
	}
	require.False(t, rules["heart_rate_high"], "142 is under her own level")
	require.False(t, rules["spo2_low"], "snoozed")
	require.True(t, rules["news2_single_3"], "SpO2 88 still scores 3 in NEWS2: the snooze is of one rule only")
}

// chartWard charts a patient in care team "ward" with the given clinicians.
func chartWard(t *testing.T, a *app.App, patient string, clinicians ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: patient, MRN: "M-" + patient, Name: "N", BirthDate: "1950-01-01"})
	require.NoError(t, err)
	if err := a.Chart.AddTeam(ctx, "ward", "Ward"); err != nil {
		require.ErrorIs(t, err, chart.ErrExists)
	}
	for _, c := range clinicians {
		require.NoError(t, a.Chart.AddMember(ctx, "ward", "clinician", c))
	}
	require.NoError(t, a.Chart.AddMember(ctx, "ward", "patient", patient))
}
