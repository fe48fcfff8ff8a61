package auth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAnAdminIssuedPasswordOpensASessionThatMustSetItsOwn(t *testing.T) {
	ctx := context.Background()
	s, _, _ := testSessions(t)
	root := Claims{Subject: "root", Role: RoleAdmin}
	require.NoError(t, s.SetPasswordBy(ctx, root, "kim.nurse", "kim", RoleClinician, "the admin's choice"))
	iss, ok, err := s.IssuedPasswordOf(ctx, "kim.nurse")
	require.NoError(t, err)
	require.True(t, ok, "a password set for someone else is recorded as issued")
	require.Equal(t, "root", iss.IssuedBy)

	cookie, c, err := s.CreateFrom(ctx, "kim", RoleClinician, Origin{Issued: iss})
	require.NoError(t, err)
	require.Equal(t, UseSetPassword, c.Use)
	checked, err := s.Check(ctx, cookie, false)
	require.NoError(t, err)
	require.Equal(t, UseSetPassword, checked.Use, "the session stays restricted until the password is set")
	require.Equal(t, "root", checked.IssuedBy)

	require.ErrorIs(t, s.SetOwnPassword(ctx, cookie, "", "the admin's choice"), ErrSamePassword)
	require.ErrorIs(t, s.SetOwnPassword(ctx, cookie, "", "short"), ErrWeakPassword)
	require.NoError(t, s.SetOwnPassword(ctx, cookie, "", "kim's own passphrase"))
	checked, err = s.Check(ctx, cookie, false)
	require.NoError(t, err)
	require.Empty(t, checked.Use, "an ordinary session now")
	require.Equal(t, "root", checked.IssuedBy, "still opened by root's credential")
	_, ok, err = s.IssuedPasswordOf(ctx, "kim.nurse")
	require.NoError(t, err)
	require.False(t, ok, "the password is kim's own")
	list, err := s.Issued(ctx, time.Time{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.False(t, list[0].PasswordSetAt.IsZero())

	require.NoError(t, s.SetPasswordBy(ctx, Claims{Subject: "kim", Role: RoleAdmin}, "kim.admin", "kim", RoleAdmin, "kim sets her own"))
	_, ok, err = s.IssuedPasswordOf(ctx, "kim.admin")
	require.NoError(t, err)
	require.False(t, ok, "one's own password is not an issued credential")
}

func TestSetOwnPasswordNeedsAUsernameThatIsTheirs(t *testing.T) {
	ctx := context.Background()
	s, _, _ := testSessions(t)
	require.NoError(t, s.SetPassword(ctx, "someone", "other", RoleClinician, "other's password!"))
	cookie, _, err := s.CreateFrom(ctx, "doc", RoleClinician, Origin{Issued: Issuance{ID: 1, IssuedBy: "root"}})
	require.NoError(t, err)
	require.ErrorIs(t, s.SetOwnPassword(ctx, cookie, "", "a long passphrase"), ErrUsernameNeeded)
	require.ErrorIs(t, s.SetOwnPassword(ctx, cookie, "someone", "a long passphrase"), ErrUsernameTaken)
	require.NoError(t, s.SetOwnPassword(ctx, cookie, "doc.login", "a long passphrase"))
	u, err := s.Login(ctx, "doc.login", "a long passphrase")
	require.NoError(t, err)
	require.Equal(t, "doc", u.Subject)
}

func TestRevokingALinkEndsTheSessionsItMinted(t *testing.T) {
	ctx := context.Background()
	s, db, _ := testSessions(t)
	rev, err := OpenRevocations(ctx, db)
	require.NoError(t, err)
	w := NewWatcher(s, rev)
	cookie, c, err := s.CreateFrom(ctx, "p1", RolePatient, Origin{Link: "link-1"})
	require.NoError(t, err)
	other, _, err := s.Create(ctx, "p1", RolePatient)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := w.Watch(wctx, Credential{Claims: c, Via: ViaSession, Cookie: cookie}, false)

	require.NoError(t, rev.Revoke(ctx, Claims{ID: "link-1", Expires: time.Now().Add(time.Hour).Unix()}))
	select {
	case reason := <-ended:
		require.Contains(t, reason, "revoked")
	case <-time.After(time.Second):
		t.Fatal("the socket of the link's session did not end")
	}
	_, err = s.Check(ctx, cookie, false)
	require.ErrorIs(t, err, ErrNoSession)
	_, err = s.Check(ctx, other, false)
	require.NoError(t, err, "a session of another origin stays")
}

// A token revoked after the socket's handler verified it and before the
// watcher watches it (the upgrade in between) still ends the socket, not
// at the token's expiry.
func TestATokenRevokedBeforeItsSocketIsWatchedEndsIt(t *testing.T) {
	ctx := context.Background()
	s, db, _ := testSessions(t)
	rev, err := OpenRevocations(ctx, db)
	require.NoError(t, err)
	w := NewWatcher(s, rev)
	c := Claims{Subject: "doc", Role: RoleClinician, ID: "tok-1", Expires: time.Now().Add(time.Hour).Unix()}
	// The handler verified the token; now it is revoked, before Watch.
	require.NoError(t, rev.Revoke(ctx, c))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	select {
	case reason := <-w.Watch(wctx, Credential{Claims: c, Via: ViaToken}, false):
		require.Equal(t, "token revoked", reason)
	case <-time.After(2 * time.Second):
		t.Fatal("a socket of a revoked token stays open until the token expires")
	}
}
