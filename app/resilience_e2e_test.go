package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// stream publishes msgs messages of ten heart-rate readings each, reading k
// at base+k ms with value 40 + k%100, at most rate messages a second (0:
// as fast as a window of 200 in flight allows). It returns the expected
// count and sum and a function that waits for every publish to be
// acknowledged by the broker.
func stream(t *testing.T, d *device, base time.Time, msgs, rate int) (count int64, sum float64, wait func()) {
	payloads := make([]string, msgs)
	for i := range payloads {
		rs := make([]string, 10)
		for j := range rs {
			k := i*10 + j
			v := float64(40 + k%100)
			rs[j] = reading(vitals.HeartRate, v, "/min", base.Add(time.Duration(k)*time.Millisecond))
			sum += v
		}
		payloads[i] = batch(i, rs...)
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
				d.publish(p)
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
func requireStream(t *testing.T, s vitals.Store, base time.Time, want int64, sum float64) {
	t.Helper()
	from, to := base, base.Add(time.Hour)
	waitCount(t, s, "patient-1", vitals.HeartRate, from, to, want, 2*time.Minute)
	n, got := stats(t, s, "patient-1", vitals.HeartRate, from, to)
	require.Equal(t, want, n)
	require.InDelta(t, sum, got, 1e-6*sum)
}

func TestAnInfluxDBOutageOf30SecondsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s outage: not in -short")
	}
	cfg := testConfig(t)
	in := useInflux(t, &cfg)
	m := useMosquitto(t, &cfg)
	a := startApp(t, cfg)
	secret := addDevice(t, a, "watch-1", "patient-1")
	d := connectDevice(t, m.URL(), "watch-1", secret)

	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)
	want, sum, wait := stream(t, d, base, 4000, 100) // 40 s of 1,000 readings/s
	time.Sleep(5 * time.Second)
	in.Stop()
	time.Sleep(30 * time.Second) // the outage itself
	require.Greater(t, metrics(t, a.URL())["vitalwire_spool_readings_total"], 0.0, "readings went to the spool during the outage")
	in.Start(t)
	wait()

	requireStream(t, a.Store, base, want, sum)
	require.Eventually(t, func() bool {
		mm := metrics(t, a.URL())
		return mm["vitalwire_spool_batches"] == 0 && mm["vitalwire_spool_bytes"] == 0
	}, 30*time.Second, 100*time.Millisecond, "spool empty at the end")
}

func TestAMosquittoRestartDuringAStreamLosesNothing(t *testing.T) {
	cfg := testConfig(t)
	m := useMosquitto(t, &cfg)
	a := startApp(t, cfg)
	secret := addDevice(t, a, "watch-1", "patient-1")
	d := connectDevice(t, m.URL(), "watch-1", secret)

	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)
	want, sum, wait := stream(t, d, base, 3000, 300)
	time.Sleep(3 * time.Second)
	m.Stop()
	m.Start(t)
	wait()

	requireStream(t, a.Store, base, want, sum)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// vitalwireBinary builds cmd/vitalwire once per test run.
func vitalwireBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vitalwire-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vitalwire")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/vitalwire/vitalwire/cmd/vitalwire").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// server is a vitalwire serve child process.
type server struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

func startServer(t *testing.T, bin, config, url string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "server ready")
	return s
}

func TestTheIngesterKilledMidStreamAndRestartedStoresEveryReadingOnce(t *testing.T) {
	for _, kind := range []string{"mosquitto", "embedded"} {
		t.Run("through the "+kind+" broker", func(t *testing.T) { killMidStream(t, kind) })
	}
}

func killMidStream(t *testing.T, brokerKind string) {
	bin := vitalwireBinary(t)
	var brokerURL, brokerYAML string
	if brokerKind == "mosquitto" {
		m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
		brokerURL = m.URL()
		brokerYAML = fmt.Sprintf("broker:\n  embedded: false\nmqtt:\n  broker: %s\n  client_id: vitalwire-kill-test\n", m.URL())
	} else {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		brokerURL = "tcp://" + addr
		brokerYAML = fmt.Sprintf("broker:\n  embedded: true\n  addr: %s\n", addr)
	}
	dataDir := t.TempDir()
	ctx := context.Background()
	// Register the device before the server starts, straight in the
	// records database.
	db, err := sqldb.OpenRecords(ctx, filepath.Join(dataDir, "records.db"))
	require.NoError(t, err)
	reg, err := devices.Open(ctx, db)
	require.NoError(t, err)
	secret, err := reg.Add(ctx, "watch-1", "watch")
	require.NoError(t, err)
	require.NoError(t, reg.Bind(ctx, "watch-1", "patient-1", time.Now().Add(-24*time.Hour)))
	db.Close()

	port := testenv.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	config := filepath.Join(dataDir, "vitalwire.yaml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`data_dir: %s
http:
  addr: 127.0.0.1:%d
%sstore:
  kind: sqlite
log:
  level: warn
`, dataDir, port, brokerYAML)), 0o600))

	first := startServer(t, bin, config, url)
	d := connectDevice(t, brokerURL, "watch-1", secret)
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Millisecond)
	want, sum, wait := stream(t, d, base, 10_000, 0) // 100,000 readings
	require.Eventually(t, func() bool {
		return metrics(t, url)["vitalwire_readings_accepted_total"] >= 20_000
	}, 2*time.Minute, 10*time.Millisecond)
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGKILL))
	<-first.done
	second := startServer(t, bin, config, url)
	wait()
	// What the first process had stored but not yet acknowledged comes
	// back from the broker; the store and the dedupe absorb it.

	store, err := sqlitestore.Open(ctx, filepath.Join(dataDir, "vitals.db"))
	require.NoError(t, err)
	defer store.Close()
	from, to := base, base.Add(time.Hour)
	waitCount(t, store, "patient-1", vitals.HeartRate, from, to, want, 2*time.Minute)

	mm := metrics(t, url)
	t.Logf("second process: %v readings accepted, %v duplicates dropped",
		mm["vitalwire_readings_accepted_total"], mm["vitalwire_readings_duplicate_total"])

	// SIGTERM drains and exits cleanly.
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-second.done:
		require.NoError(t, second.err, "clean exit after SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	n, s := stats(t, store, "patient-1", vitals.HeartRate, from, to)
	require.Equal(t, want, n, "every reading stored, none twice")
	require.InDelta(t, sum, s, 1e-9*sum)
}
