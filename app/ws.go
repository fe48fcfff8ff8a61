package app

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/vitals"
)

// The live WebSocket (/ws/v1/live). The token comes in the Authorization
// header or, for browsers, which cannot set it on a WebSocket, in the
// access_token query parameter. The client subscribes to patients; each
// subscription goes through the access policy and is audited. A revoked or
// expired token closes the connection at once.
//
//	client: {"type":"subscribe","patients":["p1","p2"]}
//	server: {"type":"subscribed","patient":"p1"}
//	        {"type":"error","patient":"p2","error":"forbidden"}
//	        {"type":"reading","patient":"p1","device":"...","vital":"heart_rate","time":"...","value":72,"unit":"/min"}
//	        {"type":"alert","patient":"p1","alert":{"id":3,"rule":"spo2_low","state":"firing",...}}
//	        {"type":"news2","patient":"p1","news2":{"total":5,"band":"medium"}}
//	        {"type":"escalation","patient":"p1","escalation":{"alert":{...},"contacts":["charge-nurse"]}}
const (
	wsWriteWait  = 10 * time.Second
	wsPongWait   = 60 * time.Second
	wsPingPeriod = 25 * time.Second
	wsReadLimit  = 16 << 10
	wsBuffer     = 1024
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	// A token in a header or the query cannot be used by a page that does
	// not have it; a session cookie can, so authenticate refuses a cookie
	// upgrade from another origin before the upgrader runs.
	CheckOrigin: func(*http.Request) bool { return true },
}

// wsConns tracks open connections by token id, for revocation.
type wsConns struct {
	mu    sync.Mutex
	byJTI map[string]map[chan struct{}]struct{}
}

func (w *wsConns) add(jti string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byJTI == nil {
		w.byJTI = map[string]map[chan struct{}]struct{}{}
	}
	kill := make(chan struct{})
	if w.byJTI[jti] == nil {
		w.byJTI[jti] = map[chan struct{}]struct{}{}
	}
	w.byJTI[jti][kill] = struct{}{}
	return kill
}

func (w *wsConns) remove(jti string, kill chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byJTI[jti], kill)
	if len(w.byJTI[jti]) == 0 {
		delete(w.byJTI, jti)
	}
}

// revoked closes every connection of a token.
func (w *wsConns) revoked(jti string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for kill := range w.byJTI[jti] {
		close(kill)
	}
	delete(w.byJTI, jti)
}

type wsIn struct {
	Type     string   `json:"type"`
	Patients []string `json:"patients"`
}

type wsOut struct {
	Type       string      `json:"type"`
	Patient    string      `json:"patient,omitempty"`
	Error      string      `json:"error,omitempty"`
	Device     string      `json:"device,omitempty"`
	Vital      vitals.Type `json:"vital,omitempty"`
	Time       *time.Time  `json:"time,omitempty"`
	Value      *float64    `json:"value,omitempty"`
	Diastolic  *float64    `json:"diastolic,omitempty"`
	Unit       string      `json:"unit,omitempty"`
	Alert      any         `json:"alert,omitempty"`
	NEWS2      any         `json:"news2,omitempty"`
	Escalation any         `json:"escalation,omitempty"`
}

func (a *App) liveSocket(w http.ResponseWriter, r *http.Request) {
	c, cookie, err := a.authenticate(r)
	if errors.Is(err, auth.ErrNoToken) {
		c, err = a.Signer.Verify(r.URL.Query().Get("access_token"))
	}
	if errors.Is(err, errCrossSite) {
		fail(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	if err != nil {
		fail(w, http.StatusUnauthorized, "a valid token is required")
		return
	}
	var sessionCheck <-chan time.Time
	if cookie {
		// A session's end moves with its activity: look again every few
		// seconds rather than at a fixed expiry.
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		sessionCheck = t.C
		c.Expires = time.Now().Add(a.cfg.Auth.SessionMaxAge).Unix()
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	kill := a.ws.add(c.ID)
	defer a.ws.remove(c.ID, kill)
	sub := a.Hub.Subscribe(wsBuffer)
	defer sub.Close()
	conn.SetReadLimit(wsReadLimit)
	conn.SetReadDeadline(time.Now().Add(wsPongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })

	// The read loop only parses and queues; the writer below is the one
	// goroutine that writes to the connection.
	replies := make(chan wsOut, 64)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			var in wsIn
			if err := conn.ReadJSON(&in); err != nil {
				return
			}
			if in.Type != "subscribe" {
				replies <- wsOut{Type: "error", Error: "unknown message type"}
				continue
			}
			for _, p := range in.Patients {
				d, ev := a.decide(r, c, p, "WS subscribe /ws/v1/live", "/ws/v1/live")
				if _, err := a.Audit.Append(r.Context(), ev); err != nil {
					replies <- wsOut{Type: "error", Patient: p, Error: "audit log unavailable"}
					continue
				}
				if !d.Allowed {
					replies <- wsOut{Type: "error", Patient: p, Error: "forbidden"}
					continue
				}
				sub.Add(p)
				replies <- wsOut{Type: "subscribed", Patient: p}
			}
		}
	}()

	expiry := time.NewTimer(time.Until(time.Unix(c.Expires, 0)))
	defer expiry.Stop()
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	closeWith := func(code int, text string) {
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, text))
		conn.Close()
	}
	write := func(v any) bool {
		conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
		return conn.WriteJSON(v) == nil
	}
	for {
		select {
		case <-readDone:
			conn.Close()
			return
		case <-kill:
			closeWith(websocket.ClosePolicyViolation, "token revoked")
			return
		case <-expiry.C:
			closeWith(websocket.ClosePolicyViolation, "token expired")
			return
		case <-sessionCheck:
			ck, _ := r.Cookie(sessionCookie)
			if _, err := a.Sessions.Check(r.Context(), ck.Value, false); err != nil {
				closeWith(websocket.ClosePolicyViolation, "signed out")
				return
			}
		case <-ping.C:
			conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if conn.WriteMessage(websocket.PingMessage, nil) != nil {
				conn.Close()
				return
			}
		case out := <-replies:
			if !write(out) {
				conn.Close()
				return
			}
		case ev := <-sub.Events:
			out := wsOut{Type: ev.Kind, Patient: ev.Patient, Alert: ev.Data}
			switch ev.Kind {
			case "news2":
				out.Alert, out.NEWS2 = nil, ev.Data
			case "escalation":
				out.Alert, out.Escalation = nil, ev.Data
			}
			if !write(out) {
				conn.Close()
				return
			}
		case rd := <-sub.C:
			t, v := rd.Time, rd.Value
			out := wsOut{Type: "reading", Patient: rd.Patient, Device: rd.Device, Vital: rd.Type, Time: &t, Value: &v, Unit: rd.Unit}
			if rd.Type == vitals.BloodPressure {
				d := rd.Diastolic
				out.Diastolic = &d
			}
			if !write(out) {
				conn.Close()
				return
			}
		}
	}
}
