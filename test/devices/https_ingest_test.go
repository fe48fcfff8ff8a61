package devices_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/devcert"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// startHTTPS runs the service under TLS with a dev CA its client trusts.
func startHTTPS(t *testing.T, cfg app.Config) *harness.Service {
	t.Helper()
	files, err := devcert.Write(t.TempDir(), []string{"localhost", "127.0.0.1"})
	require.NoError(t, err)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = files.Cert, files.Key
	svc := harness.Start(t, cfg)
	require.True(t, strings.HasPrefix(svc.URL(), "https://"))
	pemCA, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemCA))
	svc.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return svc
}

func hr(v float64, at time.Time) string { return harness.Reading(vitals.HeartRate, v, "/min", at) }

func TestADeviceWithoutMQTTPostsItsReadingsOverHTTPS(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTPIngest.PerMinute, cfg.HTTPIngest.Burst = 60, 20
	svc := startHTTPS(t, cfg)
	secret := svc.AddDevice(t, "cuff-1", "p1")
	other := svc.AddDevice(t, "cuff-2", "p2")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	from, to := base.Add(-time.Minute), base.Add(time.Hour)

	t.Run("readings posted with the device's credentials are stored, and the answer says so", func(t *testing.T) {
		status, ans := svc.PostReadings(t, "cuff-1", secret, harness.Batch(1, hr(61, base), hr(62, base.Add(time.Second))))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 2, ans.Accepted)
		require.Empty(t, ans.Rejects)
		require.NotNil(t, ans.Seq)
		require.EqualValues(t, 1, *ans.Seq)
		// Answered once durable: readable at once, no waiting.
		n, sum := svc.Stats(t, "p1", vitals.HeartRate, from, to)
		require.EqualValues(t, 2, n)
		require.InDelta(t, 123, sum, 1e-9)
	})
	t.Run("the same message posted again is answered alike and stored once", func(t *testing.T) {
		status, ans := svc.PostReadings(t, "cuff-1", secret, harness.Batch(1, hr(61, base), hr(62, base.Add(time.Second))))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 2, ans.Accepted)
		n, _ := svc.Stats(t, "p1", vitals.HeartRate, from, to)
		require.EqualValues(t, 2, n)
	})
	t.Run("refused readings are listed with the rejects topic's reasons, and the good ones kept", func(t *testing.T) {
		status, ans := svc.PostReadings(t, "cuff-1", secret, harness.Batch(2,
			hr(63, base.Add(2*time.Second)), harness.Reading(vitals.HeartRate, 64, "bpm", base.Add(3*time.Second)),
			hr(900, base.Add(4*time.Second))))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 1, ans.Accepted)
		require.Len(t, ans.Rejects, 2)
		require.Equal(t, httpapi.ReadingRefusal{Index: 1, Reason: "wrong_unit", Detail: ans.Rejects[0].Detail}, ans.Rejects[0])
		require.Equal(t, 2, ans.Rejects[1].Index)
		require.Equal(t, "implausible", ans.Rejects[1].Reason)
	})
	t.Run("a message that is not JSON is a 400 naming the reason", func(t *testing.T) {
		status, ans := svc.PostReadings(t, "cuff-1", secret, `{"type":"heart_rate",`)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, []httpapi.ReadingRefusal{{Index: -1, Reason: "malformed", Detail: ans.Rejects[0].Detail}}, ans.Rejects)
	})
	t.Run("a body over 64 KiB is a 413 and nothing of it is stored", func(t *testing.T) {
		var rs []string
		for i := 0; len(strings.Join(rs, ",")) <= 64<<10; i++ {
			rs = append(rs, hr(70, base.Add(10*time.Minute+time.Duration(i)*time.Millisecond)))
		}
		status, ans := svc.PostReadings(t, "cuff-1", secret, harness.Batch(3, rs...))
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		require.Equal(t, "oversized", ans.Rejects[0].Reason)
		n, _ := svc.Stats(t, "p1", vitals.HeartRate, from, to)
		require.EqualValues(t, 3, n)
	})
	t.Run("a person's token is no device credential, even an admin's", func(t *testing.T) {
		for _, token := range []string{svc.Admin(), svc.Patient("p1"), svc.Clinician("doc1")} {
			status := svc.Call(t, "POST", "/api/v1/devices/cuff-1/readings", token, hr(65, base.Add(5*time.Second)), nil)
			require.Equal(t, http.StatusUnauthorized, status)
		}
	})
	t.Run("a wrong secret is a 401, another device's credentials a 403", func(t *testing.T) {
		status, _ := svc.PostReadings(t, "cuff-1", secret+"x", hr(65, base.Add(5*time.Second)))
		require.Equal(t, http.StatusUnauthorized, status)
		req, err := http.NewRequest("POST", svc.URL()+"/api/v1/devices/cuff-1/readings", strings.NewReader(hr(65, base.Add(5*time.Second))))
		require.NoError(t, err)
		req.SetBasicAuth("cuff-2", other)
		resp, err := svc.HTTP.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "a device posts only its own readings")
	})
	t.Run("a device's posts are rate limited, with Retry-After, and other devices go on", func(t *testing.T) {
		limited := false
		for i := 0; i < 40 && !limited; i++ {
			status, _ := svc.PostReadings(t, "cuff-1", secret, hr(66, base.Add(20*time.Minute+time.Duration(i)*time.Second)))
			limited = status == http.StatusTooManyRequests
		}
		require.True(t, limited, "past the burst of 20, a post is refused with 429")
		req, err := http.NewRequest("POST", svc.URL()+"/api/v1/devices/cuff-1/readings", strings.NewReader(hr(66, base)))
		require.NoError(t, err)
		req.SetBasicAuth("cuff-1", secret)
		resp, err := svc.HTTP.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
		status, _ := svc.PostReadings(t, "cuff-2", other, hr(67, base))
		require.Equal(t, http.StatusOK, status)
	})
	t.Run("a revoked device is refused", func(t *testing.T) {
		svc.RevokeDevice(t, "cuff-2")
		status, _ := svc.PostReadings(t, "cuff-2", other, hr(67, base.Add(time.Second)))
		require.Equal(t, http.StatusUnauthorized, status)
	})
}

