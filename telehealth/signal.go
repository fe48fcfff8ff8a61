package telehealth

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// Signalling on /ws/v1/visits/{id}, JSON messages. The server offers and
// the participant answers, on joining and whenever tracks come or go:
//
//	client: {"type":"join"}   ("simulcast":true: the page sends its camera as simulcast, RTP stream ids "l" and "h",
//	        which the server's offers then name in the camera's m-section)
//	server: {"type":"welcome","ice_servers":[...]}
//	server: {"type":"offer","sdp":"..."}             client: {"type":"answer","sdp":"..."}
//	both:   {"type":"candidate","candidate":{"candidate":"...","sdpMid":"0","sdpMLineIndex":0}}
//	server: {"type":"participants","participants":[{"subject":"...","role":"patient","quality":"good","loss_pct":0.4,"rtt_ms":35}]}   quality: good, fair or poor, as the SFU judges each connection
//	client: {"type":"restart"}   the network changed: the server offers with an ICE restart
//	client: {"type":"add_track","kind":"video","screen":true}   room for one more track (a screen share): the server offers;
//	        a screen share is forwarded as stream "<subject>~screen"; a guest (not a clinician) adds one only while allowed
//	client (a clinician): {"type":"allow_share","allow":true}   everyone gets "share_allowed" in "participants"
//	client: {"type":"remove_track","track":"<track id>"}   stop forwarding it ("screen":true: the screen shares); the others renegotiate
//	client: {"type":"media","camera_off":true,"muted":false}   the others get it in "participants"
//	client: {"type":"chat","text":"..."}   server, to everyone: {"type":"chat","chat":{"subject":...,"role":...,"text":...,"at":...}}
//	server: {"type":"waiting","host_present":true}   in the waiting room (no media) until admitted, then "welcome"
//	server, to clinicians: "participants" with "waiting":[{"subject":...,"role":...}]
//	client (a clinician): {"type":"admit","subject":"..."}   lets them in
//	client: {"type":"leave"}     client (a clinician): {"type":"end","note":"..."}
//	server: {"type":"ended"}     {"type":"error","error":"..."}
//
// A dropped socket hangs up that participant's media; joining again (a new
// socket, the same person) starts a new connection in the same visit.

// Message is one signalling message.
type Message struct {
	Type         string                   `json:"type"`
	SDP          string                   `json:"sdp,omitempty"`
	Candidate    *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Participants []Participant            `json:"participants,omitempty"`
	ICEServers   []webrtc.ICEServer       `json:"ice_servers,omitempty"`
	Note         string                   `json:"note,omitempty"`
	Kind         string                   `json:"kind,omitempty"`
	Track        string                   `json:"track,omitempty"`
	Error        string                   `json:"error,omitempty"`
	Text         string                   `json:"text,omitempty"`
	Chat         *ChatMessage             `json:"chat,omitempty"`
	CameraOff    bool                     `json:"camera_off,omitempty"`
	Muted        bool                     `json:"muted,omitempty"`
	// Waiting lists the waiting room (in "participants", to those who
	// may admit); Subject names whom to admit.
	Waiting []Participant `json:"waiting,omitempty"`
	Subject string        `json:"subject,omitempty"`
	// HostPresent tells someone waiting that a clinician is in the call.
	HostPresent bool `json:"host_present,omitempty"`
	// Screen marks an add_track as a screen share (a remove_track: all);
	// Allow is a clinician's allow_share; ShareAllowed tells everyone.
	Screen       bool `json:"screen,omitempty"`
	Allow        bool `json:"allow,omitempty"`
	ShareAllowed bool `json:"share_allowed,omitempty"`
	// Simulcast, in a join: the participant sends its camera as
	// simulcast.
	Simulcast bool `json:"simulcast,omitempty"`
}

// ErrWaiting answers what a participant in the waiting room may not do yet.
var ErrWaiting = errors.New("waiting room: a clinician will admit you to the call")

