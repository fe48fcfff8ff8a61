package security

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// Threat: without credentials, a client holds the HTTP server's
// connections (and file descriptors) with requests whose body never ends,
// or with many idle connections from one address, until nobody else gets
// in. The limits must not cut off the long-lived connections that are
// meant to live: WebSockets.

func httpAddr(s *harness.Service) string { return strings.TrimPrefix(s.URL(), "http://") }

func TestARequestWhoseBodyNeverEndsIsCutOffAfterTheReadTimeout(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.ReadHeaderTimeout = time.Second
	cfg.HTTP.ReadTimeout = time.Second
	s := harness.Start(t, cfg)
	c := harness.DialFrom(t, "127.0.0.1", httpAddr(s))
	_, err := fmt.Fprintf(c, "POST /api/v1/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", httpAddr(s))
	require.NoError(t, err)
	// One byte every 200 ms: fast enough for any per-read idle timeout.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	require.True(t, harness.ClosedWithin(c, 6*time.Second), "a request body trickling for 6 s still holds its connection (read_timeout 1 s)")
}

func TestAnIdleConnectionIsClosedAfterTheIdleTimeout(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.IdleTimeout = time.Second
	cfg.HTTP.ReadHeaderTimeout = time.Second
	s := harness.Start(t, cfg)
	c := harness.DialFrom(t, "127.0.0.1", httpAddr(s))
	_, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", httpAddr(s))
	require.NoError(t, err)
	require.True(t, harness.ClosedWithin(c, 6*time.Second), "a kept-alive connection with no second request is held for 6 s (idle_timeout 1 s)")
}

func TestOneAddressCannotHoldMoreThanItsShareOfTheHTTPConnections(t *testing.T) {
	t.Parallel()
	second := harness.SecondSource(t)
	cfg := harness.Config(t)
	cfg.HTTP.MaxConnectionsPerSource = 3
	s := harness.Start(t, cfg)
	var held []net.Conn
	for i := 0; i < 3; i++ {
		held = append(held, harness.DialFrom(t, "127.0.0.1", httpAddr(s)))
	}
	extra := harness.DialFrom(t, "127.0.0.1", httpAddr(s))
	require.True(t, harness.ClosedWithin(extra, time.Second), "the 4th connection from one address is held")

	fromSecond := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(second)}}).DialContext}}
	resp, err := fromSecond.Get(s.URL() + "/healthz")
	require.NoError(t, err, "another address is refused too")
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// An operator sees the refusals (asked from the second address: the
	// first has no slot).
	resp, err = fromSecond.Get(s.URL() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	refused := regexp.MustCompile(`(?m)^vitalwire_connections_refused_total\{limit="max_connections_per_source",listener="http"\} (\d+)$`).
		FindStringSubmatch(string(body))
	require.NotNil(t, refused, "/metrics counts the refused connections")
	require.NotEqual(t, "0", refused[1], "/metrics counts the refused connections")

	// Once one of the held connections goes, the address gets a slot back.
	held[0].Close()
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.URL() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond)
}

func TestALiveSocketOutlivesTheHTTPTimeouts(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.HTTP.ReadHeaderTimeout = 500 * time.Millisecond
	cfg.HTTP.ReadTimeout = 500 * time.Millisecond
	cfg.HTTP.WriteTimeout = 500 * time.Millisecond
	cfg.HTTP.IdleTimeout = 500 * time.Millisecond
	s := harness.Start(t, cfg)
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "M-p1", Name: "Name p1", BirthDate: "1970-01-01"})
	s.AddTeam(t, "ward", "Ward")
	s.AddMember(t, "ward", "clinician", "doc")
	s.AddMember(t, "ward", "patient", "p1")
	secret := s.AddDevice(t, "w1", "p1")
	tok, _ := s.Token("doc", auth.RoleClinician, time.Hour)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, s.WSURL()+"/ws/v1/live?access_token="+tok, nil)
	require.NoError(t, err)
	defer conn.Close()
	// Four times every HTTP timeout, quiet.
	time.Sleep(2 * time.Second)
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "subscribe", "patients": []string{"p1"}}))
	s.WaitSubscribed(t, "doc", "p1", 5*time.Second)
	d := harness.Connect(t, s.BrokerURL(), "w1", secret)
	d.Publish(harness.Reading(vitals.HeartRate, 64, "/min", time.Now()))
	for {
		var m httpapi.LiveMessage
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		require.NoError(t, conn.ReadJSON(&m), "the socket was closed")
		if m.Type == "reading" {
			return
		}
	}
}
