package ingest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// readBuffer is the read buffer of a subscriber connection: a few
// batches of readings (a message is at most 64 KiB).
const readBuffer = 64 << 10

// openBuffered opens the broker connection as paho would (TCP, TLS, or a
// WebSocket) and puts a read buffer in front of TCP and TLS connections.
// paho reads each packet with several small reads (its fixed header a
// byte at a time, then the rest): unbuffered, each is a system call on a
// plain TCP connection, 14 % of the process in a load run. Writes are
// left as paho makes them: each is a whole packet, and an acknowledgement
// must not wait in a buffer.
func openBuffered(uri *url.URL, opts mqtt.ClientOptions) (net.Conn, error) {
	dialer := opts.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: 30 * time.Second}
	}
	if opts.ConnectTimeout > 0 && (dialer.Timeout == 0 || opts.ConnectTimeout < dialer.Timeout) {
		d := *dialer
		d.Timeout = opts.ConnectTimeout
		dialer = &d
	}
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err := dialer.DialContext(context.Background(), "tcp", uri.Host)
		if err != nil {
			return nil, err
		}
		return bufferReads(c), nil
	case "ssl", "tls", "mqtts":
		cfg := opts.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		c, err := tls.DialWithDialer(dialer, "tcp", uri.Host, cfg)
		if err != nil {
			return nil, err
		}
		return bufferReads(c), nil
	case "ws", "wss":
		u := *uri
		u.User = nil // as paho: the credentials go in CONNECT, not in the URL
		return mqtt.NewWebsocket(u.String(), opts.TLSConfig, opts.ConnectTimeout, opts.HTTPHeaders, opts.WebsocketOptions)
	}
	return nil, fmt.Errorf("broker scheme %q: not supported", uri.Scheme)
}

// bufferedConn is a connection whose reads go through a buffer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func bufferReads(c net.Conn) net.Conn {
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer)}
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