// post is one message of the kill test: ten heart rates at distinct
// milliseconds, values that sum to a known total.
func postMessages(base time.Time, n int) (msgs []string, times [][]time.Time, sum float64) {
	for i := 0; i < n; i++ {
		rs := make([]string, 10)
		ts := make([]time.Time, 10)
		for j := range rs {
			k := i*10 + j
			ts[j] = base.Add(time.Duration(k) * time.Millisecond)
			v := float64(40 + k%100)
			rs[j] = hr(v, ts[j])
			sum += v
		}
		msgs = append(msgs, harness.Batch(i, rs...))
		times = append(times, ts)
	}
	return msgs, times, sum
}

func TestKilledWithSIGKILLDuringAStreamOfPostsLosesNothingAnsweredAndStoresNothingTwice(t *testing.T) {
	t.Parallel()
	bin := harness.Binary(t)
	cfg := app.Config{DataDir: t.TempDir()}
	port := testenv.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	config := filepath.Join(cfg.DataDir, "vitalwire.yaml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`data_dir: %s
http:
  addr: 127.0.0.1:%d
broker:
  addr: 127.0.0.1:%d
store:
  kind: sqlite
http_ingest:
  per_minute: 1000000
  burst: 100000
log:
  level: warn
`, cfg.DataDir, port, testenv.FreePort(t))), 0o600))

	first := harness.StartServer(t, bin, config, url)
	svc := harness.Attach(t, cfg, url)
	secret := svc.AddDevice(t, "hub-1", "p1")
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Millisecond)
	const total = 3000
	msgs, times, sum := postMessages(base, total)

	// Eight senders post in turn; each message answered 2xx is noted. The
	// process is killed once a third are answered.
	answered := make([]bool, total)
	var mu sync.Mutex
	count := 0
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := range next {
				status, ans, err := svc.TryPostReadings("hub-1", secret, msgs[i])
				if err != nil || status != http.StatusOK {
					continue // a device would send it again later
				}
				require.Equal(t, 10, ans.Accepted)
				mu.Lock()
				answered[i] = true
				count++
				if count >= total/3 {
					once.Do(func() { close(killed) })
				}
				mu.Unlock()
			}
		})
	}
	go func() {
		<-killed
		require.NoError(t, first.Cmd.Process.Signal(syscall.SIGKILL))
	}()
	for i := range msgs {
		next <- i
	}
	close(next)
	wg.Wait()
	<-first.Done
	mu.Lock()
	got := count
	mu.Unlock()
	require.Less(t, got, total, "the kill came in the middle of the stream")
	t.Logf("%d of %d messages answered 2xx before the kill", got, total)

	harness.StartServer(t, bin, config, url)
	from, to := base, base.Add(time.Hour)

	// Every reading of an answered message is there, each once.
	stored := map[time.Time]int{}
	for _, r := range svc.AllReadings(t, "p1", vitals.HeartRate, from, to) {
		stored[r.Time.UTC()]++
	}
	for i, ok := range answered {
		if !ok {
			continue
		}
		for _, at := range times[i] {
			require.Equal(t, 1, stored[at], "message %d was answered 2xx: its reading at %s is stored once", i, at)
		}
	}

	// Devices send again what was not answered, and some of what was
	// (an answer lost on the way): every reading stored, none twice.
	for i := range msgs {
		if !answered[i] || i%3 == 0 {
			status, ans := svc.PostReadings(t, "hub-1", secret, msgs[i])
			require.Equal(t, http.StatusOK, status, "message %d", i)
			require.Equal(t, 10, ans.Accepted)
		}
	}
	n, s := svc.Stats(t, "p1", vitals.HeartRate, from, to)
	require.EqualValues(t, total*10, n, "every reading stored, none twice")
	require.InDelta(t, sum, s, 1e-9*sum)
}
