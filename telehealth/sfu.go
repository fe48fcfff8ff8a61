package telehealth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"
)

// nackHistory is how many packets of each outgoing stream are kept for
// retransmission.
const nackHistory = 256

// Config configures the media side.
type Config struct {
	// ICEServers are the STUN and TURN servers offered to browsers and
	// used by the server's own peer connections.
	ICEServers []webrtc.ICEServer
	// UDPPortMin and UDPPortMax bound the server's media ports (0: any).
	UDPPortMin, UDPPortMax uint16
	// LoopbackOnly gathers only loopback candidates (tests, dev mode).
	LoopbackOnly bool
	// PublicIPs are announced as host candidates when the server sits
	// behind a 1:1 NAT.
	PublicIPs []string
	// MediaIPs, when set, are the only local addresses gathered.
	MediaIPs []net.IP
	// TURN, when set, gives each participant short-lived TURN credentials.
	TURN *TURNCredentials
	// MeasureArrival counts Delay from each packet's arrival on the
	// socket rather than from the SFU's read of it (benchmarks).
	MeasureArrival bool
	// Chat bounds the visits' text chat (zero fields: the defaults).
	Chat ChatLimits
	// DropTo, when set, drops a share of the packets the SFU sends to
	// each participant it names, as on a lossy network. Tests only: it
	// is not in the service's configuration.
	DropTo *LossInjection
}

// SFU forwards media between the participants of each visit. Each
// participant has one PeerConnection with the server; what one sends, the
// others receive on tracks the server adds to theirs.
type SFU struct {
	api *webrtc.API
	// newAPI builds a WebRTC stack with an extra interceptor (DropTo).
	newAPI func(extra interceptor.Factory) (*webrtc.API, error)
	cfg    Config
	log    zerolog.Logger
	mu     sync.Mutex
	rooms  map[string]*room
	arr    *arrivals // nil unless Config.MeasureArrival

	// Forwarded counts RTP packets written to subscribers.
	Forwarded atomic.Int64
	// ArrivalMisses counts forwarded packets whose arrival was not seen
	// (MeasureArrival; their delay counts from the read).
	ArrivalMisses atomic.Int64
	// Delay is the time from the SFU reading a packet to its write to
	// every subscriber returning.
	Delay LatencyHistogram
}

// LatencyHistogram counts durations in 50 µs buckets up to 200 ms, without
// locks (the forwarding path records every packet).
type LatencyHistogram struct {
	buckets [4001]atomic.Int64 // the last: 200 ms or more
}

const histStep = 50 * time.Microsecond

// Observe counts one duration.
func (h *LatencyHistogram) Observe(d time.Duration) {
	h.buckets[min(int(d/histStep), len(h.buckets)-1)].Add(1)
}

// Snapshot returns the counts so far (to subtract a baseline).
func (h *LatencyHistogram) Snapshot() []int64 {
	out := make([]int64, len(h.buckets))
	for i := range h.buckets {
		out[i] = h.buckets[i].Load()
	}
	return out
}