// Hooks connect a signalling session to the visit records.
type Hooks struct {
	// Joined records the participant entering the visit.
	Joined func() (presence int64, err error)
	// Left records them leaving.
	Left func(presence int64)
	// End ends the visit; nil when this participant may not.
	End func(note string) error
	// Chat keeps (and audits) a chat message the SFU has checked; nil:
	// this visit has no chat.
	Chat func(text string) (ChatMessage, error)
	// Admitted says whether the participant enters the call on joining;
	// false puts them in the waiting room (nil: no waiting room).
	Admitted func() bool
	// Arrived records that the participant is in the waiting room.
	Arrived func()
	// Admit records (and audits) that this participant lets subject in
	// from the waiting room; nil when they may not.
	Admit func(subject string) error
	// Guest: the participant shares a screen only while a clinician
	// allows it.
	Guest bool
}

const (
	sigWriteWait  = 10 * time.Second
	sigPongWait   = 45 * time.Second
	sigPingPeriod = 20 * time.Second
	sigReadLimit  = 64 << 10
)

// Serve runs one participant's signalling until the socket closes. The
// caller has authenticated and authorised the participant and upgraded the
// connection.
func (s *SFU) Serve(conn *websocket.Conn, visit string, who Participant, hooks Hooks) {
	out := make(chan Message, 256)
	done := make(chan struct{})
	defer close(done)
	send := func(m Message) bool {
		select {
		case out <- m:
			return true
		case <-done:
			return false
		default:
			conn.Close() // a participant too slow to read its signalling
			return false
		}
	}
	// The one writer of this connection.
	go func() {
		ping := time.NewTicker(sigPingPeriod)
		defer ping.Stop()
		for {
			select {
			case <-done:
				return
			case m := <-out:
				conn.SetWriteDeadline(time.Now().Add(sigWriteWait))
				if err := conn.WriteJSON(m); err != nil {
					conn.Close()
					return
				}
				if m.Type == "ended" {
					conn.SetWriteDeadline(time.Now().Add(time.Second))
					conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "visit ended"))
					conn.Close()
					return
				}
			case <-ping.C:
				conn.SetWriteDeadline(time.Now().Add(sigWriteWait))
				if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
					conn.Close()
					return
				}
			}
		}
	}()
	conn.SetReadLimit(sigReadLimit)
	conn.SetReadDeadline(time.Now().Add(sigPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(sigPongWait)) })

	r := s.room(visit)
	var p *peer
	var presence int64
	// While the participant waits to be admitted: the channel closed
	// when a clinician admits them, and how to leave the waiting room.
	var admitted <-chan struct{}
	var unwait func()
	media := Message{}
	simulcast := false
	defer func() {
		if unwait != nil {
			unwait()
		}
		if p != nil {
			r.remove(p)
			if hooks.Left != nil {
				hooks.Left(presence)
			}
		}
		conn.Close()
	}()
	// enter puts the participant in the call: a presence, the welcome,
	// the server's PeerConnection and its offer.
	enter := func() bool {
		var err error
		if hooks.Joined != nil {
			if presence, err = hooks.Joined(); err != nil {
				send(Message{Type: "error", Error: err.Error()})
				return false
			}
		}
		send(Message{Type: "welcome", ICEServers: s.ICEServers(visit, who.Subject)})
		if p, err = r.join(who, joinOpts{host: hooks.Admit != nil, guest: hooks.Guest, simulcast: simulcast}, send); err != nil {
			s.log.Error().Err(err).Str("visit", visit).Msg("join")
			send(Message{Type: "error", Error: "could not start media"})
			return false
		}
		if media.CameraOff || media.Muted {
			r.setMedia(p, media.CameraOff, media.Muted)
		}
		return true
	}
	// The read loop hands messages over, so that an admission can reach
	// this participant while their socket is quiet.
	in := make(chan []byte)
	go func() {
		defer close(in)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			conn.SetReadDeadline(time.Now().Add(sigPongWait))
			select {
			case in <- data:
			case <-done:
				return
			}
		}
	}()
	for {
		var data []byte
		select {
		case <-admitted:
			admitted, unwait = nil, nil
			if !enter() {
				return
			}
			continue
		case d, ok := <-in:
			if !ok {
				return
			}
			data = d
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			send(Message{Type: "error", Error: "not a JSON message"})
			continue
		}
		if p == nil && m.Type != "join" {
			switch {
			case m.Type == "leave":
				return
			case admitted != nil && m.Type == "media":
				media = m // applied on entering
			case admitted != nil:
				send(Message{Type: "error", Error: ErrWaiting.Error()})
			default:
				send(Message{Type: "error", Error: "join first"})
			}
			continue
		}
		switch m.Type {
		case "join":
			if p != nil || admitted != nil {
				continue
			}
			simulcast = m.Simulcast
			if hooks.Admitted != nil && !hooks.Admitted() {
				if hooks.Arrived != nil {
					hooks.Arrived()
				}
				var w *waiter
				w, unwait = r.wait(who, send)
				admitted = w.admit
				if hooks.Admitted() { // admitted meanwhile
					r.admitWaiting(who.Subject)
				}
				continue
			}
			if !enter() {
				return
			}
		case "admit":
			if hooks.Admit == nil {
				send(Message{Type: "error", Error: "only a clinician admits from the waiting room"})
				continue
			}
			if !r.isWaiting(m.Subject) {
				send(Message{Type: "error", Error: "no one of that id is waiting"})
				continue
			}
			if err := hooks.Admit(m.Subject); err != nil {
				send(Message{Type: "error", Error: err.Error()})
				continue
			}
			r.admitWaiting(m.Subject)
		case "answer":
			if err := p.answered(m.SDP); err != nil {
				send(Message{Type: "error", Error: "bad answer: " + err.Error()})
			}
		case "candidate":
			if m.Candidate != nil {
				if err := p.pc.AddICECandidate(*m.Candidate); err != nil {
					send(Message{Type: "error", Error: "bad candidate"})
				}
			}
		case "restart":
			p.iceRestart()
		case "add_track":
			if err := p.addSlot(m.Kind, m.Screen); err != nil {
				send(Message{Type: "error", Error: err.Error()})
			}
		case "remove_track":
			p.dropTrack(m.Track, m.Screen)
		case "media":
			r.setMedia(p, m.CameraOff, m.Muted)
		case "allow_share":
			if !p.host {
				send(Message{Type: "error", Error: "only a clinician allows screen sharing"})
				continue
			}
			r.allowShare(m.Allow)
		case "chat":
			s.chat(r, who, hooks, m.Text, send)
		case "leave":
			return
		case "end":
			if hooks.End == nil {
				send(Message{Type: "error", Error: "only a clinician ends the visit"})
				continue
			}
			if err := hooks.End(m.Note); err != nil {
				send(Message{Type: "error", Error: err.Error()})
				continue
			}
			s.EndVisit(visit)
			return
		default:
			send(Message{Type: "error", Error: "unknown message type"})
		}
	}
}

// chat checks a participant's message against the limits, has it kept, and
// sends it to everyone in the visit (the sender too, as the confirmation).
func (s *SFU) chat(r *room, who Participant, hooks Hooks, text string, send func(Message) bool) {
	if hooks.Chat == nil {
		send(Message{Type: "error", Error: ErrChatDisabled.Error()})
		return
	}
	text, err := CleanChat(text, s.cfg.Chat.MaxChars)
	if err != nil {
		send(Message{Type: "error", Error: err.Error()})
		return
	}
	if !r.chat.allow(who.Subject, s.cfg.Chat.PerMinute, time.Now()) {
		send(Message{Type: "error", Error: ErrChatRate.Error()})
		return
	}
	m, err := hooks.Chat(text)
	if err != nil {
		send(Message{Type: "error", Error: err.Error()})
		return
	}
	r.broadcast(Message{Type: "chat", Chat: &m})
}
