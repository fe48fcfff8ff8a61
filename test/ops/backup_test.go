package ops

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// cliConfig writes the YAML an operator's CLI reads for cfg's install:
// its data folder and its audit keys' places.
func cliConfig(t testing.TB, cfg app.Config) string {
	t.Helper()
	a := cfg.Auth.Audit
	path := filepath.Join(t.TempDir(), "vitalwire.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `data_dir: %s
auth:
  audit:
    chain_key_file: %s
    checkpoint_key_file: %s
    checkpoint_file: %s
`, cfg.DataDir, a.ChainKeyFile, a.CheckpointKeyFile, a.CheckpointFile), 0o600))
	return path
}

// A backup taken while devices upload and people read (and the audit trail
// grows) restores into a new data folder, and the service started there
// has the readings and an audit trail that verifies.
func TestBackupUnderWritesRestoresIntoAWorkingService(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	svc := harness.Start(t, cfg)
	svc.AddPatient(t, chart.Patient{ID: "bk-p1", MRN: "M-BK1", Name: "Backup Person", BirthDate: "1955-05-05"})
	secret := svc.AddDevice(t, "bk-watch", "bk-p1")
	d := harness.Connect(t, svc.BrokerURL(), "bk-watch", secret)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	var known []string
	for i := range 60 {
		known = append(known, harness.Reading(vitals.HeartRate, float64(60+i%30), "/min", start.Add(time.Duration(i)*time.Second)))
	}
	d.Publish(harness.Batch(1, known...))
	svc.WaitCount(t, "bk-p1", vitals.HeartRate, start, start.Add(time.Minute), 60, 10*time.Second)

	// Writers: a device uploading and a patient reading (each read is an
	// audit event), until the backup is done.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var uploads atomic.Int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.Publish(harness.Reading(vitals.HeartRate, 70, "/min", start.Add(10*time.Minute+time.Duration(i)*time.Second)))
			uploads.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _, _ = svc.Count("bk-p1", vitals.HeartRate, start, start.Add(time.Hour))
		}
	}()
	time.Sleep(200 * time.Millisecond)
	conf := cliConfig(t, svc.Config())
	out := filepath.Join(t.TempDir(), "backup")
	code, stdout, stderr := runBin(t, "backup", "--config", conf, "--out", out)
	close(stop)
	wg.Wait()
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "audit chain intact")
	require.Positive(t, uploads.Load(), "the device uploaded during the backup")
	var m struct {
		Files       map[string]string `json:"files"`
		AuditEvents int64             `json:"audit_events"`
		Readings    *int64            `json:"readings"`
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	require.Contains(t, m.Files, "records.db")
	require.Contains(t, m.Files, "vitals.db")
	require.NotNil(t, m.Readings)
	require.GreaterOrEqual(t, *m.Readings, int64(60))
	require.Positive(t, m.AuditEvents)
	fi, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the backup holds health data: its owner's only")

	code, _, stderr = runBin(t, "backup", "--config", conf, "--out", out)
	require.Equal(t, 1, code, "a backup never writes over another")
	require.Contains(t, stderr, "not empty")

	// A new machine: a new data folder, the audit keys restored from their
	// own volume (the same files here), a new checkpoint file.
	cfg2 := harness.Config(t)
	cfg2.Auth.Audit.ChainKeyFile = cfg.Auth.Audit.ChainKeyFile
	cfg2.Auth.Audit.CheckpointKeyFile = cfg.Auth.Audit.CheckpointKeyFile
	conf2 := cliConfig(t, cfg2)
	code, stdout, stderr = runBin(t, "restore", "--config", conf2, "--from", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "restore done")
	code, _, stderr = runBin(t, "restore", "--config", conf2, "--from", out)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--force", "restoring over files needs --force")

	// A damaged backup is refused.
	damaged := filepath.Join(t.TempDir(), "damaged")
	require.NoError(t, os.CopyFS(damaged, os.DirFS(out)))
	f, err := os.OpenFile(filepath.Join(damaged, "vitals.db"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	code, _, stderr = runBin(t, "restore", "--config", cliConfig(t, harness.Config(t)), "--from", damaged)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "vitals.db was changed or damaged")

	svc.Stop()
	restored := harness.Start(t, cfg2)
	got := restored.Readings(t, "bk-p1", vitals.HeartRate, start, start.Add(time.Minute))
	require.Len(t, got, 60, "the readings stored before the backup are there")
	n, _ := restored.Stats(t, "bk-p1", vitals.HeartRate, start, start.Add(time.Hour))
	require.Equal(t, *m.Readings, n, "exactly the readings the backup counted")
	restored.Stop()
	code, report := restored.AuditVerify(t)
	require.Equal(t, 0, code, "the restored audit trail verifies: %s", report)
}
