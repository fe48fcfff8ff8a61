package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// stream publishes msgs messages of ten heart-rate readings each, reading k
// at base+k ms with value 40 + k%100, at most rate messages a second (0:
// as fast as a window of 200 in flight allows). It returns the expected
// count and sum and a function that waits for every publish to be
// acknowledged by the broker.
func stream(t *testing.T, d *harness.Device, base time.Time, msgs, rate int) (count int64, sum float64, wait func()) {
	payloads := make([]string, msgs)
	for i := range payloads {
		rs := make([]string, 10)
		for j := range rs {
			k := i*10 + j
			v := float64(40 + k%100)
			rs[j] = harness.Reading(vitals.HeartRate, v, "/min", base.Add(time.Duration(k)*time.Millisecond))
			sum += v
		}
		payloads[i] = harness.Batch(i, rs...)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sem := make(chan struct{}, 200)
		var wg sync.WaitGroup
		start := time.Now()
		for i, p := range payloads {
			if rate > 0 {
				if ahead := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); ahead > 0 {
					time.Sleep(ahead) // pacing the load, not waiting for a server
				}
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				d.Publish(p)
			})
		}
		wg.Wait()
	}()
	return int64(msgs * 10), sum, func() {
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			t.Fatal("stream not acknowledged within 5 minutes")
		}
	}
}

// requireStream waits until a stream's readings are all stored, then
// checks count and sum: every reading there, none twice.
func requireStream(t *testing.T, c harness.Counter, base time.Time, want int64, sum float64) {
	t.Helper()
	from, to := base, base.Add(time.Hour)
	harness.WaitCount(t, c, "patient-1", vitals.HeartRate, from, to, want, 2*time.Minute)
	n, got := harness.Stats(t, c, "patient-1", vitals.HeartRate, from, to)
	require.Equal(t, want, n)
	require.InDelta(t, sum, got, 1e-6*sum)
}

func TestAnInfluxDBOutageOf30SecondsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s outage: not in -short")
	}
	t.Parallel()
	cfg := harness.Config(t)
	in := harness.UseInflux(t, &cfg)
	m := harness.UseMosquitto(t, &cfg)
	svc := harness.Start(t, cfg)
	secret := svc.AddDevice(t, "watch-1", "patient-1")
	d := harness.Connect(t, m.URL(), "watch-1", secret)

	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)
	want, sum, wait := stream(t, d, base, 4000, 100) // 40 s of 1,000 readings/s
	time.Sleep(5 * time.Second)                      // into the stream
	in.Stop()
	time.Sleep(30 * time.Second) // the outage itself
	require.Greater(t, svc.Metrics(t)["vitalwire_spool_readings_total"], 0.0, "readings went to the spool during the outage")
	in.Start(t)
	wait()

	requireStream(t, svc, base, want, sum)
	require.Eventually(t, func() bool {
		mm := svc.Metrics(t)
		return mm["vitalwire_spool_batches"] == 0 && mm["vitalwire_spool_bytes"] == 0
	}, 30*time.Second, 100*time.Millisecond, "spool empty at the end")
}

func TestAMosquittoRestartDuringAStreamLosesNothing(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	m := harness.UseMosquitto(t, &cfg)
	svc := harness.Start(t, cfg)
	secret := svc.AddDevice(t, "watch-1", "patient-1")
	d := harness.Connect(t, m.URL(), "watch-1", secret)

	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)
	want, sum, wait := stream(t, d, base, 3000, 300)
	time.Sleep(3 * time.Second) // into the stream
	m.Stop()
	m.Start(t)
	wait()

	requireStream(t, svc, base, want, sum)
}

func TestTheIngesterKilledMidStreamAndRestartedStoresEveryReadingOnce(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"mosquitto", "embedded"} {
		t.Run("through the "+kind+" broker", func(t *testing.T) { killMidStream(t, kind) })
	}
}

func killMidStream(t *testing.T, brokerKind string) {
	bin := harness.Binary(t)
	var brokerURL, brokerYAML string
	cfg := app.Config{DataDir: t.TempDir()}
	if brokerKind == "mosquitto" {
		m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
		brokerURL = m.URL()
		brokerYAML = fmt.Sprintf("broker:\n  embedded: false\nmqtt:\n  broker: %s\n  client_id: vitalwire-kill-test\n", m.URL())
	} else {
		cfg.Broker = app.BrokerConfig{Embedded: true, Addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
		brokerURL = "tcp://" + cfg.Broker.Addr
		brokerYAML = fmt.Sprintf("broker:\n  embedded: true\n  addr: %s\n", cfg.Broker.Addr)
	}
	port := testenv.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	config := filepath.Join(cfg.DataDir, "vitalwire.yaml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`data_dir: %s
http:
  addr: 127.0.0.1:%d
%sstore:
  kind: sqlite
log:
  level: warn
`, cfg.DataDir, port, brokerYAML)), 0o600))

	first := harness.StartServer(t, bin, config, url)
	// The operator registers the device with the running server.
	secret := harness.Attach(t, cfg, url).AddDevice(t, "watch-1", "patient-1")
	d := harness.Connect(t, brokerURL, "watch-1", secret)
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Millisecond)
	want, sum, wait := stream(t, d, base, 10_000, 0) // 100,000 readings
	require.Eventually(t, func() bool {
		return harness.Metrics(t, url)["vitalwire_readings_accepted_total"] >= 20_000
	}, 2*time.Minute, 10*time.Millisecond)
	require.NoError(t, first.Cmd.Process.Signal(syscall.SIGKILL))
	<-first.Done
	second := harness.StartServer(t, bin, config, url)
	wait()
	// What the first process had stored but not yet acknowledged comes
	// back from the broker; the store and the dedupe absorb it.

	// The store file, opened by the test: it is read again after the
	// server has gone.
	store, err := sqlitestore.Open(context.Background(), filepath.Join(cfg.DataDir, "vitals.db"))
	require.NoError(t, err)
	defer store.Close()
	vitalsDB := harness.Store{Store: store}
	from, to := base, base.Add(time.Hour)
	harness.WaitCount(t, vitalsDB, "patient-1", vitals.HeartRate, from, to, want, 2*time.Minute)

	mm := harness.Metrics(t, url)
	t.Logf("second process: %v readings accepted, %v duplicates dropped",
		mm["vitalwire_readings_accepted_total"], mm["vitalwire_readings_duplicate_total"])

	// SIGTERM drains and exits cleanly.
	require.NoError(t, second.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-second.Done:
		require.NoError(t, second.Err, "clean exit after SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	n, s := harness.Stats(t, vitalsDB, "patient-1", vitals.HeartRate, from, to)
	require.Equal(t, want, n, "every reading stored, none twice")
	require.InDelta(t, sum, s, 1e-9*sum)
}
