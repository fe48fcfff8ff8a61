package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newSigner(t *testing.T) *Signer {
	s, err := NewSigner([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	return s
}

func TestTokens(t *testing.T) {
	s := newSigner(t)
	tok, c := s.Mint("alice", RoleClinician, time.Hour)

	t.Run("a minted token verifies with its claims", func(t *testing.T) {
		got, err := s.Verify(tok)
		require.NoError(t, err)
		require.Equal(t, c, got)
		require.Equal(t, "alice", got.Subject)
	})
	t.Run("another key's token has a bad signature", func(t *testing.T) {
		other, err := NewSigner([]byte(strings.Repeat("x", 32)))
		require.NoError(t, err)
		_, err = other.Verify(tok)
		require.ErrorIs(t, err, ErrBadSignature)
	})
	t.Run("a changed payload fails the signature", func(t *testing.T) {
		forged, _ := s.Mint("alice", RoleAdmin, time.Hour)
		parts := strings.Split(tok, ".")
		fparts := strings.Split(forged, ".")
		_, err := s.Verify(parts[0] + "." + fparts[1] + "." + parts[2])
		require.ErrorIs(t, err, ErrBadSignature)
	})
	t.Run("an expired token is refused", func(t *testing.T) {
		old := newSigner(t)
		old.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		expired, _ := old.Mint("bob", RolePatient, time.Hour)
		_, err := s.Verify(expired)
		require.ErrorIs(t, err, ErrExpired)
	})
	t.Run("garbage is malformed", func(t *testing.T) {
		for _, g := range []string{"", "abc", "vw1.", "vw1.@@@.x"} {
			_, err := s.Verify(g)
			require.Error(t, err, g)
		}
	})
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		name, header, want string
		err                error
	}{
		{"a bearer header gives its token", "Bearer vw1.a.b", "vw1.a.b", nil},
		{"no header is no token", "", "", ErrNoToken},
		{"another scheme is no token", "Basic dXNlcjpwdw==", "", ErrNoToken},
		{"an empty bearer is no token", "Bearer ", "", ErrNoToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			got, err := BearerToken(req)
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestClaimsTravelInTheContext(t *testing.T) {
	_, ok := FromContext(context.Background())
	require.False(t, ok, "a context without claims has none")
	_, c := newSigner(t).Mint("root", RoleAdmin, time.Hour)
	got, ok := FromContext(WithClaims(context.Background(), c))
	require.True(t, ok)
	require.Equal(t, c, got)
}
