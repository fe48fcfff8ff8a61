// Package netlimit bounds what one source address, and everyone together,
// can hold of a listener: concurrent connections per source, a total cap,
// and a per-source rate of new connections. A connection over a limit is
// closed as soon as it is accepted, before a byte of it is read, so a
// flood costs the server a file descriptor for an instant and no memory.
//
// The source is the peer's IP address; IPv6 addresses count per /64, the
// block one subscriber usually holds. Behind a proxy every connection has
// the proxy's address: raise or switch off the per-source limits there and
// let the proxy enforce them.
package netlimit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config sets a listener's limits. A zero field switches its limit off.
type Config struct {
	// MaxConns is how many connections may be open at once in all.
	MaxConns int
	// MaxConnsPerSource is how many one source may hold open at once.
	MaxConnsPerSource int
	// RatePerSource is how many new connections a second one source may
	// open on average, with bursts of BurstPerSource.
	RatePerSource  float64
	BurstPerSource int
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.MaxConns < 0 {
		errs = append(errs, errors.New("max_connections: must be 0 (no cap) or more"))
	}
	if c.MaxConnsPerSource < 0 {
		errs = append(errs, errors.New("max_connections_per_source: must be 0 (no cap) or more"))
	}
	if c.MaxConns > 0 && c.MaxConnsPerSource > c.MaxConns {
		errs = append(errs, errors.New("max_connections_per_source: cannot exceed max_connections"))
	}
	if c.RatePerSource < 0 {
		errs = append(errs, errors.New("connect_rate_per_source: must be 0 (no limit) or more"))
	}
	if c.RatePerSource > 0 && c.BurstPerSource < 1 {
		errs = append(errs, errors.New("connect_burst_per_source: must be 1 or more with a connect rate"))
	}
	return errors.Join(errs...)
}

// Reason says which limit refused a connection.
type Reason string

// The limits a connection can be refused by.
const (
	ReasonTotal     Reason = "max_connections"
	ReasonPerSource Reason = "max_connections_per_source"
	ReasonRate      Reason = "connect_rate_per_source"
)

// Listener wraps a net.Listener with the limits of a Config.
type Listener struct {
	net.Listener
	cfg      Config
	onRefuse func(source netip.Addr, why Reason)
	now      func() time.Time

	mu        sync.Mutex
	total     int
	sources   map[netip.Addr]*source
	sweepSize int
	refused   atomic.Uint64
}

type source struct {
	open   int
	tokens float64
	at     time.Time
}

// Option adjusts a Listener.
type Option func(*Listener)

// OnRefuse is called (on the accepting goroutine; keep it short) for every
// connection a limit refuses.
func OnRefuse(f func(source netip.Addr, why Reason)) Option {
	return func(l *Listener) { l.onRefuse = f }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(l *Listener) { l.now = now } }

// Wrap applies cfg to ln. Wrap the plain TCP listener, under TLS, so a
// refused connection costs no handshake.
func Wrap(ln net.Listener, cfg Config, opts ...Option) *Listener {
	l := &Listener{Listener: ln, cfg: cfg, now: time.Now, sources: map[netip.Addr]*source{}, sweepSize: 1024}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Refused counts the connections refused so far.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Open returns how many connections are open, in all and from the source
// of addr.
func (l *Listener) Open(addr net.Addr) (total, fromSource int) {
	key := Source(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sources[key]; s != nil {
		fromSource = s.open
	}
	return l.total, fromSource
}

// Accept returns the next connection within the limits; connections over
// a limit are closed and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := Source(c.RemoteAddr())
		if why := l.admit(key); why != "" {
			// Counted before it is closed: whoever sees the close can
			// already read the count.
			l.refused.Add(1)
			if l.onRefuse != nil {
				l.onRefuse(key, why)
			}
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l, key: key}, nil
	}
}

func (l *Listener) admit(key netip.Addr) Reason {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxConns > 0 && l.total >= l.cfg.MaxConns {
		return ReasonTotal
	}
	s := l.sources[key]
	if s == nil {
		if len(l.sources) >= l.sweepSize {
			l.sweep(now)
		}
		s = &source{tokens: float64(l.cfg.BurstPerSource), at: now}
		l.sources[key] = s
	}
	if l.cfg.MaxConnsPerSource > 0 && s.open >= l.cfg.MaxConnsPerSource {
		return ReasonPerSource
	}
	if l.cfg.RatePerSource > 0 {
		s.refill(now, l.cfg)
		if s.tokens < 1 {
			return ReasonRate
		}
		s.tokens--
	}
	s.open++
	l.total++
	return ""
}

func (s *source) refill(now time.Time, cfg Config) {
	if el := now.Sub(s.at).Seconds(); el > 0 {
		s.tokens = min(float64(cfg.BurstPerSource), s.tokens+el*cfg.RatePerSource)
	}
	s.at = now
}

// sweep forgets sources that hold nothing: no open connection and a full
// bucket. The map then holds only sources that are active now, and it is
// swept again when it has doubled.
func (l *Listener) sweep(now time.Time) {
	for k, s := range l.sources {
		if s.open > 0 {
			continue
		}
		if l.cfg.RatePerSource > 0 {
			s.refill(now, l.cfg)
			if s.tokens < float64(l.cfg.BurstPerSource) {
				continue
			}
		}
		delete(l.sources, k)
	}
	l.sweepSize = max(1024, 2*len(l.sources))
}

func (l *Listener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if s := l.sources[key]; s != nil {
		s.open--
	}
}

// Source is the key a limit counts addr under: its IP address, IPv6 by
// its /64 block.
func Source(addr net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
			ip = ap.Addr()
		}
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			ip = p.Addr()
		}
	}
	return ip
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}
