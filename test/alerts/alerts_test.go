// Package alerts_test holds the whole-service tests of alerts: they fire
// live on event time, are acted on and survive a restart; rules reload;
// clinicians' assessments, overrides and snoozes count; unacknowledged
// alerts escalate to the team's contacts; webhooks are signed and delivered
// once. The scored simulated day is behind the build tag "scored"
// (scored_day_test.go), a step of its own in .ci/run.
package alerts_test

import (
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestAlertsFireLiveAreActedOnAndSurviveARestartWithoutDuplicates(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	svc := harness.Start(t, cfg)
	svc.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	svc.AddTeam(t, "ward", "Ward")
	for _, c := range []string{"doc-a", "doc-b"} {
		svc.AddMember(t, "ward", "clinician", c)
	}
	svc.AddMember(t, "ward", "patient", "p1")
	secret := svc.AddDevice(t, "ring-1", "p1")
	docA, docB := svc.Clinician("doc-a"), svc.Clinician("doc-b")

	// Doctor B watches p1 live.
	conn, _, err := websocket.DefaultDialer.Dial(svc.WSURL()+"/ws/v1/live?access_token="+docB, nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1"}}))
	// The subscription is in place before anything is published: an alert
	// fired before it would not be sent.
	var ack struct{ Type, Patient string }
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	require.NoError(t, conn.ReadJSON(&ack))
	require.Equal(t, "subscribed", ack.Type, "the answer to the subscription")
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
	d := harness.Connect(t, svc.BrokerURL(), "ring-1", secret)
	start := time.Now().UTC().Add(-4 * time.Minute)
	var rs []string
	for s := 0; s <= 180; s += 10 {
		rs = append(rs, harness.Reading(vitals.SpO2, 87, "%", start.Add(time.Duration(s)*time.Second)))
	}
	d.Publish(harness.Batch(1, rs...))
	fired := nextAlert()
	require.Equal(t, "spo2_low", fired.Rule)
	require.Equal(t, alerts.Firing, fired.State)
	require.Equal(t, "p1", fired.Patient)
	require.WithinDuration(t, start.Add(2*time.Minute), fired.FiredAt, 15*time.Second, "fires when the 2 minutes are up, in event time")

	var list []alerts.Alert
	require.Equal(t, http.StatusOK, svc.Call(t, "GET", "/api/v1/alerts", docA, nil, &list))
	require.Equal(t, 1, countRule(list, "spo2_low"))
	require.Zero(t, countRule(list, "news2_single_3"), "NEWS2 needs 5 minutes; the data covers 3")

	// Doctor A acknowledges; doctor B's live view sees it.
	id := strconv.FormatInt(fired.ID, 10)
	var acked alerts.Alert
	require.Equal(t, http.StatusOK, svc.Call(t, "POST", "/api/v1/alerts/"+id+"/ack", docA, nil, &acked))
	require.Equal(t, "doc-a", acked.AckedBy)
	seen := nextAlert()
	require.Equal(t, alerts.Acknowledged, seen.State)
	require.Equal(t, "doc-a", seen.AckedBy)

	// A restart in the middle of the episode: the readings keep coming,
	// and no second alert opens.
	conn.Close()
	svc.Stop()
	svc2 := harness.Start(t, cfg)
	d2 := harness.Connect(t, svc2.BrokerURL(), "ring-1", secret)
	rs = rs[:0]
	for s := 190; s <= 230; s += 10 {
		rs = append(rs, harness.Reading(vitals.SpO2, 86, "%", start.Add(time.Duration(s)*time.Second)))
	}
	d2.Publish(harness.Batch(2, rs...))
	require.Equal(t, http.StatusOK, svc2.Call(t, "GET", "/api/v1/alerts?all=1", docA, nil, &list))
	require.Equal(t, 1, countRule(list, "spo2_low"), "still one alert per rule for the episode")

	// Resolving by hand needs a reason.
	require.Equal(t, http.StatusBadRequest, svc2.Call(t, "POST", "/api/v1/alerts/"+id+"/resolve", docA, `{"reason":""}`, nil))
	var resolved alerts.Alert
	require.Equal(t, http.StatusOK, svc2.Call(t, "POST", "/api/v1/alerts/"+id+"/resolve", docA, `{"reason":"probe repositioned"}`, &resolved))
	require.Equal(t, alerts.Resolved, resolved.State)

	t.Run("a clinician outside the care team sees none of it", func(t *testing.T) {
		other := svc2.Clinician("doc-x")
		var none []alerts.Alert
		require.Equal(t, http.StatusOK, svc2.Call(t, "GET", "/api/v1/alerts?all=1", other, nil, &none))
		require.Empty(t, none)
		require.Equal(t, http.StatusNotFound, svc2.Call(t, "POST", "/api/v1/alerts/"+id+"/ack", other, nil, nil), "answered as an alert that does not exist")
	})
}

func TestRulesReloadWithoutRestartAndABadFileChangesNothing(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	rulesFile := cfg.DataDir + "/rules.yaml"
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - {id: hr_high, kind: threshold, vital: heart_rate, above: 150}\n"), 0o600))
	cfg.Alerts.RulesFile = rulesFile
	svc := harness.Start(t, cfg)
	admin := svc.Admin()
	var got map[string]int
	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - {id: hr_high, kind: threshold, vital: heart_rate, above: 150}\n  - {id: hr_low, kind: threshold, vital: heart_rate, below: 35}\n"), 0o600))
	require.Equal(t, http.StatusOK, svc.Call(t, "POST", "/api/v1/rules/reload", admin, nil, &got))
	require.Equal(t, 2, got["rules"])

	require.NoError(t, os.WriteFile(rulesFile, []byte("rules:\n  - {id: broken, kind: threshold, vital: heart_rate}\n"), 0o600))
	require.Equal(t, http.StatusUnprocessableEntity, svc.Call(t, "POST", "/api/v1/rules/reload", admin, nil, nil))

	// The two rules stay in force: a heart rate of 30 still raises hr_low.
	svc.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "N", BirthDate: "1950-01-01"})
	secret := svc.AddDevice(t, "w1", "p1")
	d := harness.Connect(t, svc.BrokerURL(), "w1", secret)
	d.Publish(harness.Reading(vitals.HeartRate, 30, "/min", time.Now()))
	open := svc.Alerts(t, "p1", false)
	require.Len(t, open, 1)
	require.Equal(t, "hr_low", open[0].Rule)
}

