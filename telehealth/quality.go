package telehealth

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Connection quality, as the SFU sees each participant's connection: the
// share of packets lost on the way from them (the SFU's own receive
// statistics) and to them (the receiver reports their browser sends for
// what the SFU forwards, less what was already lost before the SFU), and
// the round trip (from those reports). The SFU is the one place that sees
// both directions of everyone, and what it says cannot be faked by a page.

// Quality levels, as the pages show them (with text, never colour alone).
const (
	QualityGood = "good"
	QualityFair = "fair"
	QualityPoor = "poor"
)

// Thresholds of the levels: a loss or round trip at or over a level's
// figure is at most that level. Video conferencing stays smooth under
// 2-3 % loss with NACK; past 10 % frames freeze; past half a second of
// round trip people talk over each other.
const (
	fairLoss = 0.03
	poorLoss = 0.10
	fairRTT  = 250 * time.Millisecond
	poorRTT  = 500 * time.Millisecond
)

// maxStreams bounds the streams whose reports a participant's
// assessment keeps.
const maxStreams = 64

// qualityInterval is how often each participant's quality is assessed.
const qualityInterval = 2 * time.Second

// QualityLevel is the level of a loss share (0-1) and round trip.
func QualityLevel(loss float64, rtt time.Duration) string {
	switch {
	case loss >= poorLoss || rtt >= poorRTT:
		return QualityPoor
	case loss >= fairLoss || rtt >= fairRTT:
		return QualityFair
	}
	return QualityGood
}

// linkStats gathers, between two assessments, what the receiver reports
// of a participant say.
type linkStats struct {
	mu sync.Mutex
	// streams are the receiver's counters of each stream forwarded to
	// the participant, by SSRC: the loss between two assessments is
	// the rise of its cumulative loss over that of the highest sequence
	// number (one report's fraction, over a few packets, says little).
	streams map[uint32]*streamCounts
	rtt     time.Duration
	// up is the participant's loss towards the SFU at the last
	// assessment (read by their subscribers' reports).
	up float64
	// The SFU's receive counters at the last assessment.
	recv, lost int64
	// better counts assessments in a row better than the level shown.
	better int
}

// streamCounts are a receiver's counters of one stream, at its last
// report and at the last assessment.
type streamCounts struct {
	lost, seq   uint32
	lost0, seq0 uint32
	up          float64 // the source's own loss towards the SFU
	idle        int     // assessments since its last report
}

// report takes one receiver report block of a forwarded stream whose
// source lost upLoss on its way in.
func (l *linkStats) report(rr rtcp.ReceptionReport, upLoss float64, now time.Time) {
	var rtt time.Duration
	if rr.LastSenderReport != 0 {
		// Middle 32 bits of the NTP time now, less the sender report's
		// and the time the receiver held it: in 1/65536 s.
		secs := uint64(now.Unix()) + 2208988800
		frac := uint64(now.Nanosecond()) << 32 / 1e9
		mid := uint32(secs<<16 | frac>>16)
		if d := mid - rr.LastSenderReport - rr.Delay; d < 1<<31 {
			rtt = time.Duration(uint64(d) * uint64(time.Second) >> 16)
		}
	}
	l.mu.Lock()
	if l.streams == nil {
		l.streams = map[uint32]*streamCounts{}
	}
	c := l.streams[rr.SSRC]
	if c == nil {
		if len(l.streams) >= maxStreams {
			l.mu.Unlock()
			return
		}
		c = &streamCounts{lost0: rr.TotalLost, seq0: rr.LastSequenceNumber}
		l.streams[rr.SSRC] = c
	}
	c.lost, c.seq, c.up, c.idle = rr.TotalLost, rr.LastSequenceNumber, upLoss, 0
	if rtt > 0 {
		l.rtt = rtt
	}
	l.mu.Unlock()
}

// reported takes the report blocks p sent of the stream it receives of f
// on ssrc.
func (p *peer) reported(f *forward, ssrc uint32, reports []rtcp.ReceptionReport) {
	for _, rr := range reports {
		if rr.SSRC == ssrc {
			p.link.report(rr, f.source.link.upLoss(), time.Now())
		}
	}
}

