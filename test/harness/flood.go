package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

// What the flood benchmarks (test/security) measure: a `vitalwire serve`
// child process, its memory and descriptors read from /proc, and the
// latency of /healthz asked by a well-behaved client from its own source
// address while an attacker floods from another.

// FloodTarget is a production-like server (embedded broker, SQLite
// stores, no simulated patients, log level info into a file) run as a
// child process, so that its memory is its own.
type FloodTarget struct {
	*Server
	Cfg        app.Config
	BrokerAddr string // the embedded broker's host:port
	Log        string // the server's log file
}

// StartFloodTarget writes a configuration on free loopback ports, plus
// extra YAML (sections not otherwise set), and runs the server until the
// benchmark ends.
func StartFloodTarget(tb testing.TB, extra string) *FloodTarget {
	tb.Helper()
	bin := Binary(tb)
	dir := tb.TempDir()
	httpPort, brokerPort := testenv.FreePort(tb), testenv.FreePort(tb)
	cfg := app.Config{DataDir: dir, Broker: app.BrokerConfig{Embedded: true, Addr: fmt.Sprintf("127.0.0.1:%d", brokerPort)}}
	config := filepath.Join(dir, "vitalwire.yaml")
	require.NoError(tb, os.WriteFile(config, []byte(fmt.Sprintf(`data_dir: %s
http:
  addr: 127.0.0.1:%d
broker:
  embedded: true
  addr: %s
store:
  kind: sqlite
log:
  level: info
  format: json
%s`, dir, httpPort, cfg.Broker.Addr, extra)), 0o600))
	logPath := filepath.Join(tb.TempDir(), "server.log") // apart from the data
	logf, err := os.Create(logPath)
	require.NoError(tb, err)
	tb.Cleanup(func() { logf.Close() })
	url := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(tb, cmd.Start())
	s := &Server{URL: url, Cmd: cmd, Done: make(chan struct{})}
	go func() { s.Err = cmd.Wait(); close(s.Done) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-s.Done
	})
	waitReady(tb, url)
	return &FloodTarget{Server: s, Cfg: cfg, BrokerAddr: cfg.Broker.Addr, Log: logPath}
}

// PID is the server's process id.
func (f *FloodTarget) PID() int { return f.Cmd.Process.Pid }

// Memory is a process's resident set now and its peak (VmRSS and VmHWM of
// /proc/PID/status), in bytes.
func Memory(pid int) (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest) // "12345 kB"
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// OpenFiles counts a process's open file descriptors.
func OpenFiles(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// DirSize is the total size of the files under dir, in bytes.
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// RaiseFileLimit raises this process's soft RLIMIT_NOFILE to its hard
// limit (children inherit it) and returns the limit now in force.
func RaiseFileLimit(tb testing.TB) uint64 {
	tb.Helper()
	var lim syscall.Rlimit
	require.NoError(tb, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		require.NoError(tb, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	}
	return lim.Cur
}

// AttackDialer dials from the loopback addresses 127.0.0.2 .. 127.0.0.(1+n),
// round robin: the attacker's sources, apart from the prober's 127.0.0.1,
// so that per-source limits fall on the attacker and not on the operator
// watching /healthz.
type AttackDialer struct {
	sources []*net.TCPAddr
	mu      sync.Mutex
	next    int
}

// NewAttackDialer dials from n attacker source addresses (at least 1).
func NewAttackDialer(n int) *AttackDialer {
	d := &AttackDialer{}
	for i := range max(n, 1) {
		d.sources = append(d.sources, &net.TCPAddr{IP: net.IPv4(127, 0, byte((i+2)>>8), byte((i+2)&0xff))})
	}
	return d
}

// DialContext dials addr over TCP from the next source address.
func (d *AttackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	src := d.sources[d.next%len(d.sources)]
	d.next++
	d.mu.Unlock()
	nd := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
	return nd.DialContext(ctx, network, addr)
}

// HTTPClient is an attacker's HTTP client from these sources, with up to
// conns connections kept open.
func (d *AttackDialer) HTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
	}}
}

// FloodReport is what one flood did to the server.
type FloodReport struct {
	IdleRSS, PeakRSS, IdleHWM, EndHWM uint64
	PeakFiles                         int
	Probes, ProbeFailures             int
	Latencies                         []time.Duration // of the answered probes, sorted
}

// PeakAboveIdle is the highest resident set seen during the flood (by
// sampling, or by the kernel's high-water mark if it rose) minus the idle
// resident set, in bytes.
func (r FloodReport) PeakAboveIdle() uint64 {
	peak := r.PeakRSS
	if r.EndHWM > r.IdleHWM && r.EndHWM > peak {
		peak = r.EndHWM
	}
	if peak < r.IdleRSS {
		return 0
	}
	return peak - r.IdleRSS
}

// Quantile is the q-quantile (0..1) of the probes' latencies, or -1 when
// no probe was answered.
func (r FloodReport) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return -1
	}
	i := int(q*float64(len(r.Latencies)) + 0.5)
	return r.Latencies[min(max(i-1, 0), len(r.Latencies)-1)]
}

// Watch measures the server while flood runs for d: its idle memory
// first (after a settle), then every 50 ms its memory and descriptors,
// and /healthz from 127.0.0.1 over one kept-alive connection every
// interval (a probe unanswered within 2 s counts as a failure).
func (f *FloodTarget) Watch(tb testing.TB, d, interval time.Duration, flood func(ctx context.Context)) FloodReport {
	tb.Helper()
	pid := f.PID()
	time.Sleep(500 * time.Millisecond) // settle after start
	var r FloodReport
	var err error
	r.IdleRSS, r.IdleHWM, err = Memory(pid)
	require.NoError(tb, err)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { flood(ctx) })
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := Memory(pid); err == nil && rss > r.PeakRSS {
				r.PeakRSS = rss
			}
			if n := OpenFiles(pid); n > r.PeakFiles {
				r.PeakFiles = n
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}).DialContext,
		MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
	}}
	var lat []time.Duration
	t := time.NewTicker(interval)
	for ctx.Err() == nil {
		start := time.Now()
		resp, err := probe.Get(f.URL + "/healthz")
		r.Probes++
		if err == nil {
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			r.ProbeFailures++
		} else {
			lat = append(lat, time.Since(start))
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	t.Stop()
	wg.Wait()
	probe.CloseIdleConnections()
	_, r.EndHWM, _ = Memory(pid)
	slices.Sort(lat)
	r.Latencies = lat
	select {
	case <-f.Done:
		tb.Errorf("the server exited during the flood: %v (log: %s)", f.Err, f.Log)
	default:
	}
	return r
}

// Report adds the flood's figures to a benchmark's output.
func (r FloodReport) Report(b *testing.B) {
	const mib = 1 << 20
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(r.IdleRSS)/mib, "idle-RSS-MiB")
	b.ReportMetric(float64(r.PeakAboveIdle())/mib, "peak-RSS-above-idle-MiB")
	b.ReportMetric(ms(r.Quantile(0.50)), "healthz-p50-ms")
	b.ReportMetric(ms(r.Quantile(0.99)), "healthz-p99-ms")
	b.ReportMetric(ms(r.Quantile(1)), "healthz-max-ms")
	b.ReportMetric(float64(r.ProbeFailures), "healthz-failures")
	b.ReportMetric(float64(r.Probes), "healthz-probes")
	b.ReportMetric(float64(r.PeakFiles), "peak-fds")
	b.ReportMetric(0, "ns/op") // the wall time is the flood's duration, not a figure
}
