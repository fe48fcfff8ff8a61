package simulators

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/topic"
)

// Runner plays a Simulation against a broker: one MQTT connection per
// device with the device's own credentials and a last will, publishing each
// emission when its simulated time comes. Time can be accelerated: with
// Accel 60, a simulated hour passes in a wall minute, and timestamps stay
// the simulated ones.
type Runner struct {
	Broker  string
	TLS     *tls.Config
	QoS     byte
	Sim     *Simulation
	Secrets map[string]string // device id -> secret
	// Accel is simulated seconds per wall second (default 1).
	Accel float64
	// Until stops the run at this simulated time (default the scenario's end).
	Until time.Time
	// Progress, when set, gets a line every ProgressEvery (default 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	Log           zerolog.Logger
	// Wall is the wall clock (tests inject it); nil is time.Now.
	Wall func() time.Time
}

// RunReport is the result of a run.
type RunReport struct {
	Devices        int            `json:"devices"`
	Connected      int64          `json:"connected"`
	SimulatedFrom  time.Time      `json:"simulated_from"`
	SimulatedTo    time.Time      `json:"simulated_to"`
	WallSeconds    float64        `json:"wall_seconds"`
	Sent           int64          `json:"sent_messages"`
	SentReadings   int64          `json:"sent_readings"`
	Acked          int64          `json:"acknowledged"`
	Errors         map[string]int `json:"errors"`
	PublishRate    float64        `json:"messages_per_second"`
	AckP50Ms       float64        `json:"publish_to_ack_p50_ms"`
	AckP99Ms       float64        `json:"publish_to_ack_p99_ms"`
	AckMaxMs       float64        `json:"publish_to_ack_max_ms"`
	HeapPerConnKiB float64        `json:"heap_per_connection_kib"`
	// Refused counts the readings the server refused (heard on the
	// devices' rejects topics), by reason, with the first detail of each.
	Refused        int64             `json:"refused_readings"`
	RefusedBy      map[string]int64  `json:"refused_by_reason"`
	RefusalDetails map[string]string `json:"refusal_details,omitempty"`
	// Accel is the requested simulated seconds per wall second, and
	// AchievedAccel what the run kept up.
	Accel         float64  `json:"accel"`
	AchievedAccel float64  `json:"achieved_accel"`
	Warnings      []string `json:"warnings,omitempty"`
}

// Hints says, per refusal reason, what to change in a wearsim run.
func (r RunReport) Hints() map[string]string {
	h := map[string]string{}
	if r.Accel > 1 {
		h["future_time"] = "with --accel above 1 a fleet that starts now runs ahead of the server clock; " +
			"play a scenario whose start is far enough in the past, or use --accel 1"
		h["too_old"] = "the scenario starts further back than the server's back-fill window (ingest.max_age)"
	}
	return h
}

type runStats struct {
	sent, readings, acked, connected atomic.Int64
	mu                               sync.Mutex
	errs                             map[string]int
	lats                             []float64
}

func (s *runStats) fail(kind string) {
	s.mu.Lock()
	s.errs[kind]++
	s.mu.Unlock()
}