// Quantile returns the q-quantile (0-1) of the counts since base (a
// Snapshot, or nil), as the upper edge of its bucket.
func (h *LatencyHistogram) Quantile(base []int64, q float64) time.Duration {
	var total int64
	counts := h.Snapshot()
	for i := range counts {
		if base != nil {
			counts[i] -= base[i]
		}
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	want := int64(q * float64(total))
	var seen int64
	for i, c := range counts {
		seen += c
		if seen > want {
			return time.Duration(i+1) * histStep
		}
	}
	return time.Duration(len(counts)) * histStep
}

// NewSFU builds the WebRTC stack: default codecs, the default interceptors
// (NACK generator and responder for retransmission, RTCP reports, TWCC),
// the port range and candidate policy.
func NewSFU(cfg Config, log zerolog.Logger) (*SFU, error) {
	if cfg.Chat.MaxChars <= 0 {
		cfg.Chat.MaxChars = DefaultChatMaxChars
	}
	if cfg.Chat.PerMinute <= 0 {
		cfg.Chat.PerMinute = DefaultChatPerMinute
	}
	if cfg.Chat.MaxMessages <= 0 {
		cfg.Chat.MaxMessages = DefaultChatMaxMessages
	}
	se := webrtc.SettingEngine{}
	if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("telehealth udp port range: %w", err)
		}
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if len(cfg.MediaIPs) > 0 {
		allowed, loopbackOnly := cfg.MediaIPs, cfg.LoopbackOnly
		se.SetIPFilter(func(ip net.IP) bool {
			return slices.ContainsFunc(allowed, ip.Equal) && (!loopbackOnly || ip.IsLoopback())
		})
	}
	if len(cfg.PublicIPs) > 0 {
		rules, err := publicIPRules(cfg.PublicIPs)
		if err == nil {
			err = se.SetICEAddressRewriteRules(rules...)
		}
		if err != nil {
			return nil, fmt.Errorf("telehealth public ips: %w", err)
		}
	}
	var arr *arrivals
	if cfg.MeasureArrival {
		arr = &arrivals{m: map[uint64]int64{}}
		n, err := newStampNet(arr)
		if err != nil {
			return nil, err
		}
		se.SetNet(n)
	}
	newAPI := func(extra interceptor.Factory) (*webrtc.API, error) {
		m := &webrtc.MediaEngine{}
		if err := m.RegisterDefaultCodecs(); err != nil {
			return nil, err
		}
		ir := &interceptor.Registry{}
		// The NACK responder keeps each outgoing video stream's recent packets
		// for retransmission: 256 is over 2 s of 1 Mbit/s video, plenty for a
		// NACK's round trip, and a quarter of the default's memory (which,
		// live in the heap, made the garbage collector's pauses the SFU's
		// worst delays).
		if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir,
			webrtc.WithNackResponderOptions(nack.ResponderSize(nackHistory))); err != nil {
			return nil, err
		}
		if extra != nil {
			// Added last, it is the outermost: what it drops never
			// reaches the retransmission history.
			ir.Add(extra)
		}
		return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
	}
	api, err := newAPI(nil)
	if err != nil {
		return nil, err
	}
	return &SFU{api: api, newAPI: newAPI, cfg: cfg, log: log.With().Str("component", "sfu").Logger(), rooms: map[string]*room{}, arr: arr}, nil
}

// publicIPRules announces each public address in place of the private one
// of the server's host candidates. An entry is "PUBLIC", for every private
// address of its family, or "PUBLIC/PRIVATE" (the form of pion's former
// NAT 1:1 setting). A bad address fails here, at start, rather than at
// each participant's join.
func publicIPRules(ips []string) ([]webrtc.ICEAddressRewriteRule, error) {
	rules := make([]webrtc.ICEAddressRewriteRule, 0, len(ips))
	for _, ip := range ips {
		public, private, _ := strings.Cut(strings.TrimSpace(ip), "/")
		if net.ParseIP(public) == nil || (private != "" && net.ParseIP(private) == nil) {
			return nil, fmt.Errorf("%q is not an IP address, or PUBLIC/PRIVATE", ip)
		}
		rules = append(rules, webrtc.ICEAddressRewriteRule{
			External:        []string{public},
			Local:           private,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
	}
	return rules, nil
}

// ICEServers returns the STUN and TURN servers a participant of visit
// should use, with TURN credentials of their own.
func (s *SFU) ICEServers(visit, subject string) []webrtc.ICEServer {
	out := append([]webrtc.ICEServer(nil), s.cfg.ICEServers...)
	if s.cfg.TURN != nil {
		out = append(out, s.cfg.TURN.For(visit, subject))
	}
	return out
}

// InVisit reports whether subject is connected to visit now (the
// embedded TURN server's check of a credential).
func (s *SFU) InVisit(visit, subject string) bool {
	s.mu.Lock()
	r := s.rooms[visit]
	s.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	p := r.peers[subject]
	r.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed
}

func (s *SFU) room(id string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		r = &room{id: id, sfu: s, peers: map[string]*peer{}, tracks: map[string]*forward{}, waiting: map[string]*waiter{}}
		s.rooms[id] = r
	}
	return r
}

// Participants lists who is connected to a visit now.
func (s *SFU) Participants(visit string) []Participant {
	return s.room(visit).participants()
}

// EndVisit tells every participant the visit is over and hangs up.
func (s *SFU) EndVisit(visit string) {
	s.mu.Lock()
	r := s.rooms[visit]
	delete(s.rooms, visit)
	s.mu.Unlock()
	if r == nil {
		return
	}
	peers := r.snapshot()
	for _, p := range peers {
		p.send(Message{Type: "ended"})
		r.remove(p)
	}
	r.mu.Lock()
	waiting := r.waiting
	r.waiting = map[string]*waiter{}
	r.mu.Unlock()
	for _, w := range waiting {
		w.out(Message{Type: "ended"})
	}
}

// Participant is someone in a visit.
type Participant struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	// CameraOff and Muted are what the participant's page says of its
	// camera and microphone: the others show a placeholder for a camera
	// that is off rather than its last frame.
	CameraOff bool `json:"camera_off,omitempty"`
	Muted     bool `json:"muted,omitempty"`
	// Sharing: the participant's screen is being forwarded now.
	Sharing bool `json:"sharing,omitempty"`
	// Quality is the participant's connection as the SFU sees it:
	// good, fair or poor ("" until first assessed), with the packet
	// loss (percent, the worse direction) and round trip behind it.
	Quality string  `json:"quality,omitempty"`
	LossPct float64 `json:"loss_pct,omitempty"`
	RTTMs   int     `json:"rtt_ms,omitempty"`
}

