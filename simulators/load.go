package simulators

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwire/vitalwire/topic"
	"github.com/vitalwire/vitalwire/vitals"
)

// Load publishes QoS 1 batches of heart-rate readings as fast as the broker
// acknowledges them (or at Rate), from one MQTT connection per device. It
// reads the server's /metrics for the durable rate and lag, hears the
// refusals on the devices' rejects topics, and, with a Token, reads its
// own readings back through the API to count what was lost.
type Load struct {
	Broker   string
	Devices  []Device
	Batch    int           // readings per message (default 10)
	Window   int           // unacknowledged messages per connection (default 64)
	Rate     int           // messages per second over all devices; 0: unlimited
	Duration time.Duration // how long to publish
	QoS      byte
	// Server is the Vitalwire base URL whose /metrics is read before and
	// after, for the durable count and the publish-to-durable lag.
	Server string
	// Drain is how long to wait after publishing for the server to make
	// everything durable (default 60 s).
	Drain time.Duration
	// Token reads the devices' patients' readings back (a clinician of
	// their care team, or the patient); without it lost_readings is not
	// measured.
	Token string
	// Progress, when set, gets a line every ProgressEvery (default 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Readings, when above 0, stops each device after its share of this
	// many readings (Duration stays the limit).
	Readings int64
	// Spacing, when above 0, stamps each device's readings this far apart
	// in event time, ending at the start of the run: a history upload (a
	// reading a second over the last minutes, sent as fast as
	// acknowledged). 0 stamps them with the publish time, a microsecond
	// apart.
	Spacing time.Duration
	// CPU names processes of this machine (name to PID) whose CPU time
	// (/proc/PID/stat) is reported per million durable readings, from the
	// first publish to the last reading made durable.
	CPU map[string]int
}

// Report is the result of a load run.
type Report struct {
	Devices       int     `json:"devices"`
	Batch         int     `json:"readings_per_message"`
	Seconds       float64 `json:"publish_seconds"`
	SentMessages  int64   `json:"sent_messages"`
	SentReadings  int64   `json:"sent_readings"`
	AckedMessages int64   `json:"acked_messages"`
	Errors        int64   `json:"errors"`
	PublishRate   float64 `json:"acked_readings_per_second"`
	PubackP50Ms   float64 `json:"puback_latency_p50_ms"`
	PubackP99Ms   float64 `json:"puback_latency_p99_ms"`
	PubackMaxMs   float64 `json:"puback_latency_max_ms"`
	// DurableReadings is the server-wide count of readings made durable
	// meanwhile (its /metrics), other devices' included.
	DurableReadings int64   `json:"durable_readings"`
	DurableRate     float64 `json:"durable_readings_per_second"`
	// StoredReadings are this run's own readings found through the API;
	// Lost are those acknowledged and not found (null without a token).
	StoredReadings *int64 `json:"stored_readings"`
	Lost           *int64 `json:"lost_readings"`
	// Refused counts the readings the server refused, by reason, with the
	// first detail of each.
	Refused          int64             `json:"refused_readings"`
	RefusedBy        map[string]int64  `json:"refused_by_reason"`
	RefusalDetails   map[string]string `json:"refusal_details,omitempty"`
	RequestedRate    int               `json:"requested_messages_per_second,omitempty"`
	AchievedRate     float64           `json:"acked_messages_per_second"`
	Warnings         []string          `json:"warnings,omitempty"`
	LagP50Ms         float64           `json:"publish_to_durable_p50_ms"`
	LagP99Ms         float64           `json:"publish_to_durable_p99_ms"`
	DurableAfterSecs float64           `json:"all_durable_after_seconds"`
	// Probe, when a probe ran, is publish-to-alert latency on a live
	// WebSocket during the load.
	Probe *ProbeReport `json:"alert_probe,omitempty"`
	// CPUSeconds is the CPU time (user and system) of each process of
	// Load.CPU from the first publish to the last reading made durable;
	// CPUPerMillion the same per million durable readings.
	CPUSeconds    map[string]float64 `json:"cpu_seconds,omitempty"`
	CPUPerMillion map[string]float64 `json:"cpu_seconds_per_million_readings,omitempty"`
}

