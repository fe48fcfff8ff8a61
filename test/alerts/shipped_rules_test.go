package alerts_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// cuffReading renders a blood pressure of the MQTT contract.
func cuffReading(systolic, diastolic float64, at time.Time) string {
	return fmt.Sprintf(`{"type":"blood_pressure","systolic":%v,"diastolic":%v,"unit":"mm[Hg]","time":%q}`,
		systolic, diastolic, at.UTC().Format(time.RFC3339Nano))
}

// openRule is the patient's open alert of a rule, if any.
func openRule(t *testing.T, svc *harness.Service, patient, rule string) (alerts.Alert, bool) {
	t.Helper()
	for _, al := range svc.Alerts(t, patient, false) {
		if al.Rule == rule {
			return al, true
		}
	}
	return alerts.Alert{}, false
}

func TestACuffReadingOf190Over120ThreeTimesIn10MinutesRaisesHypertension(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	chartWard(t, svc, "p1", "doc")
	d := harness.Connect(t, svc.BrokerURL(), "cuff-1", svc.AddDevice(t, "cuff-1", "p1"))

	start := time.Now().UTC().Add(-9 * time.Minute)
	d.Publish(cuffReading(190, 120, start))
	_, open := openRule(t, svc, "p1", "hypertension_systolic")
	require.False(t, open, "one reading is not confirmed: the cuff is repeated first")

	d.Publish(cuffReading(192, 121, start.Add(4*time.Minute)))
	d.Publish(cuffReading(190, 120, start.Add(8*time.Minute)))
	sys, ok := openRule(t, svc, "p1", "hypertension_systolic")
	require.True(t, ok, "190/120 three times in 10 minutes is a hypertensive crisis (ACC/AHA 2017)")
	require.Equal(t, alerts.High, sys.Severity)
	require.WithinDuration(t, start.Add(4*time.Minute), sys.FiredAt, time.Second, "confirmed by the repeat")
	_, ok = openRule(t, svc, "p1", "hypertension_diastolic")
	require.True(t, ok, "a diastolic of 120 or more is one too")
}

func TestALateCGMUploadIsJudgedAsItHappened(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	chartWard(t, svc, "p1", "doc")
	d := harness.Connect(t, svc.BrokerURL(), "cgm-1", svc.AddDevice(t, "cgm-1", "p1"))

	// The phone was out of reach: 40 minutes of a falling glucose arrive
	// at once, a reading every 5 minutes, under 70 from 35 minutes ago and
	// under 54 from 25 minutes ago.
	now := time.Now().UTC()
	first := now.Add(-40 * time.Minute)
	values := []float64{80, 66, 62, 52, 50, 49, 48, 47, 46}
	var rs []string
	for i, v := range values {
		rs = append(rs, harness.Reading(vitals.BloodGlucose, v, "mg/dL", first.Add(time.Duration(i)*5*time.Minute)))
	}
	d.Publish(harness.Batch(1, rs...))

	veryLow, ok := openRule(t, svc, "p1", "glucose_very_low")
	require.True(t, ok)
	require.WithinDuration(t, first.Add(15*time.Minute), veryLow.FiredAt, time.Second, "dated from when glucose first fell below 54")
	low, ok := openRule(t, svc, "p1", "glucose_low")
	require.True(t, ok, "under 70 for 35 minutes, as the upload shows")
	require.WithinDuration(t, first.Add(5*time.Minute+15*time.Minute), low.FiredAt, time.Second, "15 minutes after it first fell below 70")
}

func TestNEWS2WithConsciousnessUnrecordedIsMarkedPartial(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	chartWard(t, svc, "p1", "doc")
	doc := svc.Clinician("doc")
	d := harness.Connect(t, svc.BrokerURL(), "patch-1", svc.AddDevice(t, "patch-1", "p1"))
	at := time.Now().UTC().Add(-time.Minute)
	d.Publish(harness.Batch(1,
		harness.Reading(vitals.HeartRate, 70, "/min", at),
		harness.Reading(vitals.RespiratoryRate, 16, "/min", at),
		harness.Reading(vitals.SpO2, 97, "%", at),
		harness.Reading(vitals.BodyTemperature, 36.8, "Cel", at),
		cuffReading(120, 80, at)))

	news2 := func() (missing []string, partial bool) {
		t.Helper()
		var dash struct {
			Tiles []struct {
				NEWS2 *struct {
					Partial bool     `json:"partial"`
					Missing []string `json:"missing"`
				} `json:"news2"`
			} `json:"tiles"`
		}
		require.Equal(t, http.StatusOK, svc.Call(t, "GET", "/api/v1/dashboard", doc, nil, &dash))
		require.Len(t, dash.Tiles, 1)
		require.NotNil(t, dash.Tiles[0].NEWS2)
		return dash.Tiles[0].NEWS2.Missing, dash.Tiles[0].NEWS2.Partial
	}
	missing, partial := news2()
	require.True(t, partial, "every vital measured, but nobody recorded consciousness")
	require.Equal(t, []string{"consciousness"}, missing)

	// The dashboard tile says so.
	tab := svc.SignIn(t, testenv.StartBrowser(t), "doc", auth.RoleClinician)
	badge := `document.querySelector('li.tile header').textContent`
	tab.Wait(badge+`.includes('NEWS2 0 · low · partial: consciousness not recorded')`, 10*time.Second)
	tab.Screenshot("partial")
	svc.WaitSubscribed(t, "doc", "p1", 10*time.Second)

	require.Equal(t, http.StatusNoContent, svc.Call(t, "POST", "/api/v1/patients/p1/assessment", doc, `{"consciousness":"alert"}`, nil))
	d.Publish(harness.Reading(vitals.HeartRate, 71, "/min", time.Now()))
	missing, partial = news2()
	require.False(t, partial, "complete once a clinician assessed the patient")
	require.Empty(t, missing)
	tab.Wait(badge+`.includes('NEWS2 0 · low') && !`+badge+`.includes('partial')`, 10*time.Second)
}