// ScreenSuffix ends the stream id of a forwarded screen share (the
// subject is the rest): the pages show it large, apart from the camera.
const ScreenSuffix = "~screen"

type room struct {
	id     string
	sfu    *SFU
	mu     sync.Mutex
	peers  map[string]*peer    // by subject
	tracks map[string]*forward // by source subject + "/" + track id
	chat   chatRate
	// waiting is the waiting room, by subject.
	waiting map[string]*waiter
	// shareAllowed: a clinician lets the others share their screens.
	shareAllowed bool
}

// forward is one incoming track and the local track it is copied to; or,
// for a simulcast camera, its layers and each subscriber's own copy.
type forward struct {
	key    string
	source *peer
	remote *webrtc.TrackRemote // the first (or only) stream: kind, codec, id
	local  *webrtc.TrackLocalStaticRTP
	single layer // the stream of a track that is not simulcast
	// PLIs counts the keyframe requests sent to the track's sender.
	PLIs   atomic.Int64
	screen bool

	simulcast bool
	lmu       sync.Mutex
	layers    [len(simulcastRIDs)]*layer
	downs     atomic.Pointer[[]*downTrack] // read on every packet
}

type peer struct {
	Participant
	room *room
	pc   *webrtc.PeerConnection
	out  func(Message) bool
	// host: may admit from the waiting room (and sees who waits) and
	// allow the others to share; guest: shares only when allowed.
	host, guest bool
	// simulcast: the participant sends its camera (the camera slot) as
	// simulcast.
	simulcast bool
	camera    *webrtc.RTPTransceiver
	// screens are the receive slots added for screen shares.
	screens map[*webrtc.RTPReceiver]bool

	mu      sync.Mutex
	senders map[string]*webrtc.RTPSender // forward key -> sender
	downs   map[string]*downTrack        // forward key -> copy (simulcast)
	started map[string]bool              // forward keys negotiated
	// negotiation: the server always offers; one offer at a time.
	offering bool
	pending  bool
	restart  bool
	closed   bool
	slots    int // receive slots: one audio and one video at first

	link linkStats
	done chan struct{} // closed when the participant leaves
}

func (p *peer) send(m Message) { p.out(m) }

// setMedia records the participant's camera and microphone state and tells
// everyone.
func (r *room) setMedia(p *peer, cameraOff, muted bool) {
	r.mu.Lock()
	p.CameraOff, p.Muted = cameraOff, muted
	r.mu.Unlock()
	r.broadcastParticipants()
}

// snapshot is the room's peers now, to send to without holding its lock.
func (r *room) snapshot() []*peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	peers := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	return peers
}

// broadcast sends a message to everyone in the room.
func (r *room) broadcast(m Message) {
	peers := r.snapshot()
	for _, p := range peers {
		p.send(m)
	}
}

