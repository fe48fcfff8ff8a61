package netlimit

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// WriteProgress gives each write of a response d to reach the client,
// instead of http.Server's WriteTimeout for the whole response: a client
// that stops reading is cut off after d, while a long response (an export
// that streams for minutes) lives as long as it keeps moving.
func WriteProgress(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		pw.extend()
		h.ServeHTTP(pw, r)
	})
}

type progressWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	d        time.Duration
	hijacked bool
}

func (p *progressWriter) extend() {
	if !p.hijacked {
		_ = p.rc.SetWriteDeadline(time.Now().Add(p.d))
	}
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.extend()
	return p.ResponseWriter.Write(b)
}

func (p *progressWriter) WriteHeader(code int) {
	p.extend()
	p.ResponseWriter.WriteHeader(code)
}

// Flush keeps http.Flusher working for streaming handlers.
func (p *progressWriter) Flush() {
	p.extend()
	_ = p.rc.Flush()
}

// Hijack hands the connection over (WebSocket upgrades) without the
// deadlines of the HTTP exchange: the socket's own ping/pong keeps it.
func (p *progressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := p.rc.Hijack()
	if err == nil {
		p.hijacked = true
		_ = c.SetDeadline(time.Time{})
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
