package visits_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestAVisitSocketEndsWithTheCredentialThatOpenedIt(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	cfg.Auth.SessionIdle = 10 * time.Second
	s := harness.Start(t, cfg)
	s.Ward(t)
	doc1 := s.Clinician("doc1")
	var created httpapi.VisitCreated
	require.Equal(t, http.StatusCreated, s.Call(t, "POST", "/api/v1/patients/p1/visits", doc1, `{}`, &created))
	visit := created.Visit.ID

	t.Run("a revoked token closes its visit socket at once", func(t *testing.T) {
		tok, _ := s.Token("doc2", auth.RoleClinician, time.Hour)
		ended := visitSocket(t, s, visit, bearer(tok))
		time.Sleep(200 * time.Millisecond)
		require.Empty(t, ended, "open while the token is good")
		s.RevokeToken(t, tok)
		requireClosedBy(t, ended, 2*time.Second, "revoked")
	})

	t.Run("a token's expiry closes its visit socket", func(t *testing.T) {
		tok, _ := s.Token("doc2", auth.RoleClinician, 4*time.Second)
		ended := visitSocket(t, s, visit, bearer(tok))
		requireClosedBy(t, ended, 8*time.Second, "expired")
	})

	t.Run("being in a visit keeps the session from idling out; signing out ends the visit's socket", func(t *testing.T) {
		b := s.NewBrowserClient(t)
		st, _ := b.SignInWithLink(s.SignInLink("doc1", auth.RoleClinician, time.Minute))
		require.Equal(t, http.StatusOK, st)
		ended := visitSocket(t, s, visit, b.SocketHeader())
		idle := s.NewBrowserClient(t)
		st, _ = idle.SignInWithLink(s.SignInLink("doc1", auth.RoleClinician, time.Minute))
		require.Equal(t, http.StatusOK, st)

		time.Sleep(13 * time.Second) // past the idle time, no request from either page
		require.Empty(t, ended, "still in the visit")
		st, _ = b.Do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
		require.Equal(t, http.StatusOK, st, "the session in the visit is alive")
		st, _ = idle.Do("GET", "/api/v1/dashboard", "", "X-Vitalwire-Background", "1")
		require.Equal(t, http.StatusUnauthorized, st, "the session without a visit logged off")

		st, _ = b.Do("DELETE", "/api/v1/session", "")
		require.Equal(t, http.StatusNoContent, st)
		requireClosedBy(t, ended, 2*time.Second, "signed out")
	})
}
