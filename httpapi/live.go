package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/live"
)

// The live WebSocket (/ws/v1/live). The token comes in the Authorization
// header or, for browsers, which cannot set it on a WebSocket, in the
// access_token query parameter, or as the session cookie. The client
// subscribes to patients; the gate decides and audits each subscription.
// The socket ends with the credential that opened it (auth.Watcher), and
// each subscription with the access that allowed it: the watcher decides
// it again when care teams or break-glass grants change, and on its end
// the server says "unsubscribed" (audited) and sends nothing more of that
// patient.
//
//	client: {"type":"subscribe","patients":["p1","p2"]}
//	server: {"type":"subscribed","patient":"p1"}
//	        {"type":"error","patient":"p2","error":"forbidden"}
//	        {"type":"unsubscribed","patient":"p1","error":"access ended: no longer in a care team of the patient"}
//	        {"type":"reading","patient":"p1","reading":{"device":"...","patient":"p1","type":"heart_rate","time":"...","value":72,"unit":"/min"}}
//	        {"type":"alert","patient":"p1","alert":{"id":3,"rule":"spo2_low","state":"firing",...},"urgency":350}
//	        {"type":"news2","patient":"p1","news2":{"total":5,"band":"medium"},"urgency":5}
//	        {"type":"escalation","patient":"p1","escalation":{"alert":{...},"contacts":["charge-nurse"]},"urgency":450}
//	        {"type":"problem","patient":"p1","problem":{"id":3,"severity":"critical","state":"firing","lead":{...},"alerts":[...]},"urgency":450}
const (
	wsWriteWait  = 10 * time.Second
	wsPongWait   = 60 * time.Second
	wsPingPeriod = 25 * time.Second
	wsReadLimit  = 16 << 10
	wsBuffer     = 1024
	// One socket follows at most maxLiveSubscriptions patients, and is
	// closed after maxLiveRefusals refused subscriptions: each refusal is
	// an audit event, and a socket is not a tool for filling the trail.
	maxLiveSubscriptions = 2000
	maxLiveRefusals      = 100
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	// A token in a header or the query cannot be used by a page that does
	// not have it; a session cookie can, so credential refuses a cookie
	// upgrade from another origin before the upgrader runs.
	CheckOrigin: func(*http.Request) bool { return true },
}

type liveAPI struct {
	access
	hub     *live.Hub
	watcher *auth.Watcher
}

type liveIn struct {
	Type     string   `json:"type"`
	Patients []string `json:"patients"`
}