func (r *room) participants() []Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Participant, 0, len(r.peers))
	for _, p := range r.peers {
		out = append(out, p.Participant)
	}
	return out
}

// broadcastParticipants tells everyone in the call who is in it (and the
// hosts who is waiting), and everyone waiting whether a clinician is there
// to admit them.
func (r *room) broadcastParticipants() {
	ps := r.participants()
	peers := r.snapshot()
	waiting := r.waitingList()
	r.mu.Lock()
	shareAllowed := r.shareAllowed
	waiters := make([]*waiter, 0, len(r.waiting))
	for _, w := range r.waiting {
		waiters = append(waiters, w)
	}
	r.mu.Unlock()
	host := false
	for _, p := range peers {
		m := Message{Type: "participants", Participants: ps, ShareAllowed: shareAllowed}
		if p.host {
			m.Waiting = waiting
			host = true
		}
		p.send(m)
	}
	for _, w := range waiters {
		w.out(Message{Type: "waiting", HostPresent: host})
	}
}

// joinOpts say how a participant takes part.
type joinOpts struct {
	host, guest bool
	// simulcast: the offers ask for the camera as simulcast.
	simulcast bool
}

// join adds a participant with a fresh PeerConnection; one already there
// under the same subject (a rejoin after a dropped socket) is replaced.
func (r *room) join(who Participant, o joinOpts, out func(Message) bool) (*peer, error) {
	api := r.sfu.api
	if d := r.sfu.cfg.DropTo; d != nil {
		var err error
		if api, err = r.sfu.newAPI(lossFactory{share: d.share(who.Subject)}); err != nil {
			return nil, err
		}
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: r.sfu.cfg.ICEServers})
	if err != nil {
		return nil, err
	}
	p := &peer{Participant: who, room: r, pc: pc, out: out, host: o.host, guest: o.guest, simulcast: o.simulcast, screens: map[*webrtc.RTPReceiver]bool{}, started: map[string]bool{}, senders: map[string]*webrtc.RTPSender{}, downs: map[string]*downTrack{}, slots: 2,
		done: make(chan struct{})}
	// The participant sends one audio and one video track.
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		tr, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		if err != nil {
			pc.Close()
			return nil, err
		}
		p.camera = tr // the video slot, the last
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.send(Message{Type: "candidate", Candidate: &init})
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) { r.published(p, remote, recv) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			r.sfu.log.Info().Str("visit", r.id).Str("role", p.Role).Msg("peer connection failed; waiting for an ICE restart or rejoin")
		}
	})

	r.mu.Lock()
	old := r.peers[who.Subject]
	r.peers[who.Subject] = p
	var existing []*forward
	for _, f := range r.tracks {
		if f.source != old && f.source != p {
			existing = append(existing, f)
		}
	}
	r.mu.Unlock()
	if old != nil {
		r.remove(old)
		r.mu.Lock()
		r.peers[who.Subject] = p // remove deleted the entry only if it was old's
		r.mu.Unlock()
	}
	for _, f := range existing {
		p.subscribe(f)
	}
	p.negotiate()
	r.broadcastParticipants()
	go r.watchQuality(p)
	return p, nil
}

// published starts forwarding a track a participant sends.
func (r *room) published(src *peer, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	stream := src.Subject
	src.mu.Lock()
	screen := src.screens[recv]
	src.mu.Unlock()
	if screen {
		stream += ScreenSuffix
	}
	if rid := remote.RID(); rid != "" && !screen {
		r.publishedLayer(src, remote, rid)
		return
	}
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, remote.ID(), stream)
	if err != nil {
		r.sfu.log.Error().Err(err).Msg("local track")
		return
	}
	f := &forward{key: src.Subject + "/" + remote.ID(), source: src, remote: remote, local: local, screen: screen}
	f.single.remote = remote
	r.mu.Lock()
	if r.peers[src.Subject] != src {
		r.mu.Unlock()
		return // the participant has been replaced meanwhile
	}
	if old := r.tracks[f.key]; old != nil {
		r.mu.Unlock()
		r.unpublish(old)
		r.mu.Lock()
	}
	r.tracks[f.key] = f
	if screen {
		src.Sharing = true
	}
	var subs []*peer
	for _, p := range r.peers {
		if p != src {
			subs = append(subs, p)
		}
	}
	r.mu.Unlock()
	for _, p := range subs {
		p.subscribe(f)
		p.negotiate()
	}
	if screen {
		r.broadcastParticipants()
	}
	go r.copy(f)
}