// Run runs the load and returns its report.
func (l *Load) Run(ctx context.Context) (Report, error) {
	if l.Batch <= 0 {
		l.Batch = 10
	}
	if l.Window <= 0 {
		l.Window = 64
	}
	if l.Drain <= 0 {
		l.Drain = 60 * time.Second
	}
	before, err := scrape(l.Server)
	if err != nil {
		return Report{}, err
	}
	if l.ProgressEvery <= 0 {
		l.ProgressEvery = 5 * time.Second
	}
	refusals := NewRefusals()
	clients := make([]mqtt.Client, len(l.Devices))
	for i, d := range l.Devices {
		opts := mqtt.NewClientOptions().AddBroker(l.Broker).SetClientID(d.ID).
			SetUsername(d.ID).SetPassword(d.Secret).SetCleanSession(false).
			SetAutoReconnect(true).SetMaxResumePubInFlight(l.Window).SetWriteTimeout(10 * time.Second).
			SetOnConnectHandler(func(c mqtt.Client) { refusals.Subscribe(c, d.ID) })
		c := mqtt.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			return Report{}, fmt.Errorf("connect %s: %v", d.ID, tok.Error())
		}
		clients[i] = c
		defer c.Disconnect(250)
	}
	var sent, acked, errs atomic.Int64
	ackedBy := make([]atomic.Int64, len(l.Devices)) // acknowledged readings per device
	var latMu sync.Mutex
	var lats []float64
	// With a rate, each device paces itself to its share against the start
	// time, so short stalls are made up and the average rate holds.
	var every time.Duration
	if l.Rate > 0 {
		every = time.Duration(float64(time.Second) * float64(len(l.Devices)) / float64(l.Rate))
	}
	perDevice := int64(math.MaxInt64) // messages
	if l.Readings > 0 {
		perDevice = (l.Readings + int64(len(l.Devices)*l.Batch) - 1) / int64(len(l.Devices)*l.Batch)
	}
	cpuBefore, err := cpuTimes(l.CPU)
	if err != nil {
		return Report{}, err
	}
	start := time.Now()
	deadline := start.Add(l.Duration)
	// A history upload's readings end at the start of the run.
	historyFrom := start.UnixNano()
	if l.Spacing > 0 && l.Readings > 0 {
		historyFrom -= perDevice * int64(l.Batch) * int64(l.Spacing)
	}
	stopProgress := l.progress(start, &sent, &acked, refusals)
	var wg sync.WaitGroup
	for i, d := range l.Devices {
		c := clients[i]
		mine := &ackedBy[i]
		wg.Go(func() {
			sem := make(chan struct{}, l.Window)
			var inflight sync.WaitGroup
			readings := topic.Readings(d.ID)
			var last int64
			var b strings.Builder
			myLats := make([]float64, 0, 1<<16)
			var myMu sync.Mutex
			for seq := 0; int64(seq) < perDevice && time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				if every > 0 {
					if ahead := time.Until(start.Add(time.Duration(seq) * every)); ahead > 0 {
						time.Sleep(ahead)
					}
				}
				sem <- struct{}{}
				now, step := time.Now().UnixNano(), int64(1000)
				if now <= last {
					now = last + 1
				}
				if l.Spacing > 0 {
					now, step = historyFrom+int64(seq*l.Batch)*int64(l.Spacing), int64(l.Spacing)
				}
				b.Reset()
				fmt.Fprintf(&b, `{"seq":%d,"readings":[`, seq)
				for j := 0; j < l.Batch; j++ {
					if j > 0 {
						b.WriteByte(',')
					}
					// Readings of one message are a microsecond apart, so each
					// (device, type, time) is unique.
					ts := time.Unix(0, now+int64(j)*step).UTC().Format(time.RFC3339Nano)
					fmt.Fprintf(&b, `{"type":"heart_rate","value":%d,"unit":"/min","time":"%s"}`, 50+(seq+j)%80, ts)
				}
				b.WriteString("]}")
				last = now + int64(l.Batch)*1000
				sent.Add(1)
				t0 := time.Now()
				tok := c.Publish(readings, l.QoS, false, b.String())
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					defer func() { <-sem }()
					if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
						errs.Add(1)
						return
					}
					acked.Add(1)
					mine.Add(int64(l.Batch))
					myMu.Lock()
					myLats = append(myLats, float64(time.Since(t0).Microseconds())/1000)
					myMu.Unlock()
				}()
			}
			inflight.Wait()
			latMu.Lock()
			lats = append(lats, myLats...)
			latMu.Unlock()
		})
	}
	wg.Wait()
	end := time.Now()
	stopProgress()
	elapsed := end.Sub(start).Seconds()
	r := Report{Devices: len(l.Devices), Batch: l.Batch, Seconds: elapsed, SentMessages: sent.Load(),
		SentReadings: sent.Load() * int64(l.Batch), AckedMessages: acked.Load(), Errors: errs.Load()}
	r.PublishRate = float64(r.AckedMessages*int64(l.Batch)) / elapsed
	r.AchievedRate = float64(r.AckedMessages) / elapsed
	if l.Rate > 0 {
		r.RequestedRate = l.Rate
		if r.AchievedRate < 0.95*float64(l.Rate) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("achieved %.0f messages/s, below the requested %d messages/s: "+
				"the broker, the server or this machine could not keep up (see the PUBACK latency; raise --window or add devices)", r.AchievedRate, l.Rate))
		}
	}
	slices.Sort(lats)
	r.PubackP50Ms, r.PubackP99Ms = quantile(lats, 0.5), quantile(lats, 0.99)
	if len(lats) > 0 {
		r.PubackMaxMs = lats[len(lats)-1]
	}
	// Wait until the server has made every acknowledged reading durable.
	want := float64(r.AckedMessages * int64(l.Batch))
	var after metricsSnapshot
	for waitUntil := time.Now().Add(l.Drain); ; {
		if after, err = scrape(l.Server); err != nil {
			return r, err
		}
		if after.accepted-before.accepted >= want || time.Now().After(waitUntil) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.DurableAfterSecs = time.Since(start).Seconds()
	cpuAfter, err := cpuTimes(l.CPU)
	if err != nil {
		return r, err
	}
	if len(l.CPU) > 0 {
		r.CPUSeconds, r.CPUPerMillion = map[string]float64{}, map[string]float64{}
		durable := float64(after.accepted - before.accepted)
		for name := range l.CPU {
			r.CPUSeconds[name] = cpuAfter[name] - cpuBefore[name]
			if durable > 0 {
				r.CPUPerMillion[name] = r.CPUSeconds[name] / durable * 1e6
			}
		}
	}
	r.DurableReadings = int64(after.accepted - before.accepted)
	// The rate the server sustained: everything durable over the time it
	// took, from the first publish to the last reading made durable.
	r.DurableRate = float64(r.DurableReadings) / r.DurableAfterSecs
	r.LagP50Ms = histQuantile(before.lag, after.lag, 0.5) * 1000
	r.LagP99Ms = histQuantile(before.lag, after.lag, 0.99) * 1000
	if l.Token == "" {
		r.Warnings = append(r.Warnings, "lost_readings not measured: give --token, a user who may read the devices' patients")
	} else {
		wantBy := map[string]int64{}
		for i, d := range l.Devices {
			wantBy[d.ID] = ackedBy[i].Load()
		}
		// Readings are stamped with the publish time; the server may still
		// be writing what Mosquitto acknowledged, so read until all are
		// found or the drain time is over.
		from, to := time.Unix(0, min(historyFrom, start.UnixNano())).Add(-time.Second), end.Add(time.Second)
		waitUntil := time.Now().Add(l.Drain)
		for {
			stored, err := StoredReadings(ctx, l.Server, l.Token, l.Devices, vitals.HeartRate, from, to, wantBy)
			if err != nil {
				return r, err
			}
			if stored >= int64(want) || time.Now().After(waitUntil) {
				// Readings of messages whose acknowledgement never came may
				// be stored too: they are found, never counted as lost.
				lost := max(0, int64(want)-stored)
				r.StoredReadings, r.Lost = &stored, &lost
				break
			}
			time.Sleep(time.Second)
		}
	}
	refusals.Settle(500*time.Millisecond, 3*time.Second)
	r.Refused, r.RefusedBy, r.RefusalDetails = refusals.Total(), refusals.ByReason(), refusals.Details()
	return r, nil
}

