package broker

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// errNotConnect: the first packet on a connection must be a CONNECT.
var errNotConnect = errors.New("the first packet is not a CONNECT")

// errConnectTooLarge: a CONNECT declared larger than max_connect_bytes.
var errConnectTooLarge = errors.New("CONNECT larger than max_connect_bytes")

// connectGuard is what the broker reads a new connection through until its
// CONNECT has passed: it gives the connection ConnectTimeout to deliver it
// (TLS handshake included), and reads the fixed header as the bytes go by,
// so a CONNECT that declares more than maxBytes ends the connection before
// the broker sizes a buffer by the declared length. After the CONNECT it
// only passes bytes through (mochi then sets the keep-alive deadline and
// checks max_packet_bytes for every later packet itself).
type connectGuard struct {
	net.Conn
	maxBytes int

	done      bool
	header    int // fixed-header bytes seen
	remaining int // the declared length so far
	mult      int
}

func guard(c net.Conn, l Limits) net.Conn {
	_ = c.SetDeadline(time.Now().Add(l.ConnectTimeout))
	return &connectGuard{Conn: c, maxBytes: l.MaxConnectBytes, mult: 1}
}

func (g *connectGuard) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if g.done {
		return n, err
	}
	for _, b := range p[:n] {
		if err := g.see(b); err != nil {
			return 0, err
		}
		if g.done {
			break
		}
	}
	return n, err
}

// see takes the next byte of the fixed header: the packet type, then up to
// four bytes of the variable-length remaining length.
func (g *connectGuard) see(b byte) error {
	g.header++
	if g.header == 1 {
		if b>>4 != 1 {
			return errNotConnect
		}
		return nil
	}
	g.remaining += int(b&0x7f) * g.mult
	g.mult *= 128
	if g.remaining+g.header > g.maxBytes {
		return fmt.Errorf("%w (%d)", errConnectTooLarge, g.maxBytes)
	}
	if b&0x80 == 0 {
		g.done = true
	} else if g.header == 5 {
		return errors.New("malformed remaining length")
	}
	return nil
}

// NetConn is the connection under the guard (its TLS state).
func (g *connectGuard) NetConn() net.Conn { return g.Conn }
