package auth

import (
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

func TestAllow(t *testing.T) {
	s := newSigner(t)
	h := s.Allow([]Role{RoleAdmin}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		require.True(t, ok)
		w.Write([]byte(c.Subject))
	}))
	admin, _ := s.Mint("root", RoleAdmin, time.Hour)
	clin, _ := s.Mint("doc", RoleClinician, time.Hour)
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"no token is unauthorized", "", http.StatusUnauthorized},
		{"a bad token is unauthorized", "Bearer vw1.x.y", http.StatusUnauthorized},
		{"another role is forbidden", "Bearer " + clin, http.StatusForbidden},
		{"the named role passes", "Bearer " + admin, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.want, rec.Code)
		})
	}
}