func (l *linkStats) upLoss() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// assess reads the SFU's receive statistics of p's connection and the
// reports gathered since the last time, and returns p's level (with
// hysteresis: worse at once, better after two assessments in a row).
func (p *peer) assess() (level string, loss float64, rtt time.Duration) {
	var recv, lost int64
	for _, st := range p.pc.GetStats() {
		if in, ok := st.(webrtc.InboundRTPStreamStats); ok {
			recv += int64(in.PacketsReceived)
			lost += int64(max(in.PacketsLost, 0))
		}
	}
	l := &p.link
	l.mu.Lock()
	defer l.mu.Unlock()
	up := 0.0
	if dr, dl := recv-l.recv, lost-l.lost; dr+dl > 0 && dl > 0 {
		up = float64(dl) / float64(dr+dl)
	}
	l.recv, l.lost, l.up = recv, lost, up
	var lostN, expected float64
	for ssrc, c := range l.streams {
		if c.idle++; c.idle > 5 {
			delete(l.streams, ssrc) // no longer forwarded
			continue
		}
		exp := float64(c.seq - c.seq0)
		lost := float64(int32((c.lost-c.lost0)<<8) >> 8) // 24 bits
		if exp > 0 && exp < 1<<20 {
			lostN += max(0, lost-c.up*exp)
			expected += exp
		}
		c.lost0, c.seq0 = c.lost, c.seq
	}
	down := 0.0
	if expected > 0 {
		down = min(1, lostN/expected)
	}
	loss, rtt = max(up, down), l.rtt
	level = QualityLevel(loss, rtt)
	shown := p.Quality
	if shown != "" && rank(level) < rank(shown) {
		if l.better++; l.better < 2 {
			return shown, loss, rtt
		}
	}
	l.better = 0
	return level, loss, rtt
}

func abs(n int) int { return max(n, -n) }

func rank(level string) int {
	switch level {
	case QualityPoor:
		return 2
	case QualityFair:
		return 1
	}
	return 0
}

// watchQuality assesses p every qualityInterval until p leaves, and tells
// everyone when p's level changes.
func (r *room) watchQuality(p *peer) {
	t := time.NewTicker(qualityInterval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		level, loss, rtt := p.assess()
		pct, ms := float64(int(loss*1000))/10, int(rtt/time.Millisecond)
		r.mu.Lock()
		// Everyone hears of a new level, and of figures that moved
		// enough to read differently.
		changed := p.Quality != level || math.Abs(pct-p.LossPct) >= 2 || abs(ms-p.RTTMs) >= 50
		if changed {
			p.Quality, p.LossPct, p.RTTMs = level, pct, ms
		}
		r.mu.Unlock()
		if changed {
			r.sfu.log.Info().Str("visit", r.id).Str("role", p.Role).Str("quality", level).Msg("connection quality")
			r.broadcastParticipants()
		}
	}
}

// LossInjection makes participants' connections lose a share of what the
// SFU sends them, changeable during a call. Tests only: see Config.DropTo.
type LossInjection struct {
	mu     sync.Mutex
	shares map[string]*atomic.Uint64 // float64 bits, by subject
}

// Set makes subject's connection lose share (0-1) of what the SFU sends
// it from now on.
func (l *LossInjection) Set(subject string, share float64) {
	l.share(subject).Store(math.Float64bits(share))
}

func (l *LossInjection) share(subject string) *atomic.Uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shares == nil {
		l.shares = map[string]*atomic.Uint64{}
	}
	s := l.shares[subject]
	if s == nil {
		s = &atomic.Uint64{}
		l.shares[subject] = s
	}
	return s
}

// lossInjector drops a share of the RTP packets the SFU sends on one
// participant's connection, before the retransmission history sees them
// (so that they stay lost, as on a bad network).
type lossInjector struct {
	interceptor.NoOp
	share *atomic.Uint64
}

func (l *lossInjector) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if rand.Float64() < math.Float64frombits(l.share.Load()) {
			return len(payload), nil
		}
		return w.Write(h, payload, a)
	})
}

type lossFactory struct{ share *atomic.Uint64 }

func (f lossFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &lossInjector{share: f.share}, nil
}
