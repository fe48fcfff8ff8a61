package measures_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestAPatientsReadingsExportAsCSVThroughThePolicy(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	devs["p1"].Publish(harness.Batch(1,
		harness.Reading(vitals.HeartRate, 72, "/min", base),
		harness.Reading(vitals.HeartRate, 75, "/min", base.Add(time.Minute)),
		`{"type":"blood_pressure","systolic":128,"diastolic":82,"unit":"mm[Hg]","time":"`+base.Add(2*time.Minute).UTC().Format(time.RFC3339Nano)+`"}`,
		harness.Reading(vitals.BodyTemperature, 98.6, "[degF]", base.Add(3*time.Minute)),
		harness.Reading(vitals.HeartRate, 99, "/min", base.Add(2*time.Hour)), // outside the range asked
	))
	s.WaitCount(t, "p1", vitals.HeartRate, base, base.Add(3*time.Hour), 3, 10*time.Second)
	q := url.Values{"from": {base.UTC().Format(time.RFC3339)}, "to": {base.Add(time.Hour).UTC().Format(time.RFC3339)}}
	path := "/api/v1/patients/p1/readings.csv?" + q.Encode()

	t.Run("a clinician of the care team downloads the range, every type, as CSV", func(t *testing.T) {
		status, body := s.Raw(t, "GET", path, s.Clinician("doc1"), "", "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, []string{"time", "type", "value", "diastolic", "unit", "device", "time_source"}, recs[0])
		byType := map[string][][]string{}
		for _, r := range recs[1:] {
			byType[r[1]] = append(byType[r[1]], r)
		}
		require.Len(t, recs, 5, "four readings in the range, the one two hours later not")
		require.Equal(t, []string{base.UTC().Format(time.RFC3339Nano), "heart_rate", "72", "", "/min", "watch-p1", "device"}, byType["heart_rate"][0])
		require.Equal(t, "75", byType["heart_rate"][1][2])
		require.Equal(t, []string{"128", "82", "mm[Hg]"}, byType["blood_pressure"][0][2:5], "systolic and diastolic")
		require.Equal(t, "Cel", byType["body_temperature"][0][4], "canonical unit")
		require.Equal(t, "37", byType["body_temperature"][0][2])
	})

	t.Run("another team's clinician is refused, and both answers are audited", func(t *testing.T) {
		status, _ := s.Raw(t, "GET", path, s.Clinician("doc3"), "", "", nil)
		require.Equal(t, http.StatusForbidden, status)
		var allowed, refused int
		for _, e := range s.Audit(t, "p1") {
			if e.Action == "GET /api/v1/patients/{id}/readings.csv" {
				if e.Outcome == "allowed" && e.Actor == "doc1" {
					allowed++
				}
				if e.Outcome != "allowed" && e.Actor == "doc3" {
					refused++
				}
			}
		}
		require.Equal(t, 1, allowed)
		require.Equal(t, 1, refused)
	})

	t.Run("an unbounded or malformed range is refused with a reason", func(t *testing.T) {
		for _, bad := range []string{"", "from=" + base.UTC().Format(time.RFC3339), "since=1h",
			"from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from=yesterday&to=today", "from=" + q.Get("from") + "&to=" + q.Get("to") + "&type=mood"} {
			status, body := s.Raw(t, "GET", "/api/v1/patients/p1/readings.csv?"+bad, s.Clinician("doc1"), "", "", nil)
			require.Equal(t, http.StatusBadRequest, status, bad)
			require.Contains(t, string(body), `"error":`, bad)
		}
	})
}
