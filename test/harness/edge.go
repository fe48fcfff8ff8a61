package harness

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

// Log is a service's log output, captured for tests of what it says.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything logged so far (JSON lines).
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartLogged is Start with the service's log, at every level, captured in
// the returned Log (and not printed).
func StartLogged(t testing.TB, cfg app.Config) (*Service, *Log) {
	t.Helper()
	out := &Log{}
	s := startLogging(t, cfg, app.Options{}, zerolog.New(out).Level(zerolog.DebugLevel))
	if os.Getenv("VITALWIRE_TEST_SHOW_LOG") == "1" {
		t.Cleanup(func() { t.Log(out.String()) })
	}
	return s, out
}

// SecondSource is a loopback address other than 127.0.0.1 to connect from,
// for tests of per-source limits; the test skips if the machine has none.
func SecondSource(t testing.TB) string {
	t.Helper()
	const ip = "127.0.0.2"
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		testenv.Missing(t, "cannot use %s as a second source address: %v", ip, err)
	}
	ln.Close()
	return ip
}

// DialFrom opens a TCP connection to addr from the local address ip, closed
// when the test ends.
func DialFrom(t testing.TB, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", strings.TrimPrefix(strings.TrimPrefix(addr, "tcp://"), "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// ClosedWithin reports whether the server closes c (end of stream or a
// reset) within d, reading and discarding what it sends meanwhile.
func ClosedWithin(c net.Conn, d time.Duration) bool {
	deadline := time.Now().Add(d)
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(deadline)
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
}
