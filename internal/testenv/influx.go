package testenv

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InfluxVersion is the InfluxDB built for tests: the last release whose
// build is pure Go. It serves the 2.x write API and Flux queries.
const InfluxVersion = "v1.8.0"

// Influx is a running influxd. On 1.8 the bucket is "database/retention",
// the org is ignored and the token is empty (no auth).
type Influx struct {
	URL      string
	Database string
	Bucket   string
	Org      string
	Token    string
	proc     *process
}

// InfluxBinary returns the path of influxd, building it into the cache
// folder when it is missing. It returns "" when it can be neither found nor
// built.
func InfluxBinary(t testing.TB) string {
	if p := lookBinary("VITALWIRE_INFLUXD", "influxd"); p != "" {
		return p
	}
	dir := CacheBin()
	bin := filepath.Join(dir, "influxd")
	if fileExists(bin) {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	// Several test binaries may get here at once: build under a lock.
	lock, err := os.OpenFile(filepath.Join(dir, ".influxd.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return ""
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return ""
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if fileExists(bin) {
		return bin
	}
	t.Logf("building influxd %s into %s (once)", InfluxVersion, dir)
	cmd := exec.Command("go", "install", "github.com/influxdata/influxdb/cmd/influxd@"+InfluxVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("build influxd: %v\n%s", err, out)
		return ""
	}
	return bin
}

// CacheBin is the folder where test servers are built.
func CacheBin() string {
	if d := os.Getenv("VITALWIRE_TEST_BIN"); d != "" {
		return d
	}
	c, err := os.UserCacheDir()
	if err != nil {
		c = os.TempDir()
	}
	return filepath.Join(c, "vitalwire", "bin")
}

// StartInflux starts influxd with Flux enabled on free loopback ports,
// creates the database and stops the server when the test ends.
func StartInflux(t testing.TB) *Influx {
	t.Helper()
	bin := InfluxBinary(t)
	if bin == "" {
		Missing(t, "influxd not found and could not be built (go install github.com/influxdata/influxdb/cmd/influxd@%s)", InfluxVersion)
	}
	// A machine busy with builds and browsers can keep influxd from
	// listening for long (or a free port can be taken before it binds):
	// a start that fails is tried once more, on new ports.
	var in *Influx
	var err error
	for attempt := 1; ; attempt++ {
		in, err = startInfluxOnce(t, bin)
		if err == nil {
			break
		}
		if attempt == 2 {
			t.Fatal(err)
		}
		t.Logf("influxd start failed, trying again on new ports: %v", err)
	}
	t.Cleanup(in.proc.stop)
	in.CreateDatabase(t, in.Database)
	return in
}

// CreateDatabase creates a database and waits until writes to it are
// accepted: influxd 1.8 answers the CREATE before its write path sees a
// database made right after start. The probe point goes to a measurement of
// its own, "_testenv", which no Vitalwire query reads.
func (in *Influx) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	resp, err := http.PostForm(in.URL+"/query", url.Values{"q": {"CREATE DATABASE " + name}})
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create database: %s", resp.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for backoff := 5 * time.Millisecond; ; backoff = min(2*backoff, 200*time.Millisecond) {
		resp, err := http.Post(in.URL+"/api/v2/write?bucket="+url.QueryEscape(name+"/autogen"), "text/plain",
			strings.NewReader("_testenv ready=true 1"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("database %s not writable after 10 s (%v)", name, err)
		}
		time.Sleep(backoff)
	}
}

// Stop stops the server, keeping its data, as an outage would.
func (in *Influx) Stop() { in.proc.stop() }

// Start starts a stopped server again on the same port and data.
func (in *Influx) Start(t testing.TB) {
	t.Helper()
	if err := in.proc.start(); err != nil {
		t.Fatal(err)
	}
}

func waitPing(base string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for backoff := 10 * time.Millisecond; ; backoff = min(backoff*2, 200*time.Millisecond) {
		resp, err := client.Get(base + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no /ping answer after %v (%v)", timeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("influxd exited")
		case <-time.After(backoff):
		}
	}
}

// startInfluxOnce starts influxd in a new folder on free ports.
func startInfluxOnce(t testing.TB, bin string) (*Influx, error) {
	dir := t.TempDir()
	httpPort, rpcPort := FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  wal-fsync-delay = "0s"
[coordinator]
  write-timeout = "30s"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = true
  max-body-size = 0
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	confPath := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	in := &Influx{
		URL:      fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		Database: "vitalwire",
		Bucket:   "vitalwire/autogen",
		Org:      "vitalwire",
	}
	in.proc = &process{
		name: "influxd", bin: bin, args: []string{"-config", confPath}, out: &lockedBuffer{},
		ready: func(exited <-chan struct{}) error { return waitPing(in.URL, exited, 90*time.Second) },
	}
	return in, in.proc.start()
}
