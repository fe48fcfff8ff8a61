package alerts_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// An alert the records database refuses to store is not lost: the
// transition is kept beside the records and written when they answer
// again, in the same run or after a restart.
func TestAnAlertTheRecordsRefuseIsStoredWhenTheyAnswerAgain(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	svc := harness.Start(t, cfg)
	svc.AddTeam(t, "ward", "Ward")
	svc.AddMember(t, "ward", "clinician", "doc-a")
	secrets := map[string]string{}
	for _, p := range []string{"p1", "p2"} {
		svc.AddPatient(t, chart.Patient{ID: p, MRN: "M" + p, Name: "N", BirthDate: "1950-01-01"})
		svc.AddMember(t, "ward", "patient", p)
		secrets[p] = svc.AddDevice(t, "ring-"+p, p)
	}
	kept := filepath.Join(cfg.DataDir, "alert-transitions.json")
	records := harness.OpenRecords(t, cfg)
	start := time.Now().UTC().Add(-4 * time.Minute)
	desaturate := func(svc *harness.Service, patient string) {
		d := harness.Connect(t, svc.BrokerURL(), "ring-"+patient, secrets[patient])
		var rs []string
		for s := 0; s <= 180; s += 10 {
			rs = append(rs, harness.Reading(vitals.SpO2, 87, "%", start.Add(time.Duration(s)*time.Second)))
		}
		d.Publish(harness.Batch(1, rs...))
	}
	spo2Low := func(svc *harness.Service, patient string) int {
		var list []alerts.Alert
		require.Equal(t, http.StatusOK, svc.Call(t, "GET", "/api/v1/alerts?all=1", svc.Clinician("doc-a"), nil, &list))
		n := 0
		for _, a := range list {
			if a.Rule == "spo2_low" && a.Patient == patient {
				n++
			}
		}
		return n
	}

	// The records refuse alerts while p1 desaturates.
	unjam := testenv.JamInserts(t, records, "alerts")
	desaturate(svc, "p1")
	require.Eventually(t, func() bool { return fileExists(kept) }, 15*time.Second, 50*time.Millisecond,
		"the refused transition is kept")
	require.Zero(t, spo2Low(svc, "p1"))
	unjam()
	require.Eventually(t, func() bool { return spo2Low(svc, "p1") == 1 }, 15*time.Second, 100*time.Millisecond,
		"stored once the records answer again")
	require.NoFileExists(t, kept)

	// Refused again for p2, and the service stops before the records answer.
	unjam = testenv.JamInserts(t, records, "alerts")
	desaturate(svc, "p2")
	require.Eventually(t, func() bool { return fileExists(kept) }, 15*time.Second, 50*time.Millisecond)
	svc.Stop()
	unjam()
	svc2 := harness.Start(t, cfg)
	require.Eventually(t, func() bool { return spo2Low(svc2, "p2") == 1 }, 15*time.Second, 100*time.Millisecond,
		"stored by the next run")
	require.Equal(t, 1, spo2Low(svc2, "p1"), "nothing written twice")
	require.NoFileExists(t, kept)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
