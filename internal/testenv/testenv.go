// Package testenv starts the real servers integration tests talk to: an
// InfluxDB (built from its Go module when missing) and a Mosquitto broker,
// each on free loopback ports with its own temporary folders, stopped when
// the test ends.
//
// A missing server makes the test skip with the reason, unless
// VITALWIRE_REQUIRE_INTEGRATION=1, where it fails instead: CI sets it so
// that a skipped integration test can never pass for a green run.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Required reports whether integration servers must be present.
func Required() bool { return os.Getenv("VITALWIRE_REQUIRE_INTEGRATION") == "1" }

// Missing skips t, or fails it when integration is required.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("integration server missing (VITALWIRE_REQUIRE_INTEGRATION=1): %s", msg)
	}
	t.Skipf("integration server missing: %s", msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitTCP waits until addr accepts a connection, the process exits, or the
// deadline passes.
func WaitTCP(addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for backoff := 5 * time.Millisecond; ; backoff = min(backoff*2, 200*time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %v: %w", addr, timeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited before %s accepted connections", addr)
		case <-time.After(backoff):
		}
	}
}

// process is a server child process that can be stopped and started again
// with the same arguments (the same ports and data folders).
type process struct {
	name   string
	bin    string
	args   []string
	ready  func(exited <-chan struct{}) error
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	if err := p.ready(exited); err != nil {
		cmd.Process.Kill()
		<-exited
		p.cmd = nil
		return fmt.Errorf("%s did not become ready: %w\n%s", p.name, err, p.out.String())
	}
	return nil
}

// stop ends the process with SIGTERM (SIGKILL after 20 s) and waits.
func (p *process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

func lookBinary(envVar, name string) string {
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
