package netlimit_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/netlimit"
)

// server accepts through a limited listener and keeps every connection it
// was given open until the test ends.
type server struct {
	ln *netlimit.Listener
	mu sync.Mutex
	in []net.Conn
}

func serve(t *testing.T, cfg netlimit.Config, opts ...netlimit.Option) *server {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{ln: netlimit.Wrap(raw, cfg, opts...)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.in = append(s.in, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.ln.Close()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.in {
			c.Close()
		}
	})
	return s
}

// dial connects from the loopback address from (127.0.0.1 or another of
// 127/8) and reports whether the server kept the connection: a refused one
// is closed at once, a kept one stays silent.
func (s *server) dial(t *testing.T, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", s.ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	return c, errors.Is(err, os.ErrDeadlineExceeded)
}

func canBind(t *testing.T, ip string) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot use %s as a second source: %v", ip, err)
	}
	ln.Close()
}

func TestOneSourceHoldsAtMostItsShare(t *testing.T) {
	canBind(t, "127.0.0.2")
	var refusedFrom []netip.Addr
	var mu sync.Mutex
	s := serve(t, netlimit.Config{MaxConnsPerSource: 3}, netlimit.OnRefuse(func(a netip.Addr, why netlimit.Reason) {
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, netlimit.ReasonPerSource, why)
		refusedFrom = append(refusedFrom, a)
	}))
	for i := 0; i < 3; i++ {
		_, ok := s.dial(t, "127.0.0.1")
		require.True(t, ok, "connection %d is within the limit", i+1)
	}
	_, ok := s.dial(t, "127.0.0.1")
	require.False(t, ok, "the fourth connection from one source is closed at once")
	_, ok = s.dial(t, "127.0.0.2")
	require.True(t, ok, "another source still gets in")

	t.Run("a connection the server closes gives its slot back", func(t *testing.T) {
		s.mu.Lock()
		s.in[0].Close()
		s.mu.Unlock()
		_, ok := s.dial(t, "127.0.0.1")
		require.True(t, ok)
	})
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, refusedFrom)
	require.Equal(t, netip.MustParseAddr("127.0.0.1"), refusedFrom[0])
}

func TestTheTotalCapHoldsForEveryone(t *testing.T) {
	canBind(t, "127.0.0.2")
	s := serve(t, netlimit.Config{MaxConns: 2})
	_, ok := s.dial(t, "127.0.0.1")
	require.True(t, ok)
	_, ok = s.dial(t, "127.0.0.2")
	require.True(t, ok)
	_, ok = s.dial(t, "127.0.0.3")
	require.False(t, ok)
	require.Eventually(t, func() bool { return s.ln.Refused() == 1 }, time.Second, 5*time.Millisecond)
}

func TestNewConnectionsPerSourceAreRateLimited(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := serve(t, netlimit.Config{RatePerSource: 2, BurstPerSource: 3}, netlimit.WithClock(clock))
	for i := 0; i < 3; i++ {
		c, ok := s.dial(t, "127.0.0.1")
		require.True(t, ok, "the burst")
		c.Close()
	}
	_, ok := s.dial(t, "127.0.0.1")
	require.False(t, ok, "past the burst, with no time passed")
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	for i := 0; i < 2; i++ {
		_, ok := s.dial(t, "127.0.0.1")
		require.True(t, ok, "a second later, the rate's worth")
	}
	_, ok = s.dial(t, "127.0.0.1")
	require.False(t, ok)
}

func TestSourcesAreAddressesAndIPv6Blocks(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.7:1234", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:1", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::"},
		{"[2001:db8:1:2:bbbb::9]:443", "2001:db8:1:2::"},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.addr)
		require.NoError(t, err)
		require.Equal(t, c.want, netlimit.Source(a).String(), c.addr)
	}
}

func TestSettingsThatCannotWorkAreRefused(t *testing.T) {
	require.NoError(t, netlimit.Config{}.Validate())
	require.NoError(t, netlimit.Config{MaxConns: 10, MaxConnsPerSource: 5, RatePerSource: 1, BurstPerSource: 1}.Validate())
	require.ErrorContains(t, netlimit.Config{MaxConns: -1}.Validate(), "max_connections")
	require.ErrorContains(t, netlimit.Config{MaxConns: 2, MaxConnsPerSource: 3}.Validate(), "cannot exceed")
	require.ErrorContains(t, netlimit.Config{RatePerSource: 1}.Validate(), "connect_burst_per_source")
}
