package security

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
)

// The unauthenticated floods of issue 13's items 1-4, each against a
// production-like server in its own process, measured as docs/SECURITY.md
// reports them:
//
//	go test ./test/security -run '^$' -bench Flood -benchtime 1x -flood.duration 30s
//
// (or VITALWIRE_FLOOD_DURATION=30s). Each sub-benchmark reports the
// server's idle resident set, its peak above idle, /healthz latency (p50,
// p99, max) and failures seen by a client polling it every
// -flood.probe from its own address, the server's peak open descriptors,
// how much the data folder and the server's log grew, and what the
// attacker did. The benchmarks assert nothing: the figures go
// into the docs. Run them on an otherwise idle machine.
var (
	floodDuration = flag.Duration("flood.duration", 0, "how long each flood runs (default 30s, or $VITALWIRE_FLOOD_DURATION)")
	floodProbe    = flag.Duration("flood.probe", 50*time.Millisecond, "how often /healthz is asked during a flood")
	floodSources  = flag.Int("flood.sources", 1, "attacker source addresses (127.0.0.2 on)")
	floodConns    = flag.Int("flood.conns", 9000, "slow-body and idle HTTP connections held open (SlowBodies)")
	floodLogins   = flag.Int("flood.logins", 48, "parallel wrong-password sign-ins (Login)")
)

func duration(b *testing.B) time.Duration {
	if *floodDuration > 0 {
		return *floodDuration
	}
	if s := os.Getenv("VITALWIRE_FLOOD_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(b, err, "VITALWIRE_FLOOD_DURATION")
		return d
	}
	return 30 * time.Second
}

func BenchmarkFlood(b *testing.B) {
	b.Run("MQTTConnect", benchMQTTConnect)
	b.Run("AuditIds", benchAuditIDs)
	b.Run("AnonymousRefusals", benchAnonymousRefusals)
	b.Run("Login", benchLogin)
	b.Run("LoginSpray", benchLoginSpray)
	b.Run("SlowBodies", benchSlowBodies)
}

// flood runs attack against a fresh server once per iteration and reports
// the last run's figures plus the attacker's count (unit: what).
func flood(b *testing.B, what string, setup func(*harness.FloodTarget), attack func(ctx context.Context, f *harness.FloodTarget, n *atomic.Int64)) {
	harness.RaiseFileLimit(b)
	for b.Loop() {
		f := harness.StartFloodTarget(b, "")
		if setup != nil {
			setup(f)
		}
		disk, logSize := harness.DirSize(f.Cfg.DataDir), fileSize(f.Log)
		var n atomic.Int64
		r := f.Watch(b, duration(b), *floodProbe, func(ctx context.Context) { attack(ctx, f, &n) })
		r.Report(b)
		b.ReportMetric(float64(n.Load()), what)
		b.ReportMetric(float64(harness.DirSize(f.Cfg.DataDir)-disk)/(1<<20), "data-growth-MiB")
		b.ReportMetric(float64(fileSize(f.Log)-logSize)/(1<<20), "log-growth-MiB")
	}
}

// workers runs n copies of fn until ctx ends.
func workers(ctx context.Context, n int, fn func(ctx context.Context, i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				fn(ctx, i)
			}
		})
	}
	wg.Wait()
}

// Item 1: MQTT memory before authentication. Connections declare the
// largest CONNECT the protocol can (256 MiB) and stream zeros into it,
// while others connect and present a wrong password as fast as the
// server answers.
func benchMQTTConnect(b *testing.B) {
	dialer := harness.NewAttackDialer(*floodSources)
	zeros := make([]byte, 32<<10)
	flood(b, "attacker-conns", nil, func(ctx context.Context, f *harness.FloodTarget, n *atomic.Int64) {
		var wg sync.WaitGroup
		wg.Go(func() { // 4 huge CONNECTs streaming zeros
			workers(ctx, 4, func(ctx context.Context, _ int) {
				c, err := dialer.DialContext(ctx, "tcp", f.BrokerAddr)
				if err != nil {
					pause(ctx, 10*time.Millisecond)
					return
				}
				n.Add(1)
				defer c.Close()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				defer stop()
				if _, err := c.Write([]byte{0x10, 0xff, 0xff, 0xff, 0x7f}); err != nil {
					return
				}
				for ctx.Err() == nil {
					if _, err := c.Write(zeros); err != nil {
						return
					}
				}
			})
		})
		wg.Go(func() { // the connect storm: well-formed CONNECTs, wrong passwords
			workers(ctx, 16, func(ctx context.Context, i int) {
				c, err := dialer.DialContext(ctx, "tcp", f.BrokerAddr)
				if err != nil {
					pause(ctx, 10*time.Millisecond)
					return
				}
				n.Add(1)
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				c.Write(mqttConnect(fmt.Sprintf("storm-%d", i), "watch-1", "not-the-secret"))
				io.ReadFull(c, make([]byte, 4)) // CONNACK, or the close
			})
		})
		wg.Wait()
	})
}

