package security

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: a link that outlives its purpose. A join link for a visit far
// in the future, or one that leaked, mints patient sessions for as long as
// it lives; it must be short-lived, end with its visit, and be revocable
// (and a revoked link's sessions end with it). The same holds for sign-in
// links.

func newVisit(t *testing.T, s *harness.Service, doc, patient string, at time.Time) httpapi.VisitCreated {
	t.Helper()
	var created httpapi.VisitCreated
	body := map[string]any{}
	if !at.IsZero() {
		body["scheduled_at"] = at
	}
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/"+patient+"/visits", s.Clinician(doc), body, &created)
	return created
}

func TestAJoinLinkLivesAtMostADayFromItsIssue(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	far := newVisit(t, s, "doc1", "p1", time.Date(2099, 6, 1, 9, 0, 0, 0, time.UTC))
	require.WithinDuration(t, time.Now().Add(24*time.Hour), far.PatientLink.Expires, time.Minute,
		"a link for a visit in 2099 lasts a day from its issue, not until 2099")
	claims, err := s.Signer().VerifyUse(harness.LinkCode(t, far.PatientLink.URL), "visit:"+far.Visit.ID)
	require.NoError(t, err)
	require.LessOrEqual(t, claims.Expires, time.Now().Add(24*time.Hour+time.Minute).Unix(), "the code itself expires within a day")

	soon := newVisit(t, s, "doc1", "p1", time.Time{})
	require.WithinDuration(t, time.Now().Add(time.Hour), soon.PatientLink.Expires, time.Minute,
		"a link for a visit now lasts join_link_ttl")

	t.Run("the care team issues a fresh link for a later visit", func(t *testing.T) {
		var link httpapi.SignInLink
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/visits/"+far.Visit.ID+"/patient-link", s.Clinician("doc1"), nil, &link)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), link.Expires, time.Minute)
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/visits/"+far.Visit.ID+"/patient-link", s.Clinician("doc3"), nil, nil)
	})
}

func TestAJoinLinkEndsWithItsVisit(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)
	v := newVisit(t, s, "doc1", "p1", time.Time{})
	code := harness.LinkCode(t, v.PatientLink.URL)
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/visits/"+v.Visit.ID+"?join="+url.QueryEscape(code), "", nil, nil)
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+v.Visit.ID+"/end", s.Clinician("doc1"), map[string]string{"note": "done"}, nil)

	s.MustCall(t, http.StatusUnauthorized, "GET", "/api/v1/visits/"+v.Visit.ID+"?join="+url.QueryEscape(code), "", nil, nil)
	b := s.NewBrowserClient(t)
	st, body := b.JoinSession(v.Visit.ID, code)
	require.Equal(t, http.StatusUnauthorized, st, body)
	require.Contains(t, body, "ended")
}

func TestJoinAndSignInLinksCanBeRevokedAndTheirSessionsEndWithThem(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	s := harness.Start(t, cfg)
	s.Ward(t)

	t.Run("a join link: by the care team; its session and socket end", func(t *testing.T) {
		v := newVisit(t, s, "doc1", "p1", time.Time{})
		code := harness.LinkCode(t, v.PatientLink.URL)
		b := s.NewBrowserClient(t)
		st, body := b.JoinSession(v.Visit.ID, code)
		require.Equal(t, http.StatusOK, st, body)
		st, _ = b.Do("GET", "/api/v1/patients/p1", "")
		require.Equal(t, http.StatusOK, st)
		conn, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+v.Visit.ID+"?join="+url.QueryEscape(code), nil)
		require.NoError(t, err)
		defer conn.Close()

		revoke := map[string]string{"token": code}
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/tokens/revoke", s.Clinician("doc3"), revoke, nil)
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/tokens/revoke", s.Patient("p2"), revoke, nil)
		s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/tokens/revoke", s.Clinician("doc1"), revoke, nil)

		ce := harness.AwaitClose(t, conn, time.Second)
		require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
		st, _ = b.Do("GET", "/api/v1/patients/p1", "")
		require.Equal(t, http.StatusUnauthorized, st, "the session the link minted has ended")
		st, _ = s.NewBrowserClient(t).JoinSession(v.Visit.ID, code)
		require.Equal(t, http.StatusUnauthorized, st, "the link mints no new session")
		s.MustCall(t, http.StatusUnauthorized, "GET", "/api/v1/visits/"+v.Visit.ID+"?join="+url.QueryEscape(code), "", nil, nil)
	})

	t.Run("a sign-in link: by an admin, used or not", func(t *testing.T) {
		used := s.SignInLinkFor(t, s.Admin(), "p1", "patient")
		b := s.NewBrowserClient(t)
		st, body := b.SignInWithCode(harness.LinkCode(t, used.URL))
		require.Equal(t, http.StatusOK, st, body)
		s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/tokens/revoke", s.Admin(), map[string]string{"token": harness.LinkCode(t, used.URL)}, nil)
		st, _ = b.Do("GET", "/api/v1/session", "")
		require.Equal(t, http.StatusUnauthorized, st, "the session the link opened has ended")

		unused := s.SignInLinkFor(t, s.Admin(), "p1", "patient")
		s.MustCall(t, http.StatusForbidden, "POST", "/api/v1/tokens/revoke", s.Patient("p2"), map[string]string{"token": harness.LinkCode(t, unused.URL)}, nil)
		s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/tokens/revoke", s.Admin(), map[string]string{"token": harness.LinkCode(t, unused.URL)}, nil)
		st, _ = s.NewBrowserClient(t).SignInWithCode(harness.LinkCode(t, unused.URL))
		require.Equal(t, http.StatusUnauthorized, st)
	})
}