// Run connects the fleet and plays the simulation until ctx ends or the
// simulated end is reached, then waits (up to 30 s) for outstanding
// acknowledgements and disconnects.
func (r *Runner) Run(ctx context.Context) (RunReport, error) {
	if r.Accel <= 0 {
		r.Accel = 1
	}
	if r.Wall == nil {
		r.Wall = time.Now
	}
	if r.ProgressEvery <= 0 {
		r.ProgressEvery = 5 * time.Second
	}
	until := r.Until
	if until.IsZero() || until.After(r.Sim.End()) {
		until = r.Sim.End()
	}
	devs := r.Sim.Devices()
	st := &runStats{errs: map[string]int{}}
	refusals := NewRefusals()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	clients := make(map[string]mqtt.Client, len(devs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // connection attempts in flight
	for _, d := range devs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := r.connect(d, st, refusals)
			mu.Lock()
			clients[d.ID] = c
			mu.Unlock()
		})
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep := RunReport{Devices: len(devs), SimulatedFrom: r.Sim.Now()}
	if len(devs) > 0 {
		rep.HeapPerConnKiB = float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / 1024 / float64(len(devs))
	}

	wallStart, simStart := r.Wall(), r.Sim.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastProgress := wallStart
	var pending sync.WaitGroup
	publish := func(e Emission) {
		c := clients[e.Device]
		if c == nil {
			return
		}
		st.sent.Add(1)
		st.readings.Add(int64(e.Readings))
		t0 := time.Now()
		tok := c.Publish(e.Topic, r.QoS, e.Retained, e.Payload)
		pending.Add(1)
		go func() {
			defer pending.Done()
			if !tok.WaitTimeout(60 * time.Second) {
				st.fail("publish_timeout")
				return
			}
			if tok.Error() != nil {
				st.fail("publish_error")
				return
			}
			st.acked.Add(1)
			ms := float64(time.Since(t0).Microseconds()) / 1000
			st.mu.Lock()
			st.lats = append(st.lats, ms)
			st.mu.Unlock()
		}()
	}
	for r.Sim.Now().Before(until) {
		select {
		case <-ctx.Done():
			goto done
		case <-tick.C:
		}
		wall := r.Wall()
		simNow := simStart.Add(time.Duration(float64(wall.Sub(wallStart)) * r.Accel))
		if simNow.After(until) {
			simNow = until
		}
		if err := r.Sim.Advance(simNow, publish); err != nil {
			return rep, err
		}
		if r.Progress != nil && wall.Sub(lastProgress) >= r.ProgressEvery {
			lastProgress = wall
			el := wall.Sub(wallStart).Seconds()
			st.mu.Lock()
			nerr := 0
			for _, n := range st.errs {
				nerr += n
			}
			st.mu.Unlock()
			fmt.Fprintf(r.Progress, "sim %s  connected %d/%d  sent %d  acked %d  refused %d  errors %d  rate %.0f messages/s\n",
				r.Sim.Now().Format(time.RFC3339), st.connected.Load(), len(devs), st.sent.Load(), st.acked.Load(), refusals.Total(), nerr,
				float64(st.acked.Load())/el)
		}
	}
done:
	played := r.Wall().Sub(wallStart).Seconds() // before the wait for the last acks
	waited := make(chan struct{})
	go func() { pending.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
	}
	refusals.Settle(500*time.Millisecond, 3*time.Second)
	for _, c := range clients {
		c.Disconnect(100)
	}
	rep.SimulatedTo = r.Sim.Now()
	rep.WallSeconds = r.Wall().Sub(wallStart).Seconds()
	rep.Refused, rep.RefusedBy, rep.RefusalDetails = refusals.Total(), refusals.ByReason(), refusals.Details()
	rep.Accel = r.Accel
	if played > 0 {
		rep.AchievedAccel = rep.SimulatedTo.Sub(rep.SimulatedFrom).Seconds() / played
		// Judged only over a run long enough for the 100 ms ticks not to
		// dominate, and not for a run that reached its simulated end.
		if played >= 2 && rep.SimulatedTo.Before(until) && rep.AchievedAccel < 0.95*r.Accel {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("achieved accel %.1f, below the requested %g: "+
				"this machine could not play the fleet that fast (fewer devices, or a lower --accel)", rep.AchievedAccel, r.Accel))
		}
	}
	if n := rep.Sent - rep.Acked; n > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d messages were not acknowledged", n))
	}
	rep.Connected = st.connected.Load()
	rep.Sent, rep.SentReadings, rep.Acked = st.sent.Load(), st.readings.Load(), st.acked.Load()
	if rep.WallSeconds > 0 {
		rep.PublishRate = float64(rep.Sent) / rep.WallSeconds
	}
	st.mu.Lock()
	rep.Errors = st.errs
	slices.Sort(st.lats)
	rep.AckP50Ms, rep.AckP99Ms = quantile(st.lats, 0.5), quantile(st.lats, 0.99)
	if n := len(st.lats); n > 0 {
		rep.AckMaxMs = st.lats[n-1]
	}
	st.mu.Unlock()
	return rep, nil
}

func (r *Runner) connect(d Device, st *runStats, refusals *Refusals) mqtt.Client {
	status := topic.Status(d.ID)
	opts := mqtt.NewClientOptions().AddBroker(r.Broker).SetClientID(d.ID).
		SetUsername(d.ID).SetPassword(r.Secrets[d.ID]).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10*time.Second).
		SetKeepAlive(60*time.Second).SetWriteTimeout(30*time.Second).
		SetWill(status, `{"online":false}`, 1, true)
	if r.TLS != nil {
		opts.SetTLSConfig(r.TLS)
	}
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		st.connected.Add(1)
		refusals.Subscribe(c, d.ID)
	})
	opts.SetConnectionLostHandler(func(mqtt.Client, error) { st.connected.Add(-1); st.fail("connection_lost") })
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		st.fail("connect")
		r.Log.Warn().Str("device", d.ID).Err(tok.Error()).Msg("device could not connect yet; retrying in the background")
	}
	return c
}
