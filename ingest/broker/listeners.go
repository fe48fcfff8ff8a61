package broker

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/vitalwire/vitalwire/internal/netlimit"
)

// listen opens addr with the connection limits under TLS (so a refused
// connection costs no handshake).
func listen(addr string, tlsConf *tls.Config, l Limits, onRefuse func(netip.Addr, netlimit.Reason)) (net.Listener, error) {
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var ln net.Listener = netlimit.Wrap(raw, l.conns(), netlimit.OnRefuse(onRefuse))
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return ln, nil
}

// guardedListener hands mochi each connection behind its connectGuard.
type guardedListener struct {
	net.Listener
	limits Limits
}

func (g guardedListener) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return guard(c, g.limits), nil
}

// wsListener is MQTT over WebSocket on a limited listener: mochi's own
// WebSocket listener opens its socket itself, so its connections could
// not be counted per source.
type wsListener struct {
	id     string
	ln     net.Listener
	limits Limits
	srv    *http.Server
	up     websocket.Upgrader
	log    *slog.Logger
	tls    bool

	establish listeners.EstablishFn
}

var _ listeners.Listener = (*wsListener)(nil)

func newWSListener(id string, ln net.Listener, l Limits, isTLS bool) *wsListener {
	w := &wsListener{id: id, ln: ln, limits: l, tls: isTLS,
		// Gateways, not browsers holding someone's cookies, speak MQTT
		// here, and every connection authenticates in its CONNECT: the
		// origin proves nothing.
		up: websocket.Upgrader{Subprotocols: []string{"mqtt"}, CheckOrigin: func(*http.Request) bool { return true }},
	}
	w.srv = &http.Server{Handler: w, ReadHeaderTimeout: l.ConnectTimeout, ReadTimeout: l.ConnectTimeout, MaxHeaderBytes: 16 << 10}
	return w
}

func (w *wsListener) ID() string      { return w.id }
func (w *wsListener) Address() string { return w.ln.Addr().String() }
func (w *wsListener) Init(log *slog.Logger) error {
	w.log = log
	return nil
}

func (w *wsListener) Protocol() string {
	if w.tls {
		return "wss"
	}
	return "ws"
}

func (w *wsListener) Serve(establish listeners.EstablishFn) {
	w.establish = establish
	if err := w.srv.Serve(w.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		w.log.Error("websocket listener stopped", "error", err, "listener", w.id)
	}
}

func (w *wsListener) Close(closeClients listeners.CloseFn) {
	_ = w.srv.Close()
	closeClients(w.id)
}

func (w *wsListener) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	c, err := w.up.Upgrade(rw, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	// One MQTT packet a message: no message may be larger than a packet.
	c.SetReadLimit(int64(max(w.limits.MaxPacketBytes, w.limits.MaxConnectBytes)) + 16)
	if err := w.establish(w.id, guard(&wsConn{Conn: c.NetConn(), ws: c}, w.limits)); err != nil {
		w.log.Debug("", "error", err, "listener", w.id)
	}
}

// errTextMessage: MQTT over WebSocket is carried in binary messages.
var errTextMessage = errors.New("websocket: text message where MQTT needs binary")

// wsConn reads and writes MQTT bytes as binary WebSocket messages; deadlines
// and addresses are the underlying connection's.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
	r  io.Reader
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errTextMessage
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error { return c.ws.Close() }

// NetConn is the connection under the WebSocket (its TLS state).
func (c *wsConn) NetConn() net.Conn { return c.Conn }
