package telehealth

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Simulcast: a participant's camera may come as two encodings of the same
// picture (RTP stream ids "l", half the size at a fraction of the rate,
// and "h", the full picture). Each subscriber gets one of them on a track
// of its own, chosen from what its own receiver reports say: a subscriber
// losing packets goes down to "l", and back up once its reports have been
// clean for a while, without touching what anyone else receives. A switch
// happens at a keyframe of the new layer (asked for with a PLI to that
// layer alone); sequence numbers and timestamps are rewritten so that the
// subscriber sees one continuous stream.

// Simulcast layers, low first, by RTP stream id.
var simulcastRIDs = [...]string{"l", "h"}

func layerOf(rid string) int {
	for i, r := range simulcastRIDs {
		if r == rid {
			return i
		}
	}
	return -1
}

const (
	// upAfter is how long a subscriber's reports must be clean (loss
	// under upLoss) before it goes up a layer.
	upAfter = 6 * time.Second
	upLoss  = 0.02
	// downLoss is the loss in one report that takes a subscriber down a
	// layer.
	downLoss = poorLoss
)

// SimulcastRIDs are the RTP stream ids the SFU takes a simulcast camera
// in, low first.
func SimulcastRIDs() []string { return simulcastRIDs[:] }

// layer is one incoming stream: a single track, or one simulcast encoding.
type layer struct {
	remote     *webrtc.TrackRemote
	lastPLI    atomic.Int64
	pliPending atomic.Bool
}

// downTrack is one subscriber's copy of a simulcast forward: its own
// local track, the layer it gets, and the rewriting that makes a switch
// seamless.
type downTrack struct {
	sub   *peer
	local *webrtc.TrackLocalStaticRTP
	f     *forward

	mu      sync.Mutex
	cur     int // layer forwarded now; -1 before the first keyframe
	want    int // layer its reports allow
	target  int // the layer sent nearest want: the one to switch to
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	started bool
	// cleanSince is when the subscriber's reports became clean (zero:
	// they are not).
	cleanSince time.Time
	// The receiver's cumulative loss and highest sequence number at the
	// last decision (loss is judged over at least judgeOver packets).
	lost0, seq0 uint32
	counted     bool
	// Switches counts layer changes.
	Switches atomic.Int64
}

// Layer returns the layer the subscriber gets now (-1: none yet).
func (d *downTrack) Layer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// write forwards a packet of layer i if this subscriber is on it, or
// switches to it at a keyframe when it is the target; it reports whether
// it did.
func (d *downTrack) write(i int, pkt *rtp.Packet, key bool) bool {
	d.mu.Lock()
	if d.cur != i {
		if d.target != i || !key {
			d.mu.Unlock()
			return false
		}
		if d.started {
			d.seqOff = d.lastSeq + 1 - pkt.SequenceNumber
			d.tsOff = d.lastTS + 3000 - pkt.Timestamp // a frame at 30/s later
		}
		if d.cur >= 0 {
			d.Switches.Add(1)
		}
		d.cur = i
	}
	out := *pkt
	out.Header.Extension, out.Header.Extensions, out.Header.ExtensionProfile = false, nil, 0
	out.SequenceNumber += d.seqOff
	out.Timestamp += d.tsOff
	if !d.started || int16(out.SequenceNumber-d.lastSeq) > 0 {
		d.lastSeq = out.SequenceNumber
	}
	if !d.started || int32(out.Timestamp-d.lastTS) > 0 {
		d.lastTS = out.Timestamp
	}
	d.started = true
	d.mu.Unlock()
	d.local.WriteRTP(&out)
	return true
}

// judgeOver is the fewest packets a layer decision is judged over.
const judgeOver = 60