// publishedLayer starts forwarding one layer of a simulcast camera: the
// first makes the forward, the others join it.
func (r *room) publishedLayer(src *peer, remote *webrtc.TrackRemote, rid string) {
	i := layerOf(rid)
	if i < 0 {
		r.sfu.log.Info().Str("visit", r.id).Str("rid", rid).Msg("simulcast layer of an unknown RTP stream id; not forwarded")
		return
	}
	key := src.Subject + "/" + remote.ID()
	l := &layer{remote: remote}
	r.mu.Lock()
	if r.peers[src.Subject] != src {
		r.mu.Unlock()
		return
	}
	f := r.tracks[key]
	fresh := f == nil || f.source != src || !f.simulcast
	if fresh {
		if old := f; old != nil {
			r.mu.Unlock()
			r.unpublish(old)
			r.mu.Lock()
		}
		f = &forward{key: key, source: src, remote: remote, simulcast: true}
		f.downs.Store(&[]*downTrack{})
		r.tracks[key] = f
	}
	f.lmu.Lock()
	f.layers[i] = l
	f.lmu.Unlock()
	var subs []*peer
	for _, p := range r.peers {
		if p != src {
			subs = append(subs, p)
		}
	}
	r.mu.Unlock()
	if fresh {
		for _, p := range subs {
			p.subscribe(f)
			p.negotiate()
		}
	} else {
		// Subscribers waiting for a layer that was missing may take it.
		for _, d := range *f.downs.Load() {
			d.refresh()
		}
	}
	go r.copyLayer(f, i)
}

// copy forwards RTP from the sender to every subscriber until the track
// ends.
func (r *room) copy(f *forward) {
	buf := make([]byte, 1500)
	for {
		n, _, err := f.remote.Read(buf)
		if err != nil {
			r.unpublish(f)
			return
		}
		start := time.Now().UnixNano()
		if arr := r.sfu.arr; arr != nil && n >= 12 {
			if t, ok := arr.take(binary.BigEndian.Uint32(buf[8:12]), binary.BigEndian.Uint16(buf[2:4])); ok {
				start = t
			} else {
				r.sfu.ArrivalMisses.Add(1)
			}
		}
		if _, err := f.local.Write(buf[:n]); err != nil && !errors.Is(err, errClosedPipe) {
			continue
		}
		r.sfu.Delay.Observe(time.Duration(time.Now().UnixNano() - start))
		r.sfu.Forwarded.Add(1)
	}
}

var errClosedPipe = errors.New("io: read/write on closed pipe")

// unpublish stops a track: subscribers drop it and renegotiate.
func (r *room) unpublish(f *forward) {
	r.mu.Lock()
	stopped := false
	if r.tracks[f.key] == f {
		delete(r.tracks, f.key)
		if f.screen && r.peers[f.source.Subject] == f.source {
			f.source.Sharing = false
			for _, o := range r.tracks {
				f.source.Sharing = f.source.Sharing || (o.screen && o.source == f.source)
			}
			stopped = true
		}
	}
	subs := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		subs = append(subs, p)
	}
	r.mu.Unlock()
	for _, p := range subs {
		p.unsubscribe(f)
	}
	if stopped {
		r.broadcastParticipants()
	}
}

