package ingest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// readBuffer is the read buffer of a subscriber connection: a few
// batches of readings (a message is at most 64 KiB).
const readBuffer = 64 << 10

// openBuffered opens the broker connection as paho would (every scheme
// paho takes: TCP, a unix socket, TLS, or a WebSocket; a proxy from the
// environment as paho uses one) and buffers all but WebSockets both ways. paho reads
// each packet with several small reads (its fixed header a byte at a
// time, then the rest) and writes each packet, an acknowledgement of 4
// bytes for each message, with a write of its own: unbuffered, each is a
// system call (with the reads, 14 % of the process in a load run). Reads
// go through a buffer; writes are handed to a goroutine of the connection
// that sends whatever has gathered in one write, at once when it is idle
// (so an acknowledgement waits for nothing but the write before it).
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
		// A proxy from the environment (ALL_PROXY, NO_PROXY), as paho.
		c, err := proxy.FromEnvironmentUsing(dialer).Dial("tcp", uri.Host)
		if err != nil {
			return nil, err
		}
		return bufferReads(c), nil
	case "unix":
		path := uri.Host // unix://socket in the working folder, as paho
		if path == "" {
			path = uri.Path
		}
		c, err := dialer.Dial("unix", path)
		if err != nil {
			return nil, err
		}
		return bufferReads(c), nil
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		cfg := opts.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if os.Getenv("all_proxy") == "" {
			c, err := tls.DialWithDialer(dialer, "tcp", uri.Host, cfg)
			if err != nil {
				return nil, err
			}
			return bufferReads(c), nil
		}
		// Through the proxy all_proxy names, as paho does for TLS.
		raw, err := proxy.FromEnvironment().Dial("tcp", uri.Host)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, cfg)
		if err := c.Handshake(); err != nil {
			_ = raw.Close()
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

// maxPendingWrite is how much a connection's writes may gather before a
// writer waits for the socket.
const maxPendingWrite = 256 << 10

// closeFlush is how long Close lets gathered writes (a DISCONNECT) leave.
const closeFlush = time.Second

// bufferedConn is a connection whose reads go through a buffer and whose
// writes gather while the socket is busy.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	cond    *sync.Cond // pending grew, or room was made, or it closed
	pending []byte     // written, not yet sent
	spare   []byte
	err     error // the socket's write error: every later Write returns it
	closed  bool
	done    chan struct{} // the sender has ended
}

func bufferReads(c net.Conn) net.Conn {
	bc := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer), done: make(chan struct{})}
	bc.cond = sync.NewCond(&bc.mu)
	go bc.send()
	return bc
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write hands p to the sender. An error of the socket comes back from a
// later Write (and from Read): paho then drops the connection.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closed && len(c.pending) >= maxPendingWrite {
		c.cond.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closed:
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.cond.Broadcast()
	return len(p), nil
}

// send writes what has gathered, until the connection is closed and
// everything is sent, or the socket fails.
func (c *bufferedConn) send() {
	defer close(c.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.pending) == 0 && !c.closed && c.err == nil {
			c.cond.Wait()
		}
		if len(c.pending) == 0 || c.err != nil {
			return
		}
		buf := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(buf)
		c.mu.Lock()
		c.spare = buf[:0]
		if err != nil {
			c.err = err
		}
		c.cond.Broadcast()
	}
}

// Close lets what was written leave (for at most closeFlush), then closes
// the socket.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	t := time.NewTimer(closeFlush)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	err := c.Conn.Close()
	<-c.done // a write the close interrupted has returned
	return err
}
