// Package rtctest is a synthetic telehealth participant for tests and
// benchmarks: a real pion PeerConnection that joins a visit through its
// signalling WebSocket, sends RTP whose payloads say who sent them, in
// what order and when, and checks and times every packet it receives.
package rtctest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/telehealth"
)

// A synthetic participant: a real pion PeerConnection that sends RTP whose
// payloads say who sent them, in what order and when, so that receivers
// can check every packet and time its trip through the SFU.

// magic starts a payload; lowMagic one of a simulcast camera's low layer.
const (
	magic    = "VWRTP"
	lowMagic = "VWRTL"
)

// Restart asks the server for an ICE restart.
var Restart = telehealth.Message{Type: "restart"}

// payload builds a packet body: magic, sender, sequence, send time, then
// filler derived from the sequence.
func payload(sender string, seq uint32, size int) []byte {
	return payloadMagic(magic, sender, seq, size)
}

func payloadMagic(mg, sender string, seq uint32, size int) []byte {
	b := make([]byte, size)
	n := copy(b, mg)
	b[n] = byte(len(sender))
	n++
	n += copy(b[n:], sender)
	binary.BigEndian.PutUint32(b[n:], seq)
	n += 4
	binary.BigEndian.PutUint64(b[n:], uint64(time.Now().UnixNano()))
	n += 8
	for i := n; i < size; i++ {
		b[i] = byte(seq) ^ byte(i)
	}
	return b
}

// vp8Prefix is the start of a simulcast packet: a VP8 payload
// descriptor (the start of a frame or not) and the first byte of the VP8
// header (a keyframe or not), so that the SFU finds its keyframes.
func vp8Prefix(start, key bool) []byte {
	b := []byte{0x00, 0x01}
	if start {
		b[0] = 0x10
		if key {
			b[1] = 0x00
		}
	}
	return b
}

// parse checks a payload and returns its sender, sequence and send time,
// and whether it is of a simulcast camera's low layer.
func parse(b []byte) (sender string, seq uint32, sent time.Time, low, ok bool) {
	if len(b) > 2 && b[0]&^0x10 == 0 && b[1]&^0x01 == 0 {
		b = b[2:] // a simulcast packet's VP8 prefix
	}
	if len(b) < len(magic)+1+12 {
		return "", 0, time.Time{}, false, false
	}
	switch string(b[:len(magic)]) {
	case magic:
	case lowMagic:
		low = true
	default:
		return "", 0, time.Time{}, false, false
	}
	n := len(magic)
	l := int(b[n])
	n++
	if len(b) < n+l+12 {
		return "", 0, time.Time{}, false, false
	}
	sender = string(b[n : n+l])
	n += l
	seq = binary.BigEndian.Uint32(b[n:])
	n += 4
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(b[n:])))
	n += 8
	for i := n; i < len(b); i++ {
		if b[i] != byte(seq)^byte(i) {
			return "", 0, time.Time{}, false, false
		}
	}
	return sender, seq, sent, low, true
}

// Received counts what a participant got from one sender on one kind.
type Received struct {
	Packets atomic.Int64 // distinct packets with a valid payload
	Bad     atomic.Int64 // packets whose payload did not check
	mu      sync.Mutex
	seen    map[uint32]bool
	delays  []time.Duration
}

type Participant struct {
	t     testing.TB
	ID    string
	ws    *websocket.Conn
	wmu   sync.Mutex
	pc    *webrtc.PeerConnection
	audio *webrtc.TrackLocalStaticRTP
	video *webrtc.TrackLocalStaticRTP
	// low is a simulcast camera's low layer (video is then the high);
	// keyNext asks the next frame of each to be a keyframe (a PLI came).
	low     *webrtc.TrackLocalStaticRTP
	keyNext [2]atomic.Bool
	simSend *webrtc.RTPSender
	mu      sync.Mutex
	got     map[string]*Received // sender/kind
	sent    map[string]*atomic.Uint32
	stop    chan struct{}
	stopped sync.Once
	ended   chan struct{}
}

