package ops

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// With store.retention set, the SQLite store's readings older than it go
// (in bounded batches, counted, audited), and newer ones stay.
func TestRetentionDeletesOnlyReadingsPastIt(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Store.Retention = 365 * 24 * time.Hour
	cfg.Store.RetentionBatch = 100

	// The store as a year and a half of use left it.
	now := time.Now().UTC().Truncate(time.Second)
	oldest := now.AddDate(0, -18, 0)
	st, err := sqlitestore.Open(context.Background(), filepath.Join(cfg.DataDir, "vitals.db"))
	require.NoError(t, err)
	var batch []vitals.Reading
	for i := range 450 { // 450 readings 18 months ago
		batch = append(batch, vitals.Reading{Patient: "ret-p1", Device: "ret-w", Type: vitals.HeartRate, Value: 70, Time: oldest.Add(time.Duration(i) * time.Minute)})
	}
	recent := now.AddDate(0, -11, 0)
	for i := range 30 { // 30 eleven months ago
		batch = append(batch, vitals.Reading{Patient: "ret-p1", Device: "ret-w", Type: vitals.HeartRate, Value: 80, Time: recent.Add(time.Duration(i) * time.Minute)})
	}
	require.NoError(t, st.Write(context.Background(), batch))
	require.NoError(t, st.Close())

	svc := harness.Start(t, cfg)
	svc.AddPatient(t, chart.Patient{ID: "ret-p1", MRN: "M-R1", Name: "Retained Person", BirthDate: "1944-04-04"})
	require.Eventually(t, func() bool {
		return svc.Metrics(t)["vitalwire_vitals_retention_deleted_total"] == 450
	}, 20*time.Second, 50*time.Millisecond, "the 450 readings past a year are deleted")
	n, sum := svc.Stats(t, "ret-p1", vitals.HeartRate, oldest.Add(-time.Hour), now)
	require.Equal(t, int64(30), n, "the readings within the year stay")
	require.Equal(t, 30*80.0, sum)
	require.Positive(t, svc.Metrics(t)["vitalwire_vitals_retention_last_run_timestamp_seconds"])

	var audited bool
	for _, e := range svc.Audit(t, "") {
		if e.Actor == "system" && strings.Contains(e.Action, "retention") {
			require.Contains(t, e.Resource, "450 deleted")
			audited = true
		}
	}
	require.True(t, audited, "the deletion is in the audit trail")
	svc.Stop()
	code, report := svc.AuditVerify(t)
	require.Equal(t, 0, code, report)
}