func (a liveAPI) socket(w http.ResponseWriter, r *http.Request) {
	cred, err := a.credential(r)
	if errors.Is(err, auth.ErrNoToken) {
		var c auth.Claims
		c, err = a.signer.Verify(r.URL.Query().Get("access_token"))
		cred = auth.Credential{Claims: c, Via: auth.ViaToken}
	}
	if errors.Is(err, errCrossSite) {
		fail(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	if errors.Is(err, errSetPassword) {
		passwordFirst(w)
		return
	}
	if err != nil {
		fail(w, http.StatusUnauthorized, "a valid token is required")
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	ended := a.watcher.Watch(wctx, cred, false)
	sub := a.hub.Subscribe(wsBuffer)
	defer sub.Close()
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })

	// The read loop only parses and queues; the loop below is the one
	// goroutine that writes to the connection.
	replies := make(chan LiveMessage, 64)
	readDone := make(chan struct{})
	held := newHeld()
	defer held.releaseAll()
	closeReq := auth.Request{Action: "WS end /ws/v1/live (access ended)", Resource: "/ws/v1/live", Source: clientAddr(r)}
	abused := make(chan string, 1)
	go func() {
		defer close(readDone)
		refused := 0
		refuse := func(m LiveMessage) bool {
			replies <- m
			if refused++; refused < maxLiveRefusals {
				return true
			}
			abused <- fmt.Sprintf("%d subscriptions refused on this socket", refused)
			return false
		}
		for {
			var in liveIn
			if err := conn.ReadJSON(&in); err != nil {
				return
			}
			if in.Type != "subscribe" {
				replies <- LiveMessage{Type: "error", Error: "unknown message type"}
				continue
			}
			for _, p := range in.Patients {
				if held.allowed(p) { // decided and audited when it began
					replies <- LiveMessage{Type: "subscribed", Patient: p}
					continue
				}
				if held.count() >= maxLiveSubscriptions {
					replies <- LiveMessage{Type: "error", Patient: p,
						Error: fmt.Sprintf("too many patients on one socket (at most %d)", maxLiveSubscriptions)}
					continue
				}
				d, err := a.gate.Patient(r.Context(), cred.Claims, p, auth.Request{Action: "WS subscribe /ws/v1/live",
					Resource: "/ws/v1/live", Source: clientAddr(r)})
				switch {
				case errors.Is(err, auth.ErrInvalidID): // nothing was written
					if !refuse(LiveMessage{Type: "error", Error: "invalid patient id"}) {
						return
					}
				case err != nil:
					replies <- LiveMessage{Type: "error", Patient: p, Error: "audit log unavailable"}
				case !d.Allowed:
					if !refuse(LiveMessage{Type: "error", Patient: p, Error: "forbidden"}) {
						return
					}
				default:
					if !held.add(p) {
						replies <- LiveMessage{Type: "subscribed", Patient: p}
						continue
					}
					sub.Add(p)
					replies <- LiveMessage{Type: "subscribed", Patient: p}
					claims := cred.Claims
					held.hold(p, a.watcher.Hold(claims, p, closeReq,
						func() auth.Decision { return a.gate.Policy.Patient(claims, p) },
						func(reason string) {
							sub.Remove(p)
							held.lost(p, reason)
						}))
				}
			}
		}
	}()

	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	write := func(v any) bool {
		conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
		return conn.WriteJSON(v) == nil
	}
	for {
		var out LiveMessage
		select {
		case <-readDone:
			select {
			case reason := <-abused:
				for len(replies) > 0 && write(<-replies) { // the refusals before it
				}
				conn.SetWriteDeadline(time.Now().Add(time.Second))
				conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason))
			default:
			}
			conn.Close()
			return
		case reason := <-ended:
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason))
			conn.Close()
			return
		case <-ping.C:
			conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if conn.WriteMessage(websocket.PingMessage, nil) != nil {
				conn.Close()
				return
			}
			continue
		case out = <-replies:
		case <-held.changed:
			for _, m := range held.takeLost() {
				if !write(m) {
					conn.Close()
					return
				}
			}
			continue
		case ev := <-sub.Events:
			if !held.allowed(ev.Patient) {
				continue // queued before its access ended
			}
			out = liveEvent(ev)
		case rd := <-sub.C:
			if !held.allowed(rd.Patient) {
				continue
			}
			rj := ReadingOf(rd)
			out = LiveMessage{Type: "reading", Patient: rd.Patient, Reading: &rj}
		}
		if !write(out) {
			conn.Close()
			return
		}
	}
}

// liveEvent renders an alert, NEWS2 or escalation event.
func liveEvent(ev live.Event) LiveMessage {
	out := LiveMessage{Type: ev.Kind, Patient: ev.Patient, Urgency: ev.Urgency}
	switch ev.Kind {
	case "news2":
		out.NEWS2 = ev.Data
	case "escalation":
		out.Escalation = ev.Data
	case "problem":
		out.Problem = ev.Data
	default:
		out.Alert = ev.Data
	}
	return out
}

// held is a live socket's subscriptions and the watcher's holds on them.
// The watcher ends a hold from any goroutine; the socket's writer sends
// the notices and drops what was queued for a patient no longer allowed.
type held struct {
	mu      sync.Mutex
	holds   map[string]*auth.Hold // nil value: being set up
	notices []LiveMessage
	changed chan struct{}
	closed  bool
}

func newHeld() *held { return &held{holds: map[string]*auth.Hold{}, changed: make(chan struct{}, 1)} }

// add marks p subscribed; false when it already is.
func (h *held) add(p string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.holds[p]; ok || h.closed {
		return false
	}
	h.holds[p] = nil
	return true
}

// hold records the watcher's hold on p (which may have ended already).
func (h *held) hold(p string, x *auth.Hold) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		x.Release() // the socket has ended
		return
	}
	if _, ok := h.holds[p]; ok {
		h.holds[p] = x
	}
}

func (h *held) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.holds)
}

func (h *held) allowed(p string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.holds[p]
	return ok
}

// lost ends p's subscription and queues the notice.
func (h *held) lost(p, reason string) {
	h.mu.Lock()
	delete(h.holds, p)
	h.notices = append(h.notices, LiveMessage{Type: "unsubscribed", Patient: p, Error: reason})
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *held) takeLost() []LiveMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.notices
	h.notices = nil
	return out
}

func (h *held) releaseAll() {
	h.mu.Lock()
	hs := h.holds
	h.holds = map[string]*auth.Hold{}
	h.closed = true
	h.mu.Unlock()
	for _, x := range hs {
		if x != nil {
			x.Release()
		}
	}
}