func API(t testing.TB) *webrtc.API {
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	ir := &interceptor.Registry{}
	require.NoError(t, webrtc.RegisterDefaultInterceptorsWithOptions(m, ir, webrtc.WithNackResponderOptions(nack.ResponderSize(256))))
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// Join connects a participant to the signalling URL and starts sending.
func Join(t testing.TB, api *webrtc.API, url, id string, hdr http.Header) *Participant {
	t.Helper()
	return JoinWith(t, api, url, id, hdr, Options{})
}

// Options change how a participant connects.
type Options struct {
	// RelayOnly uses only TURN relay candidates, as behind a NAT that
	// lets nothing else through.
	RelayOnly bool
	// Simulcast sends the camera as two layers (RTP stream ids "l" and
	// "h"; see Send), with VP8 keyframe marks: one at the start and one
	// after each keyframe request.
	Simulcast bool
}

// JoinWith is Join with options. The peer connection is made with the ICE
// servers the server's welcome gives.
func JoinWith(t testing.TB, api *webrtc.API, url, id string, hdr http.Header, opts Options) *Participant {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	require.NoError(t, ws.WriteJSON(telehealth.Message{Type: "join"}))
	var welcome telehealth.Message
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	require.NoError(t, ws.ReadJSON(&welcome))
	ws.SetReadDeadline(time.Time{})
	require.Equal(t, "welcome", welcome.Type, "the server's first message: %+v", welcome)
	conf := webrtc.Configuration{ICEServers: welcome.ICEServers}
	if opts.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	require.NoError(t, err)
	p := &Participant{t: t, ID: id, ws: ws, pc: pc, got: map[string]*Received{}, sent: map[string]*atomic.Uint32{},
		stop: make(chan struct{}), ended: make(chan struct{})}
	p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", id)
	require.NoError(t, err)
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	tracks := []*webrtc.TrackLocalStaticRTP{p.audio}
	if opts.Simulcast {
		p.low, err = webrtc.NewTrackLocalStaticRTP(vp8, "video", id, webrtc.WithRTPStreamID("l"))
		require.NoError(t, err)
		p.video, err = webrtc.NewTrackLocalStaticRTP(vp8, "video", id, webrtc.WithRTPStreamID("h"))
		require.NoError(t, err)
		sender, err := pc.AddTrack(p.low)
		require.NoError(t, err)
		require.NoError(t, sender.AddEncoding(p.video))
		p.simSend = sender
		for i, rid := range []string{"l", "h"} {
			go func() {
				for {
					pkts, _, err := sender.ReadSimulcastRTCP(rid)
					if err != nil {
						return
					}
					for _, pkt := range pkts {
						if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
							p.keyNext[i].Store(true)
						}
					}
				}
			}()
		}
	} else {
		p.video, err = webrtc.NewTrackLocalStaticRTP(vp8, "video", id)
		require.NoError(t, err)
		tracks = append(tracks, p.video)
	}
	for _, tr := range tracks {
		sender, err := pc.AddTrack(tr)
		require.NoError(t, err)
		go func() {
			for {
				if _, _, err := sender.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.Write(telehealth.Message{Type: "candidate", Candidate: &init})
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		key := tr.StreamID() + "/" + tr.ID()     // the sender's track id: "audio", "video", or another added
		rc := &Received{seen: map[uint32]bool{}} // a new track (a rejoin) counts afresh
		lowRC := &Received{seen: map[uint32]bool{}}
		p.mu.Lock()
		p.got[key] = rc
		p.got[key+LowLayer] = lowRC
		p.mu.Unlock()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			sender, seq, sent, low, ok := parse(pkt.Payload)
			if !ok || sender != tr.StreamID() {
				rc.Bad.Add(1)
				continue
			}
			rc := rc
			if low {
				rc = lowRC
			}
			d := time.Since(sent)
			rc.mu.Lock()
			if !rc.seen[seq] {
				rc.seen[seq] = true
				rc.Packets.Add(1)
				rc.delays = append(rc.delays, d)
			}
			rc.mu.Unlock()
		}
	})
	go p.signal()
	t.Cleanup(p.Close)
	return p
}

func (p *Participant) Write(m telehealth.Message) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	p.ws.WriteJSON(m)
}

