package app_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/vitals"
)

// testConfig is a one-machine configuration on free loopback ports with
// its own data folder and no simulated patients.
func testConfig(t testing.TB) app.Config {
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Broker.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	return cfg
}

// startApp builds and runs the service until the test ends.
func startApp(t testing.TB, cfg app.Config) *app.App {
	t.Helper()
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.WarnLevel)
	a, err := app.New(context.Background(), cfg, log, app.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("app did not stop within 30 s")
		}
	})
	waitReady(t, a)
	return a
}

// waitReady waits for /readyz: with an external broker, until the
// ingester holds its subscription (a device publishing earlier would be
// heard by no one).
func waitReady(t testing.TB, a *app.App) {
	t.Helper()
	// Readiness only: the TLS tests check the certificate themselves.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	require.Eventually(t, func() bool {
		resp, err := client.Get(a.URL() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "the service becomes ready")
}

// addDevice registers a device bound to patient from an hour back.
func addDevice(t *testing.T, a *app.App, id, patient string) string {
	t.Helper()
	secret, err := a.Devices.Add(context.Background(), id, "test")
	require.NoError(t, err)
	if patient != "" {
		require.NoError(t, a.Devices.Bind(context.Background(), id, patient, time.Now().Add(-24*time.Hour)))
	}
	return secret
}

// device is a test MQTT device: a paho client with a persistent session.
type device struct {
	t  testing.TB
	id string
	c  mqtt.Client
}

func connectDevice(t testing.TB, broker, id, secret string) *device {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID("dev-" + id).
		SetUsername(id).SetPassword(secret).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetWriteTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "connect timeout")
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return &device{t: t, id: id, c: c}
}

// publish sends a QoS 1 message and retries until the broker acknowledges
// it, as a device does.
func (d *device) publish(payload string) {
	d.t.Helper()
	d.publishTo("vitalwire/v1/devices/"+d.id+"/readings", payload)
}

func (d *device) publishTo(topic, payload string) {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		tok := d.c.Publish(topic, 1, false, payload)
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("publish not acknowledged within 60 s: %v", tok.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// publishAll sends many messages with up to window of them in flight.
func (d *device) publishAll(payloads []string, window int) {
	d.t.Helper()
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	for _, p := range payloads {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.publish(p)
		})
	}
	wg.Wait()
}

// reading renders one reading of the contract.
func reading(typ vitals.Type, value float64, unit string, at time.Time) string {
	return fmt.Sprintf(`{"type":%q,"value":%v,"unit":%q,"time":%q}`, typ, value, unit, at.UTC().Format(time.RFC3339Nano))
}

func batch(seq int, readings ...string) string {
	return fmt.Sprintf(`{"seq":%d,"readings":[%s]}`, seq, strings.Join(readings, ","))
}

// stats returns count and sum of a patient's readings of a type.
func stats(t testing.TB, s vitals.Store, patient string, typ vitals.Type, from, to time.Time) (int64, float64) {
	t.Helper()
	ws, err := s.Aggregate(context.Background(), vitals.AggregateQuery{Query: vitals.Query{Patient: patient, Type: typ, From: from, To: to}})
	require.NoError(t, err)
	if len(ws) == 0 {
		return 0, 0
	}
	return ws[0].Count, ws[0].Mean * float64(ws[0].Count)
}

// waitCount waits until the store holds want readings.
func waitCount(t testing.TB, s vitals.Store, patient string, typ vitals.Type, from, to time.Time, want int64, within time.Duration) {
	t.Helper()
	var got int64
	require.Eventually(t, func() bool {
		got, _ = stats(t, s, patient, typ, from, to)
		return got >= want
	}, within, 100*time.Millisecond, "stored %d of %d", got, want)
}

// metrics reads the server's /metrics and returns the samples by name with
// labels, e.g. `vitalwire_readings_refused_total{reason="oversized"}`.
func metrics(t testing.TB, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// serveOn serves h on a loopback port until the test ends (a webhook
// receiver).
func serveOn(t testing.TB, port int, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
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
