package httpapi

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RequestMetrics count and time the API's requests by route: the route's
// pattern ("/api/v1/patients/{id}/readings"), never the path asked for,
// whose ids name patients and devices and would grow the series without
// bound; by method (an unknown one is "other") and status class ("2xx").
type RequestMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRequestMetrics registers the metrics with reg.
func NewRequestMetrics(reg prometheus.Registerer) *RequestMetrics {
	m := &RequestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwire_http_requests_total",
			Help: "HTTP requests answered, by route pattern (unmatched: no route), method and status class (1xx: upgraded to a WebSocket)."},
			[]string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vitalwire_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern, method and status class (WebSockets are counted, not timed).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"route", "method", "status"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// wrap measures every request h serves. It must sit right around the
// ServeMux, which stores the matched pattern in the request it was given.
func (m *RequestMetrics) wrap(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		route := "unmatched"
		if r.Pattern != "" {
			route = r.Pattern
			if _, path, ok := strings.Cut(route, " "); ok {
				route = path
			}
		}
		method := r.Method
		if !knownMethods[method] {
			method = "other"
		}
		status := sw.status
		switch {
		case sw.hijacked:
			status = http.StatusSwitchingProtocols
		case status == 0:
			status = http.StatusOK
		}
		class := string(rune('0'+status/100)) + "xx"
		m.requests.WithLabelValues(route, method, class).Inc()
		if !sw.hijacked {
			m.duration.WithLabelValues(route, method, class).Observe(time.Since(start).Seconds())
		}
	})
}

// statusWriter remembers the status written; it passes hijacking and
// flushing through (WebSockets, streamed exports).
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection's own writer
// (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