func (p *Participant) signal() {
	defer close(p.ended)
	for {
		_, data, err := p.ws.ReadMessage()
		if err != nil {
			return
		}
		var m telehealth.Message
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case "offer":
			sdp := m.SDP
			if p.low != nil {
				sdp = dropRecvRIDs(sdp)
			}
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
				if p.closing() || errors.Is(err, webrtc.ErrConnectionClosed) {
					return
				}
				p.t.Errorf("%s: remote offer: %v", p.ID, err)
				continue
			}
			ans, err := p.pc.CreateAnswer(nil)
			if err == nil {
				err = p.pc.SetLocalDescription(ans)
			}
			if err != nil {
				if p.closing() || errors.Is(err, webrtc.ErrConnectionClosed) {
					return
				}
				p.t.Errorf("%s: answer: %v", p.ID, err)
				continue
			}
			p.Write(telehealth.Message{Type: "answer", SDP: ans.SDP})
		case "candidate":
			if m.Candidate != nil {
				p.pc.AddICECandidate(*m.Candidate)
			}
		}
	}
}

// simulcastIDs returns the negotiated ids of the mid and RTP stream id
// header extensions and the camera's mid (zeros before negotiation).
func (p *Participant) simulcastIDs() (midID, ridID uint8, mid string) {
	for _, e := range p.simSend.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	for _, tr := range p.pc.GetTransceivers() {
		if tr.Sender() == p.simSend {
			mid = tr.Mid()
		}
	}
	if midID == 0 || mid == "" {
		return 0, 0, ""
	}
	return midID, ridID, mid
}

// LowLayer ends the kind of a simulcast camera's low layer in From and
// Sent ("video" + LowLayer); "video" is then the high layer.
const LowLayer = "~l"

// dropRecvRIDs removes the simulcast layers an offer says it receives.
// Once a participant's answer has named its layers, pion's later offers
// repeat them in the camera's m-section, where the server also sends
// someone's video; pion, answering, would take that m-section for an
// incoming simulcast track and drop the video (a browser does not).
func dropRecvRIDs(sdp string) string {
	lines := strings.SplitAfter(sdp, "\r\n")
	out := lines[:0]
	for _, l := range lines {
		if (strings.HasPrefix(l, "a=rid:") && strings.HasSuffix(l, " recv\r\n")) || strings.HasPrefix(l, "a=simulcast:recv ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// Send starts sending audio (50 packets/s of 160 bytes) and video at
// videoKbps in 30 frames/s of up to 1,100-byte packets; a simulcast
// camera sends that as its high layer and a quarter of it as its low.
func (p *Participant) Send(videoKbps int) {
	audioSeq, videoSeq := &atomic.Uint32{}, &atomic.Uint32{}
	p.sent["audio"], p.sent["video"] = audioSeq, videoSeq
	if p.low != nil {
		lowSeq := &atomic.Uint32{}
		p.sent["video"+LowLayer] = lowSeq
		go p.sendVideo(p.low, lowMagic, videoKbps/4, lowSeq, &p.keyNext[0])
		go p.sendVideo(p.video, magic, videoKbps, videoSeq, &p.keyNext[1])
	}
	go func() {
		time.Sleep(time.Duration(mrand.Int64N(int64(20 * time.Millisecond))))
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var sn uint16
		for i := uint32(0); ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			sn++
			s := audioSeq.Add(1)
			p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: sn, Timestamp: i * 960},
				Payload: payload(p.ID, s, 160)})
		}
	}()
	if p.low == nil {
		go p.sendVideo(p.video, magic, videoKbps, videoSeq, nil)
	}
}

