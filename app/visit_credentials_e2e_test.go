package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
)

// visitSocket dials a visit's signalling socket and reads it until it
// closes (answering the server's pings meanwhile); the channel gets the
// error that ended it.
func visitSocket(t *testing.T, a *app.App, visit string, hdr http.Header) <-chan error {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(wsBase(a)+"/ws/v1/visits/"+visit, hdr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	return ended
}

func requireClosedBy(t *testing.T, ended <-chan error, within time.Duration, why string) {
	t.Helper()
	select {
	case err := <-ended:
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
		require.Contains(t, ce.Text, why)
	case <-time.After(within):
		t.Fatalf("the visit socket is still open after %s", within)
	}
}

func TestAVisitSocketEndsWithTheCredentialThatOpenedIt(t *testing.T) {
	cfg := testConfig(t)
	cfg.Telehealth.LoopbackOnly = true
	cfg.Auth.SessionIdle = 10 * time.Second
	a := startApp(t, cfg)
	ward(t, a)
	ctx := context.Background()
	doc1, _ := a.Signer.Mint("doc1", auth.RoleClinician, time.Hour)
	var created app.VisitCreated
	require.Equal(t, http.StatusCreated, apiCall(t, a, "POST", "/api/v1/patients/p1/visits", doc1, `{}`, &created))
	visit := created.Visit.ID

	t.Run("a revoked token closes its visit socket at once", func(t *testing.T) {
		tok, claims := a.Signer.Mint("doc2", auth.RoleClinician, time.Hour)
		ended := visitSocket(t, a, visit, http.Header{"Authorization": {"Bearer " + tok}})
		time.Sleep(200 * time.Millisecond)
		require.Empty(t, ended, "open while the token is good")
		require.NoError(t, a.Revoked.Revoke(ctx, claims))
		requireClosedBy(t, ended, 2*time.Second, "revoked")
	})

	t.Run("a token's expiry closes its visit socket", func(t *testing.T) {
		tok, _ := a.Signer.Mint("doc2", auth.RoleClinician, 4*time.Second)
		ended := visitSocket(t, a, visit, http.Header{"Authorization": {"Bearer " + tok}})
		requireClosedBy(t, ended, 8*time.Second, "expired")
	})

	cookieHeader := func(b *browserish) http.Header {
		hdr := http.Header{"Origin": {a.URL()}}
		for _, c := range b.jar.Cookies(nil) {
			hdr.Add("Cookie", c.Name+"="+c.Value)
		}
		return hdr
	}

	t.Run("being in a visit keeps the session from idling out; signing out ends the visit's socket", func(t *testing.T) {
		b := newBrowserish(t, a)
		st, _ := b.signInWithLink(a.SignInURL("doc1", auth.RoleClinician, time.Minute).URL)
		require.Equal(t, http.StatusOK, st)
		ended := visitSocket(t, a, visit, cookieHeader(b))
		idle := newBrowserish(t, a)
		st, _ = idle.signInWithLink(a.SignInURL("doc1", auth.RoleClinician, time.Minute).URL)
		require.Equal(t, http.StatusOK, st)

		time.Sleep(13 * time.Second) // past the idle time, no request from either page
		require.Empty(t, ended, "still in the visit")
		st, _ = b.do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
		require.Equal(t, http.StatusOK, st, "the session in the visit is alive")
		st, _ = idle.do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
		require.Equal(t, http.StatusUnauthorized, st, "the session without a visit logged off")

		st, _ = b.do("DELETE", "/api/v1/session", "")
		require.Equal(t, http.StatusNoContent, st)
		requireClosedBy(t, ended, 2*time.Second, "signed out")
	})
}