// judge returns the subscriber's loss since the last decision, less its
// source's own (upLoss), once that covers judgeOver packets.
func (d *downTrack) judge(rr rtcp.ReceptionReport, upLoss float64) (float64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.counted {
		d.lost0, d.seq0, d.counted = rr.TotalLost, rr.LastSequenceNumber, true
		return 0, false
	}
	exp := rr.LastSequenceNumber - d.seq0
	if exp > 1<<20 { // went back: a new baseline
		d.lost0, d.seq0 = rr.TotalLost, rr.LastSequenceNumber
		return 0, false
	}
	if exp < judgeOver {
		return 0, false
	}
	lost := float64(int32((rr.TotalLost-d.lost0)<<8) >> 8)
	d.lost0, d.seq0 = rr.TotalLost, rr.LastSequenceNumber
	return max(0, lost/float64(exp)-upLoss), true
}

// retarget moves the subscriber's target layer by one step given the net
// loss of one of its reports, and asks the new layer for a keyframe.
func (d *downTrack) retarget(loss float64, now time.Time) {
	d.mu.Lock()
	switch {
	case loss >= downLoss:
		d.cleanSince = time.Time{}
		if d.want > 0 {
			d.want--
		}
	case loss < upLoss:
		if d.cleanSince.IsZero() {
			d.cleanSince = now
		} else if now.Sub(d.cleanSince) >= upAfter && d.want < len(simulcastRIDs)-1 {
			d.want++
			d.cleanSince = now
		}
	default:
		d.cleanSince = time.Time{}
	}
	d.mu.Unlock()
	d.refresh()
}

// refresh points the subscriber at the layer sent nearest the one it
// wants (layers come and go), asking that layer for a keyframe when it
// changed.
func (d *downTrack) refresh() {
	d.mu.Lock()
	target := d.f.available(d.want)
	changed := target != d.target
	d.target = target
	d.mu.Unlock()
	if changed {
		d.f.requestKeyframe(target)
	}
}

// keyframe asks for a keyframe of the layer the subscriber gets (or is
// waiting for).
func (d *downTrack) keyframe() {
	d.mu.Lock()
	i := d.target // a keyframe of the target also ends a switch under way
	d.mu.Unlock()
	d.f.requestKeyframe(i)
}

// available returns the layer nearest to want (lower first) that the
// publisher sends.
func (f *forward) available(want int) int {
	f.lmu.Lock()
	defer f.lmu.Unlock()
	for i := want; i >= 0; i-- {
		if f.layers[i] != nil {
			return i
		}
	}
	for i := want + 1; i < len(f.layers); i++ {
		if f.layers[i] != nil {
			return i
		}
	}
	return want
}

// addDown adds a subscriber's copy, aiming at the highest layer.
func (f *forward) addDown(d *downTrack) {
	d.cur = -1
	d.want = len(simulcastRIDs) - 1
	d.target = f.available(d.want)
	f.lmu.Lock()
	old := *f.downs.Load()
	next := make([]*downTrack, 0, len(old)+1)
	next = append(append(next, old...), d)
	f.downs.Store(&next)
	f.lmu.Unlock()
}

func (f *forward) dropDown(d *downTrack) {
	f.lmu.Lock()
	old := *f.downs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	f.downs.Store(&next)
	f.lmu.Unlock()
}

// copyLayer forwards simulcast layer i to the subscribers on it until it
// ends.
func (r *room) copyLayer(f *forward, i int) {
	l := f.layer(i)
	mime := strings.ToLower(l.remote.Codec().MimeType)
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			f.lmu.Lock()
			if f.layers[i] == l {
				f.layers[i] = nil
			}
			last := true
			for _, x := range f.layers {
				last = last && x == nil
			}
			f.lmu.Unlock()
			if last {
				r.unpublish(f)
			} else {
				for _, d := range *f.downs.Load() {
					d.refresh()
				}
			}
			return
		}
		start := time.Now().UnixNano()
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		if arr := r.sfu.arr; arr != nil {
			if t, ok := arr.take(pkt.SSRC, pkt.SequenceNumber); ok {
				start = t
			} else {
				r.sfu.ArrivalMisses.Add(1)
			}
		}
		key := keyframe(mime, pkt.Payload)
		written := false
		for _, d := range *f.downs.Load() {
			written = d.write(i, &pkt, key) || written
		}
		if written { // a layer no one gets now costs only its read
			r.sfu.Delay.Observe(time.Duration(time.Now().UnixNano() - start))
			r.sfu.Forwarded.Add(1)
		}
	}
}