// sendVideo sends 30 frames/s at kbps on tr; with keyNext (simulcast),
// each packet starts with a VP8 prefix marking the frames' starts and
// keyframes.
func (p *Participant) sendVideo(tr *webrtc.TrackLocalStaticRTP, mg string, kbps int, seq *atomic.Uint32, keyNext *atomic.Bool) {
	// Real cameras are not in step with each other: start at a random
	// point of the frame interval.
	time.Sleep(time.Duration(mrand.Int64N(int64(time.Second / 30))))
	frameBytes := kbps * 1000 / 8 / 30
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	var sn uint16
	var midID, ridID uint8
	var mid string
	started := false
	for frame := uint32(0); ; frame++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if keyNext != nil && ridID == 0 {
			// A simulcast layer is known to the SFU by the mid and RTP
			// stream id header extensions, once negotiated.
			midID, ridID, mid = p.simulcastIDs()
			if ridID == 0 {
				continue
			}
		}
		key := keyNext != nil && (!started || keyNext.Swap(false))
		started = true
		first := true
		for left := frameBytes; left > 0; left -= 1100 {
			size := min(left, 1100)
			sn++
			s := seq.Add(1)
			body := payloadMagic(mg, p.ID, s, max(size, 64))
			if keyNext != nil {
				body = append(vp8Prefix(first, key), body...)
			}
			first = false
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: sn, Timestamp: frame * 3000, Marker: left <= 1100},
				Payload: body}
			if ridID != 0 {
				pkt.Header.SetExtension(midID, []byte(mid))
				pkt.Header.SetExtension(ridID, []byte(tr.RID()))
			}
			tr.WriteRTP(pkt)
		}
	}
}

func (p *Participant) From(sender, kind string) *Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rc := p.got[sender+"/"+kind]; rc != nil {
		return rc
	}
	return &Received{seen: map[uint32]bool{}}
}

// WaitFor waits until p has received at least n packets of kind from sender.
func (p *Participant) WaitFor(sender, kind string, n int64, within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for p.From(sender, kind).Packets.Load() < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s got %d %s packets from %s within %s, want %d", p.ID, p.From(sender, kind).Packets.Load(), kind, sender, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closing reports whether the participant or its connection is shutting
// down (errors then are expected).
func (p *Participant) closing() bool {
	select {
	case <-p.stop:
		return true
	default:
		// pion closes a connection itself when the far end's DTLS closes
		// (the visit ended): offers still in flight then fail.
		return p.pc.ConnectionState() == webrtc.PeerConnectionStateClosed || p.pc.SignalingState() == webrtc.SignalingStateClosed
	}
}

func (p *Participant) Close() {
	p.stopped.Do(func() {
		close(p.stop)
		p.ws.Close()
		p.pc.Close()
	})
}

// Delays returns the send-to-receive times of the packets received.
func (r *Received) Delays() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...)
}

// Sent returns how many packets of kind the participant has sent.
func (p *Participant) Sent(kind string) int64 {
	if c := p.sent[kind]; c != nil {
		return int64(c.Load())
	}
	return 0
}

// LocalCandidateType is the type of the local candidate of the selected
// ICE pair ("host", "srflx", "relay"), or "".
func (p *Participant) LocalCandidateType() string {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return ""
	}
	return pair.Local.Typ.String()
}

// ShareScreen adds a second video track with the given id, asks the server
// for room for it, and sends kbps on it; stop ends it.
func (p *Participant) ShareScreen(id string, kbps int) (stop func()) {
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, id, p.ID)
	require.NoError(p.t, err)
	sender, err := p.pc.AddTrack(tr)
	require.NoError(p.t, err)
	go func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	p.Write(telehealth.Message{Type: "add_track", Kind: "video"})
	seq := &atomic.Uint32{}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second / 15)
		defer tick.Stop()
		var sn uint16
		for frame := uint32(0); ; frame++ {
			select {
			case <-done:
				return
			case <-p.stop:
				return
			case <-tick.C:
			}
			sn++
			tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: sn, Timestamp: frame * 6000, Marker: true},
				Payload: payload(p.ID, seq.Add(1), min(max(kbps*1000/8/15, 64), 1100))})
		}
	}()
	return func() {
		close(done)
		p.pc.RemoveTrack(sender)
		p.Write(telehealth.Message{Type: "remove_track", Track: id})
	}
}

// RemotePort is the port of the far end of the selected ICE pair (the
// server's media port), or 0.
func (p *Participant) RemotePort() int {
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return 0
	}
	return int(pair.Remote.Port)
}