// subscribe adds a forwarded track to this participant's connection and
// passes its keyframe requests back to the sender.
func (p *peer) subscribe(f *forward) {
	p.mu.Lock()
	if p.closed || p.senders[f.key] != nil {
		p.mu.Unlock()
		return
	}
	if f.simulcast {
		p.subscribeLayers(f)
		return
	}
	sender, err := p.pc.AddTrack(f.local)
	if err != nil {
		p.mu.Unlock()
		p.room.sfu.log.Error().Err(err).Msg("add track")
		return
	}
	p.senders[f.key] = sender
	p.mu.Unlock()
	var ssrc uint32
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				switch pkt := pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					f.requestKeyframe(0)
				case *rtcp.ReceiverReport:
					p.reported(f, ssrc, pkt.Reports)
				case *rtcp.SenderReport: // a participant that also sends puts its reports here
					p.reported(f, ssrc, pkt.Reports)
				}
			}
		}
	}()
	f.requestKeyframe(0) // the new subscriber needs a keyframe to start decoding
}

// subscribeLayers gives the participant (p.mu held; released here) a copy
// of a simulcast forward of its own.
func (p *peer) subscribeLayers(f *forward) {
	local, err := webrtc.NewTrackLocalStaticRTP(f.remote.Codec().RTPCodecCapability, f.remote.ID(), f.source.Subject)
	if err == nil {
		var sender *webrtc.RTPSender
		if sender, err = p.pc.AddTrack(local); err == nil {
			d := &downTrack{sub: p, local: local, f: f}
			p.senders[f.key] = sender
			p.downs[f.key] = d
			p.mu.Unlock()
			var ssrc uint32
			if enc := sender.GetParameters().Encodings; len(enc) > 0 {
				ssrc = uint32(enc[0].SSRC)
			}
			f.addDown(d)
			go p.handleDownRTCP(d, sender, ssrc)
			d.keyframe()
			return
		}
	}
	p.mu.Unlock()
	p.room.sfu.log.Error().Err(err).Msg("add simulcast track")
}

// keyframeFor asks for a keyframe of what p receives of f.
func (f *forward) keyframeFor(p *peer) {
	if !f.simulcast {
		f.requestKeyframe(0)
		return
	}
	p.mu.Lock()
	d := p.downs[f.key]
	p.mu.Unlock()
	if d != nil {
		d.keyframe()
	}
}

// pliInterval is the least time between two keyframe requests to a
// track's sender: a keyframe is several times a frame's size, so a
// receiver asking again and again would cost every receiver bandwidth.
const pliInterval = 500 * time.Millisecond

// requestKeyframe sends a PLI to the track's sender, at most every
// pliInterval; a request inside the interval is not lost but sent at its
// end (one for all that came meanwhile), so a receiver that needs a
// keyframe gets one even when another has just asked.
// With simulcast, i names the layer; each layer has its own interval.
func (f *forward) requestKeyframe(i int) {
	if f.remote.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	l := &f.single
	if f.simulcast {
		if l = f.layer(i); l == nil {
			return
		}
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if wait := last + int64(pliInterval) - now; wait > 0 {
		if l.pliPending.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(wait), func() {
				l.pliPending.Store(false)
				f.requestKeyframe(i)
			})
		}
		return
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	f.PLIs.Add(1)
	f.source.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(l.remote.SSRC())}})
}

func (p *peer) unsubscribe(f *forward) {
	p.mu.Lock()
	sender := p.senders[f.key]
	if sender == nil || p.closed {
		p.mu.Unlock()
		return
	}
	delete(p.senders, f.key)
	delete(p.started, f.key)
	d := p.downs[f.key]
	delete(p.downs, f.key)
	p.mu.Unlock()
	if d != nil {
		f.dropDown(d)
	}
	if p.pc.RemoveTrack(sender) == nil {
		p.negotiate()
	}
}

// negotiate sends an offer, or remembers to once the outstanding one is
// answered.
func (p *peer) negotiate() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.offering {
		p.pending = true
		p.mu.Unlock()
		return
	}
	p.offering = true
	restart := p.restart
	p.restart = false
	p.mu.Unlock()
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.mu.Lock()
		p.offering = false
		p.mu.Unlock()
		p.room.sfu.log.Error().Err(err).Str("visit", p.room.id).Msg("offer")
		return
	}
	sdp := offer.SDP
	if p.simulcast {
		if sdp, err = mungeSimulcast(sdp, p.camera.Mid()); err != nil {
			p.room.sfu.log.Error().Err(err).Str("visit", p.room.id).Msg("offer")
		}
	}
	p.send(Message{Type: "offer", SDP: sdp})
}

