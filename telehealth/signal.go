package telehealth

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// Signalling on /ws/v1/visits/{id}, JSON messages. The server offers and
// the participant answers, on joining and whenever tracks come or go:
//
//	client: {"type":"join"}
//	server: {"type":"welcome","ice_servers":[...]}
//	server: {"type":"offer","sdp":"..."}             client: {"type":"answer","sdp":"..."}
//	both:   {"type":"candidate","candidate":{"candidate":"...","sdpMid":"0","sdpMLineIndex":0}}
//	server: {"type":"participants","participants":[{"subject":"...","role":"patient"}]}
//	client: {"type":"restart"}   the network changed: the server offers with an ICE restart
//	client: {"type":"add_track","kind":"video"}   room for one more track (a screen share): the server offers
//	client: {"type":"remove_track","track":"<track id>"}   stop forwarding it; the others renegotiate
//	client: {"type":"media","camera_off":true,"muted":false}   the others get it in "participants"
//	client: {"type":"chat","text":"..."}   server, to everyone: {"type":"chat","chat":{"subject":...,"role":...,"text":...,"at":...}}
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
}

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
	defer func() {
		if p != nil {
			r.remove(p)
			if hooks.Left != nil {
				hooks.Left(presence)
			}
		}
		conn.Close()
	}()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		conn.SetReadDeadline(time.Now().Add(sigPongWait))
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			send(Message{Type: "error", Error: "not a JSON message"})
			continue
		}
		if p == nil && m.Type != "join" {
			send(Message{Type: "error", Error: "join first"})
			continue
		}
		switch m.Type {
		case "join":
			if p != nil {
				continue
			}
			if hooks.Joined != nil {
				if presence, err = hooks.Joined(); err != nil {
					send(Message{Type: "error", Error: err.Error()})
					return
				}
			}
			send(Message{Type: "welcome", ICEServers: s.ICEServers(visit, who.Subject)})
			if p, err = r.join(who, send); err != nil {
				s.log.Error().Err(err).Str("visit", visit).Msg("join")
				send(Message{Type: "error", Error: "could not start media"})
				return
			}
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
			if err := p.addSlot(m.Kind); err != nil {
				send(Message{Type: "error", Error: err.Error()})
			}
		case "remove_track":
			p.dropTrack(m.Track)
		case "media":
			r.setMedia(p, m.CameraOff, m.Muted)
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