// progress prints a line every ProgressEvery until the returned stop.
func (l *Load) progress(start time.Time, sent, acked *atomic.Int64, refusals *Refusals) (stop func()) {
	if l.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(l.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				el := now.Sub(start).Seconds()
				fmt.Fprintf(l.Progress, "load %5.1fs  sent %d  acked %d  refused %d  rate %.0f messages/s (%.0f readings/s)\n",
					el, sent.Load(), acked.Load(), refusals.Total(), float64(acked.Load())/el, float64(acked.Load()*int64(l.Batch))/el)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Min(float64(len(sorted)-1), q*float64(len(sorted))))]
}

type metricsSnapshot struct {
	accepted float64
	lag      map[float64]float64 // cumulative bucket counts by upper bound
}

func scrape(server string) (metricsSnapshot, error) {
	s := metricsSnapshot{lag: map[float64]float64{}}
	resp, err := http.Get(strings.TrimRight(server, "/") + "/metrics")
	if err != nil {
		return s, fmt.Errorf("read server metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		switch {
		case name == "vitalwire_readings_accepted_total":
			s.accepted = v
		case strings.HasPrefix(name, `vitalwire_ingest_reading_lag_seconds_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, `vitalwire_ingest_reading_lag_seconds_bucket{le="`), `"}`)
			bound, err := strconv.ParseFloat(le, 64)
			if le == "+Inf" {
				bound, err = math.Inf(1), nil
			}
			if err == nil {
				s.lag[bound] = v
			}
		}
	}
	return s, sc.Err()
}

// histQuantile estimates a quantile of the observations between two
// snapshots of a cumulative histogram, by linear interpolation in the
// bucket that holds it (as Prometheus's histogram_quantile does).
func histQuantile(before, after map[float64]float64, q float64) float64 {
	var bounds []float64
	for b := range after {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := after[math.Inf(1)] - before[math.Inf(1)]
	if total <= 0 {
		return 0
	}
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for _, b := range bounds {
		c := after[b] - before[b]
		if c >= rank {
			if math.IsInf(b, 1) {
				return prevBound
			}
			if c == prevCount {
				return b
			}
			return prevBound + (b-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = b, c
	}
	return prevBound
}

// cpuTimes reads the CPU time, user and system, of processes by name from
// /proc/PID/stat (Linux; its clock ticks are USER_HZ, 100 a second).
func cpuTimes(pids map[string]int) (map[string]float64, error) {
	out := map[string]float64{}
	for name, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil, fmt.Errorf("cpu of %s: %w", name, err)
		}
		// The command name (field 2) is in parentheses and may hold
		// spaces: count fields after its closing one.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if i < 0 || len(f) < 13 {
			return nil, fmt.Errorf("cpu of %s: unexpected /proc/%d/stat", name, pid)
		}
		utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
		stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("cpu of %s: unexpected /proc/%d/stat", name, pid)
		}
		out[name] = float64(utime+stime) / 100
	}
	return out, nil
}
