package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// wearsimIn runs wearsim against a running service and returns its exit
// code, its JSON report and what it wrote on stderr.
func wearsimIn(t *testing.T, args ...string) (int, map[string]any, string) {
	t.Helper()
	var out, errOut harness.Log
	code := run(context.Background(), args, &out, &errOut)
	var rep map[string]any
	if code == 0 && !strings.HasPrefix(args[0], "provision") {
		require.NoError(t, json.Unmarshal([]byte(out.String()), &rep), out.String())
	}
	return code, rep, errOut.String()
}

// TestRunReportsWhatTheServerRefused: `run --accel` on a fleet that starts
// now sends readings from the future; wearsim hears the refusals on the
// devices' rejects topics and counts them by reason, shows progress while
// it runs, and says why in its summary.
func TestRunReportsWhatTheServerRefused(t *testing.T) {
	svc := harness.Start(t, harness.Config(t))
	devices := filepath.Join(t.TempDir(), "devices.json")
	fleet := []string{"--patients", "1", "--devices-per-patient", "1", "--prefix", "w"}
	code, _, stderr := wearsimIn(t, append([]string{"provision", "--server", svc.URL(), "--token", svc.Admin(), "--out", devices}, fleet...)...)
	require.Equal(t, 0, code, stderr)

	code, rep, stderr := wearsimIn(t, append([]string{"run", "--broker", svc.BrokerURL(), "--devices", devices,
		"--accel", "600", "--for", "3s", "--progress-every", "500ms"}, fleet...)...)
	require.Equal(t, 0, code, stderr)
	byReason, _ := rep["refused_by_reason"].(map[string]any)
	require.NotNil(t, byReason, "the report counts refusals by reason: %v", rep)
	require.Greater(t, byReason["future_time"], 0.0, "readings stamped ahead of the server clock were refused")
	require.Equal(t, byReason["future_time"], rep["refused_readings"])
	details, _ := rep["refusal_details"].(map[string]any)
	require.Contains(t, details["future_time"], "ahead of the server clock", "an example of the server's detail per reason")

	require.Contains(t, stderr, "refused ", "progress lines count refusals")
	require.GreaterOrEqual(t, strings.Count(stderr, "acked "), 3, "a progress line every 500 ms:\n%s", stderr)
	require.Contains(t, stderr, "future_time", "the summary names the reasons")
	require.Contains(t, stderr, "--accel", "and says what to change")
}

// TestLoadMeasuresItsOwnLostReadings: `load` reads its own readings back
// through the API for its devices and time range, so another device's
// traffic on the same server does not make lost_readings negative; it
// shows progress and warns when the rate asked for was not reached.
func TestLoadMeasuresItsOwnLostReadings(t *testing.T) {
	svc := harness.Start(t, harness.Config(t))
	var devs []map[string]string
	for _, id := range []string{"load-1", "load-2"} {
		devs = append(devs, map[string]string{"id": id, "secret": svc.AddDevice(t, id, "load-patient"), "kind": "test", "patient": "load-patient"})
	}
	b, _ := json.Marshal(devs)
	devices := filepath.Join(t.TempDir(), "devices.json")
	require.NoError(t, os.WriteFile(devices, b, 0o600))

	// Someone else's device publishes on the same server meanwhile.
	other := harness.Connect(t, svc.BrokerURL(), "other-1", svc.AddDevice(t, "other-1", "other-patient"))
	stop := make(chan struct{})
	var noise sync.WaitGroup
	noise.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			other.Publish(harness.Reading(vitals.HeartRate, 70, "/min", time.Now()))
		}
	})

	code, rep, stderr := wearsimIn(t, "load", "--broker", svc.BrokerURL(), "--server", svc.URL(), "--devices", devices,
		"--duration", "2s", "--batch", "5", "--window", "4", "--rate", "1000000", "--progress-every", "500ms",
		"--token", svc.Patient("load-patient"))
	close(stop)
	noise.Wait()
	require.Equal(t, 0, code, stderr)
	acked := rep["acked_messages"].(float64)
	require.Greater(t, acked, 0.0)
	require.Equal(t, acked*5, rep["stored_readings"], "its own readings, read back through the API")
	require.Equal(t, 0.0, rep["lost_readings"], "another device's readings are not counted as its own")
	require.Equal(t, 0.0, rep["refused_readings"])
	warnings, _ := rep["warnings"].([]any)
	require.NotEmpty(t, warnings, "the rate asked for was not reached")
	require.Contains(t, warnings[0], "below the requested 1000000 messages/s")
	require.Contains(t, stderr, "warning: ")
	require.GreaterOrEqual(t, strings.Count(stderr, "acked "), 2, "progress while it runs:\n%s", stderr)
}
