package telehealth_test

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/telehealth"
)

// BenchmarkSFUVisits runs growing numbers of concurrent one-to-one visits
// through the SFU, each participant sending 1 Mbit/s of synthetic video
// (30 frames/s) as the high layer of a simulcast camera, with a low layer
// of 250 kbit/s beside it, and 50 audio packets/s, and measures over 10 s what the
// SFU added: packet loss (sent minus received, both directions) and the
// send-to-receive delay of every packet (p50, p99), and the SFU's own
// forwarding delay (from reading a packet to its writes returning, p99).
// All peers, the SFU and the encryption on both ends share this machine's
// 2 cores, so send-to-receive is an upper bound on what the SFU adds. It
// stops growing once loss passes 1 % or the SFU's p99 passes 20 ms.
//
//	go test ./telehealth -run '^$' -bench SFUVisits -benchtime 1x -timeout 30m
//
// VITALWIRE_SFU_STEPS overrides the visit counts (e.g. "10,50").
func BenchmarkSFUVisits(b *testing.B) {
	steps := []int{10, 25, 50, 75, 100, 150}
	if s := os.Getenv("VITALWIRE_SFU_STEPS"); s != "" {
		steps = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatal(err)
			}
			steps = append(steps, n)
		}
	}
	over := false
	for _, n := range steps {
		if over {
			break
		}
		b.Run(fmt.Sprintf("visits=%d", n), func(b *testing.B) {
			for range b.N {
				loss, p50, p99, fwd99, mbps := runVisits(b, n, 10*time.Second)
				b.ReportMetric(loss*100, "loss-%")
				b.ReportMetric(float64(p50.Microseconds())/1000, "e2e-p50-ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "e2e-p99-ms")
				b.ReportMetric(float64(fwd99.Microseconds())/1000, "sfu-p99-ms")
				b.ReportMetric(mbps, "Mbit/s-forwarded")
				if loss > 0.01 || fwd99 > 20*time.Millisecond {
					over = true
				}
			}
		})
	}
}

func runVisits(b *testing.B, visits int, measure time.Duration) (loss float64, p50, p99, fwd99 time.Duration, mbps float64) {
	sfu, base := sfuServerConfig(b, telehealth.Config{LoopbackOnly: true, MeasureArrival: true})
	api := rtctest.API(b)
	type pair struct{ a, b *rtctest.Participant }
	pairs := make([]pair, visits)
	for i := range pairs {
		v := fmt.Sprintf("v%d", i)
		// Cameras send simulcast, as the pages do: the SFU reads both
		// layers and gives each subscriber its own copy of one.
		sim := rtctest.Options{Simulcast: true}
		pairs[i] = pair{rtctest.JoinWith(b, api, wsURL(base, v, "a"+v), "a"+v, nil, sim), rtctest.JoinWith(b, api, wsURL(base, v, "b"+v), "b"+v, nil, sim)}
		pairs[i].a.Send(1000)
		pairs[i].b.Send(1000)
	}
	// Every receiver has its tracks before measuring.
	for _, p := range pairs {
		p.a.WaitFor(p.b.ID, "video", 30, 60*time.Second)
		p.b.WaitFor(p.a.ID, "video", 30, 60*time.Second)
		p.a.WaitFor(p.b.ID, "audio", 10, 60*time.Second)
		p.b.WaitFor(p.a.ID, "audio", 10, 60*time.Second)
	}
	type flow struct {
		from, to *rtctest.Participant
		kind     string
	}
	var flows []flow
	for _, p := range pairs {
		for _, k := range []string{"audio", "video"} {
			flows = append(flows, flow{p.a, p.b, k}, flow{p.b, p.a, k})
		}
	}
	sent0 := make([]int64, len(flows))
	recv0 := make([]int64, len(flows))
	delays0 := make([]int, len(flows))
	for i, f := range flows {
		sent0[i] = f.from.Sent(f.kind)
		rc := f.to.From(f.from.ID, f.kind)
		recv0[i] = rc.Packets.Load()
		delays0[i] = len(rc.Delays())
	}
	fwd0 := sfu.Forwarded.Load()
	hist0 := sfu.Delay.Snapshot()
	b.ResetTimer()
	time.Sleep(measure)
	sent1 := make([]int64, len(flows))
	for i, f := range flows {
		sent1[i] = f.from.Sent(f.kind)
	}
	fwd := sfu.Forwarded.Load() - fwd0
	fwd99 = sfu.Delay.Quantile(hist0, 0.99)
	time.Sleep(500 * time.Millisecond) // packets in flight at the end
	b.StopTimer()
	var sent, recv int64
	var delays []time.Duration
	for i, f := range flows {
		sent += sent1[i] - sent0[i]
		rc := f.to.From(f.from.ID, f.kind)
		ds := rc.Delays()
		n := min(len(ds), delays0[i]+int(sent1[i]-sent0[i]))
		recv += int64(n - delays0[i])
		delays = append(delays, ds[delays0[i]:n]...)
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	if len(delays) == 0 {
		b.Fatal("nothing received")
	}
	loss = max(0, 1-float64(recv)/float64(sent))
	p50 = delays[len(delays)/2]
	p99 = delays[len(delays)*99/100]
	// forwarded packets are ~1,100-byte video or 160-byte audio: report
	// the media bit rate from what the senders were asked for (the low
	// layers are read, not forwarded, while everyone's network is good).
	mbps = float64(visits*2) * 1.064 // 1 Mbit/s video + 64 kbit/s audio each
	b.Logf("%d visits: sent %d, received %d (loss %.3f%%), send-to-receive p50 %s p99 %s; SFU arrival-to-written p50 %s p99 %s; forwarded %d packets in %s (arrival not seen for %d since start)",
		visits, sent, recv, loss*100, p50, p99, sfu.Delay.Quantile(hist0, 0.5), fwd99, fwd, measure, sfu.ArrivalMisses.Load())
	for _, p := range pairs {
		p.a.Close()
		p.b.Close()
	}
	return loss, p50, p99, fwd99, mbps
}