func (f *forward) layer(i int) *layer {
	f.lmu.Lock()
	defer f.lmu.Unlock()
	return f.layers[i]
}

// keyframe reports whether an RTP payload starts a keyframe (VP8, H.264);
// for other codecs every packet counts as one, so that a switch is never
// held up (the decoder asks for a keyframe itself).
func keyframe(mime string, b []byte) bool {
	switch mime {
	case strings.ToLower(webrtc.MimeTypeVP8):
		// Payload descriptor (RFC 7741 §4.2), then the VP8 header's
		// inverse key frame flag.
		if len(b) < 1 {
			return false
		}
		s, pid := b[0]&0x10 != 0, b[0]&0x07
		n := 1
		if b[0]&0x80 != 0 {
			if len(b) < 2 {
				return false
			}
			x := b[1]
			n = 2
			if x&0x80 != 0 { // picture id
				if len(b) <= n {
					return false
				}
				if b[n]&0x80 != 0 {
					n += 2
				} else {
					n++
				}
			}
			if x&0x40 != 0 { // TL0PICIDX
				n++
			}
			if x&0x30 != 0 { // TID/KEYIDX
				n++
			}
		}
		return s && pid == 0 && len(b) > n && b[n]&0x01 == 0
	case strings.ToLower(webrtc.MimeTypeH264):
		if len(b) < 1 {
			return false
		}
		switch nal := b[0] & 0x1f; nal {
		case 5, 7:
			return true
		case 24: // STAP-A
			for i := 1; i+2 < len(b); {
				size := int(b[i])<<8 | int(b[i+1])
				if t := b[i+2] & 0x1f; t == 5 || t == 7 {
					return true
				}
				i += 2 + size
			}
		case 28: // FU-A: the start of an IDR
			return len(b) > 1 && b[1]&0x80 != 0 && b[1]&0x1f == 5
		}
		return false
	}
	return true
}

// mungeSimulcast asks a participant's browser to send its camera as
// simulcast: the server's offer names the RTP stream ids it takes in the
// camera's m-section (mid). pion cannot offer to receive simulcast itself;
// it takes the layers from the answer.
func mungeSimulcast(sdp, mid string) (string, error) {
	lines := strings.SplitAfter(sdp, "\r\n")
	want := "a=mid:" + mid + "\r\n"
	for i, l := range lines {
		if l != want {
			continue
		}
		// Once the answer has named the layers, pion's own offers do.
		for _, m := range lines[i+1:] {
			if strings.HasPrefix(m, "m=") {
				break
			}
			if strings.HasPrefix(m, "a=simulcast:") {
				return sdp, nil
			}
		}
		var add strings.Builder
		for _, rid := range simulcastRIDs {
			add.WriteString("a=rid:" + rid + " recv\r\n")
		}
		add.WriteString("a=simulcast:recv " + strings.Join(simulcastRIDs[:], ";") + "\r\n")
		return strings.Join(lines[:i+1], "") + add.String() + strings.Join(lines[i+1:], ""), nil
	}
	return sdp, errors.New("simulcast: no m-section of mid " + mid)
}

// handleDownRTCP reads a subscriber's RTCP for its copy of a simulcast
// forward: keyframe requests go to its layer alone, receiver reports
// steer its layer and its connection quality.
func (p *peer) handleDownRTCP(d *downTrack, sender *webrtc.RTPSender, ssrc uint32) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			var reports []rtcp.ReceptionReport
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.keyframe()
			case *rtcp.ReceiverReport:
				reports = pkt.Reports
			case *rtcp.SenderReport:
				reports = pkt.Reports
			}
			for _, rr := range reports {
				if rr.SSRC != ssrc {
					continue
				}
				up := d.f.source.link.upLoss()
				now := time.Now()
				p.link.report(rr, up, now)
				if loss, ok := d.judge(rr, up); ok {
					d.retarget(loss, now)
				}
			}
		}
	}
}