func TestAClinicianAssessmentFeedsNEWS2(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	chartWard(t, svc, "p1", "doc")
	doc, pat := svc.Clinician("doc"), svc.Patient("p1")
	require.Equal(t, http.StatusForbidden, svc.Call(t, "POST", "/api/v1/patients/p1/assessment", pat, `{"consciousness":"alert"}`, nil))
	require.Equal(t, http.StatusBadRequest, svc.Call(t, "POST", "/api/v1/patients/p1/assessment", doc, `{"consciousness":"sleepy"}`, nil))

	secret := svc.AddDevice(t, "w1", "p1")
	d := harness.Connect(t, svc.BrokerURL(), "w1", secret)
	d.Publish(harness.Reading(vitals.HeartRate, 70, "/min", time.Now().Add(-9*time.Minute)))
	require.Empty(t, svc.Alerts(t, "p1", false), "a normal heart rate of an alert patient raises nothing")

	require.Equal(t, http.StatusNoContent, svc.Call(t, "POST", "/api/v1/patients/p1/assessment", doc, `{"consciousness":"voice","on_oxygen":true}`, nil))
	// Six minutes of readings (NEWS2 rules need five).
	var rs []string
	for m := 6; m >= 0; m-- {
		rs = append(rs, harness.Reading(vitals.HeartRate, 71, "/min", time.Now().Add(-time.Duration(m)*time.Minute)))
	}
	d.Publish(harness.Batch(1, rs...))
	var found bool
	for _, al := range svc.Alerts(t, "p1", false) {
		if al.Rule == "news2_single_3" {
			found = al.Partial
		}
	}
	require.True(t, found, "responds only to voice: a 3 in NEWS2, from a partial score")
}

func TestPerPatientOverridesAndSnoozes(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	chartWard(t, svc, "p1", "doc")
	doc := svc.Clinician("doc")

	// An athlete's heart runs fast: her own level is 150.
	require.Equal(t, http.StatusNoContent, svc.Call(t, "POST", "/api/v1/patients/p1/overrides", doc, `{"rule":"heart_rate_high","level":150,"clear":140}`, nil))
	require.Equal(t, http.StatusBadRequest, svc.Call(t, "POST", "/api/v1/patients/p1/overrides", doc, `{"rule":"no_such_rule","level":1}`, nil))
	// A known probe problem: spo2_low snoozed for an hour, with a reason.
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	require.Equal(t, http.StatusBadRequest, svc.Call(t, "POST", "/api/v1/patients/p1/snooze", doc, `{"rule":"spo2_low","until":"`+until+`","reason":""}`, nil))
	require.Equal(t, http.StatusCreated, svc.Call(t, "POST", "/api/v1/patients/p1/snooze", doc, `{"rule":"spo2_low","until":"`+until+`","reason":"finger probe loose, replaced at 14:00"}`, nil))

	secret := svc.AddDevice(t, "w1", "p1")
	d := harness.Connect(t, svc.BrokerURL(), "w1", secret)
	start := time.Now().UTC().Add(-7 * time.Minute)
	var rs []string
	for s := 0; s <= 360; s += 10 {
		at := start.Add(time.Duration(s) * time.Second)
		rs = append(rs, harness.Reading(vitals.HeartRate, 142, "/min", at), harness.Reading(vitals.SpO2, 88, "%", at))
	}
	d.Publish(harness.Batch(1, rs...))
	// The broker acknowledged the batch: its alerts are already decided.
	rules := map[string]bool{}
	for _, al := range svc.Alerts(t, "p1", false) {
		rules[al.Rule] = true
	}
	require.False(t, rules["heart_rate_high"], "142 is under her own level")
	require.False(t, rules["spo2_low"], "snoozed")
	require.True(t, rules["news2_single_3"], "SpO2 88 still scores 3 in NEWS2: the snooze is of one rule only")
}

// chartWard charts a patient in a new care team "ward" with the given
// clinicians.
func chartWard(t *testing.T, svc *harness.Service, patient string, clinicians ...string) {
	t.Helper()
	svc.AddPatient(t, chart.Patient{ID: patient, MRN: "M-" + patient, Name: "N", BirthDate: "1950-01-01"})
	svc.AddTeam(t, "ward", "Ward")
	for _, c := range clinicians {
		svc.AddMember(t, "ward", "clinician", c)
	}
	svc.AddMember(t, "ward", "patient", patient)
}