// mqttConnect is an MQTT 3.1.1 CONNECT with a username and password.
func mqttConnect(clientID, user, password string) []byte {
	str := func(b *bytes.Buffer, s string) {
		binary.Write(b, binary.BigEndian, uint16(len(s)))
		b.WriteString(s)
	}
	var body bytes.Buffer
	str(&body, "MQTT")
	body.Write([]byte{4, 0xc2, 0, 30}) // level 4; username, password, clean session; keep-alive 30 s
	str(&body, clientID)
	str(&body, user)
	str(&body, password)
	out := []byte{0x10}
	for l := body.Len(); ; {
		d := byte(l % 128)
		if l /= 128; l > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if l == 0 {
			break
		}
	}
	return append(out, body.Bytes()...)
}

// requests floods with parallel HTTP requests, each made by request(i, n)
// for worker i after n requests in all.
func requests(b *testing.B, parallel int, timeout time.Duration, setup func(*harness.FloodTarget),
	request func(ctx context.Context, url string, i int, n int64) *http.Request) {
	dialer := harness.NewAttackDialer(*floodSources)
	flood(b, "attacker-reqs", setup, func(ctx context.Context, f *harness.FloodTarget, n *atomic.Int64) {
		client := dialer.HTTPClient(parallel, timeout)
		defer client.CloseIdleConnections()
		workers(ctx, parallel, func(ctx context.Context, i int) {
			if resp, err := client.Do(request(ctx, f.URL, i, n.Load())); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else {
				pause(ctx, 10*time.Millisecond)
			}
			n.Add(1)
		})
	})
}

// signIn is a password sign-in request.
func signIn(ctx context.Context, url, username, password string) *http.Request {
	body, _ := json.Marshal(httpapi.SignInRequest{Username: username, Password: password})
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/session", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// Item 2: audit-log and disk flooding. Anonymous requests to a patient
// route with 256 KiB ids, 32 at a time.
func benchAuditIDs(b *testing.B) {
	id := strings.Repeat("p", 256<<10)
	requests(b, 32, 5*time.Second, nil, func(ctx context.Context, url string, _ int, _ int64) *http.Request {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/patients/"+id+"/readings", nil)
		return req
	})
}

// Item 2 with ids of the right form: anonymous requests for patient data,
// each a refusal the audit log must account for, 32 at once.
func benchAnonymousRefusals(b *testing.B) {
	requests(b, 32, 5*time.Second, nil, func(ctx context.Context, url string, _ int, n int64) *http.Request {
		id := fmt.Sprintf("p%063d", n) // 64 characters, a new patient each time
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/patients/"+id+"/readings", nil)
		return req
	})
}

// Item 3 as password spraying: wrong passwords for ever new usernames, so
// no account locks and every attempt that passes the per-source limit
// costs a password hash; -flood.logins at once.
func benchLoginSpray(b *testing.B) {
	requests(b, *floodLogins, 30*time.Second, nil, func(ctx context.Context, url string, i int, n int64) *http.Request {
		return signIn(ctx, url, fmt.Sprintf("user-%d-%d", i, n), "guess-guess-guess")
	})
}

// Item 3: wrong-password sign-ins to a real account, -flood.logins at
// once.
func benchLogin(b *testing.B) {
	setup := func(f *harness.FloodTarget) {
		svc := harness.Attach(b, f.Cfg, f.URL)
		svc.MustCall(b, http.StatusNoContent, "POST", "/api/v1/users", svc.Admin(),
			httpapi.UserRequest{Username: "nurse", Subject: "nurse-1", Role: auth.RoleClinician, Password: "correct horse battery"}, nil)
	}
	requests(b, *floodLogins, 30*time.Second, setup, func(ctx context.Context, url string, i int, n int64) *http.Request {
		return signIn(ctx, url, "nurse", fmt.Sprintf("guess-%d-%d", i, n))
	})
}

// Item 4: slow bodies and idle connections. Two thirds of -flood.conns
// send a sign-in's headers and then its body a byte every 2 s; a third
// make one request and then hold the connection idle. A connection the
// server closes is opened again.
func benchSlowBodies(b *testing.B) {
	dialer := harness.NewAttackDialer(*floodSources)
	limit := harness.RaiseFileLimit(b)
	conns := min(*floodConns, int(limit)-1000)
	const head = "POST /api/v1/session HTTP/1.1\r\nHost: vitalwire\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"username\":\""
	flood(b, "attacker-conns", nil, func(ctx context.Context, f *harness.FloodTarget, n *atomic.Int64) {
		addr := strings.TrimPrefix(f.URL, "http://")
		// Connections open 64 at a time, as fast as the server takes them.
		gate := make(chan struct{}, 64)
		workers(ctx, conns, func(ctx context.Context, i int) {
			gate <- struct{}{}
			c, err := dialer.DialContext(ctx, "tcp", addr)
			<-gate
			if err != nil {
				pause(ctx, 100*time.Millisecond)
				return
			}
			n.Add(1)
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			if i%3 == 2 { // idle after one request
				if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: vitalwire\r\n\r\n")); err != nil {
					return
				}
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return // closed by the server (or the flood's end)
					}
				}
			}
			if _, err := c.Write([]byte(head)); err != nil {
				return
			}
			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
			}
		})
	})
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