// answered applies the participant's answer and sends a pending offer.
func (p *peer) answered(sdp string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return err
	}
	p.mu.Lock()
	p.offering = false
	again := p.pending
	p.pending = false
	keys := make([]string, 0, len(p.senders))
	for k := range p.senders {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	// A track subscribed to in this negotiation forwards only from now:
	// the keyframe asked for when it was added may have gone before.
	r := p.room
	r.mu.Lock()
	var subscribed []*forward
	for _, k := range keys {
		if f := r.tracks[k]; f != nil {
			subscribed = append(subscribed, f)
		}
	}
	r.mu.Unlock()
	for _, f := range subscribed {
		if p.unstarted(f.key) {
			f.keyframeFor(p)
		}
	}
	if again {
		p.negotiate()
	}
	return nil
}

// unstarted reports (once) whether the forward key's track had not been
// negotiated with this participant yet.
func (p *peer) unstarted(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started[key] {
		return false
	}
	p.started[key] = true
	return true
}

// addSlot gives the participant room for one more track of kind (a
// screen share, a second camera) and offers it.
func (p *peer) addSlot(kind string, screen bool) error {
	k := webrtc.NewRTPCodecType(kind)
	if k == 0 {
		return errors.New("kind: audio or video")
	}
	if p.guest {
		// Whatever a guest adds is a share the clinician allows.
		screen = true
		p.room.mu.Lock()
		allowed := p.room.shareAllowed
		p.room.mu.Unlock()
		if !allowed {
			return ErrShareNotAllowed
		}
	}
	p.mu.Lock()
	if p.slots >= maxSlots {
		p.mu.Unlock()
		return errors.New("too many tracks")
	}
	p.slots++
	p.mu.Unlock()
	tr, err := p.pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		return err
	}
	if screen {
		p.mu.Lock()
		p.screens[tr.Receiver()] = true
		p.mu.Unlock()
	}
	p.negotiate()
	return nil
}

// ErrShareNotAllowed refuses a screen share a clinician has not allowed.
var ErrShareNotAllowed = errors.New("screen share: the clinician has not allowed it")

// allowShare lets (or stops letting) the participants who are not
// clinicians share their screens; stopping ends the shares under way.
func (r *room) allowShare(allow bool) {
	r.mu.Lock()
	r.shareAllowed = allow
	var stop []*forward
	if !allow {
		for _, f := range r.tracks {
			if f.source.guest && f.screen {
				stop = append(stop, f)
			}
		}
	}
	r.mu.Unlock()
	for _, f := range stop {
		r.unpublish(f)
	}
	r.broadcastParticipants()
}

// maxSlots bounds the tracks one participant may send.
const maxSlots = 6

// dropTrack stops forwarding one of the participant's tracks (they
// stopped sharing their screen); the others renegotiate.
func (p *peer) dropTrack(id string, screens bool) {
	r := p.room
	var drop []*forward
	r.mu.Lock()
	if f := r.tracks[p.Subject+"/"+id]; f != nil && f.source == p {
		drop = append(drop, f)
	}
	for _, f := range r.tracks {
		if screens && f.screen && f.source == p {
			drop = append(drop, f)
		}
	}
	r.mu.Unlock()
	for _, f := range drop {
		r.unpublish(f)
	}
}

// iceRestart renegotiates with fresh ICE credentials (the participant's
// network changed).
func (p *peer) iceRestart() {
	p.mu.Lock()
	p.restart = true
	p.mu.Unlock()
	p.negotiate()
}

// remove hangs up a participant and stops what they sent.
func (r *room) remove(p *peer) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	downs := p.downs
	p.downs = map[string]*downTrack{}
	p.mu.Unlock()
	for _, d := range downs {
		d.f.dropDown(d)
	}
	r.mu.Lock()
	if r.peers[p.Subject] == p {
		delete(r.peers, p.Subject)
	}
	var gone []*forward
	for _, f := range r.tracks {
		if f.source == p {
			gone = append(gone, f)
		}
	}
	r.mu.Unlock()
	p.pc.Close()
	for _, f := range gone {
		r.unpublish(f)
	}
	r.broadcastParticipants()
}
