package harness

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
)

// Helpers for the tests of access that must end: live subscriptions,
// visit sockets and the links that admit to them.

// Live is an open /ws/v1/live socket.
type Live struct {
	Conn *websocket.Conn
	t    testing.TB
}

// DialLive opens the live socket with a bearer token.
func (s *Service) DialLive(t testing.TB, token string) *Live {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/live?access_token="+url.QueryEscape(token), nil)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &Live{Conn: conn, t: t}
}

// Subscribe asks for patients' feeds and waits for the server's answer
// about each ("subscribed" or "error").
func (l *Live) Subscribe(patients ...string) map[string]httpapi.LiveMessage {
	l.t.Helper()
	require.NoError(l.t, l.Conn.WriteJSON(map[string]any{"type": "subscribe", "patients": patients}))
	got := map[string]httpapi.LiveMessage{}
	for len(got) < len(patients) {
		m, err := l.Next(10 * time.Second)
		require.NoError(l.t, err, "the answer to a subscription")
		if m.Type == "subscribed" || m.Type == "error" {
			got[m.Patient] = m
		}
	}
	return got
}

// Next reads the next message, waiting at most within.
func (l *Live) Next(within time.Duration) (httpapi.LiveMessage, error) {
	var m httpapi.LiveMessage
	l.Conn.SetReadDeadline(time.Now().Add(within))
	err := l.Conn.ReadJSON(&m)
	return m, err
}

// Await reads messages until one satisfies ok, failing after within.
func (l *Live) Await(within time.Duration, what string, ok func(httpapi.LiveMessage) bool) httpapi.LiveMessage {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		m, err := l.Next(time.Until(deadline))
		require.NoError(l.t, err, "waiting %s for %s", within, what)
		if ok(m) {
			return m
		}
	}
}

// SignInLinkFor has an admin (token) issue a sign-in link through the
// API, as the admin pages and the CLI do.
func (s *Service) SignInLinkFor(t testing.TB, admin, subject, role string) httpapi.SignInLink {
	t.Helper()
	var link httpapi.SignInLink
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/signin-links", admin,
		map[string]string{"subject": subject, "role": role}, &link)
	return link
}

// LinkCode is the code a sign-in link or a join link carries.
func LinkCode(t testing.TB, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	frag := u.Fragment
	if code, ok := strings.CutPrefix(frag, "/signin?code="); ok {
		c, err := url.QueryUnescape(code)
		require.NoError(t, err)
		return c
	}
	q, err := url.ParseQuery(strings.TrimPrefix(frag, "/join?"))
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"), "a code in %s", link)
	return q.Get("code")
}

// SignInWithCode redeems a sign-in code in a browser client.
func (b *BrowserClient) SignInWithCode(code string) (int, string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"code": code})
	return b.Do("POST", "/api/v1/session", string(body))
}

// JoinSession redeems a visit's join link for a browser session.
func (b *BrowserClient) JoinSession(visit, code string) (int, string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"code": code})
	return b.Do("POST", "/api/v1/visits/"+url.PathEscape(visit)+"/session", string(body))
}

// AwaitClose reads a socket until it closes and returns the close error,
// failing if it is still open after within.
func AwaitClose(t testing.TB, conn *websocket.Conn, within time.Duration) *websocket.CloseError {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		require.True(t, ok, "the socket closes with a reason within %s, got %v", within, err)
		return ce
	}
}
