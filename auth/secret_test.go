package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSecretHashing(t *testing.T) {
	t.Run("a hashed secret verifies and a wrong one does not", func(t *testing.T) {
		s := NewSecret()
		h := HashSecret(s)
		require.NotContains(t, h, s)
		ok, err := VerifySecret(h, s)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = VerifySecret(h, s+"x")
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("a password hash uses the full work factor and verifies", func(t *testing.T) {
		h := HashPassword("correct horse battery staple")
		require.Contains(t, h, "m=19456,t=2,p=1")
		ok, err := VerifySecret(h, "correct horse battery staple")
		require.NoError(t, err)
		require.True(t, ok)
	})
	t.Run("two hashes of one secret differ by their salt", func(t *testing.T) {
		require.NotEqual(t, HashSecret("a"), HashSecret("a"))
	})
	t.Run("a malformed hash is an error, not a match", func(t *testing.T) {
		_, err := VerifySecret("$argon2id$nonsense", "a")
		require.ErrorIs(t, err, ErrBadHash)
	})
	t.Run("the Mosquitto hash matches mosquitto_passwd output", func(t *testing.T) {
		// Line written by mosquitto_passwd 2.0 for secret123.
		const line = "$7$101$a1vzWK6WXDbivNYs$caFLEFNx1krB0Ni0zLy1d2bDdeJ96Sl0PTQJ8u7FOOcqKXuZpG2CK6Kze1KukLe8AdTebfwgMqDkbRozwWDpgA=="
		salt, err := base64.StdEncoding.DecodeString("a1vzWK6WXDbivNYs")
		require.NoError(t, err)
		require.Equal(t, line, mosquittoHash("secret123", salt, 101))
	})
}

func TestHasherRunsAtMostItsCapAtOnceAndTurnsAwayPastItsWait(t *testing.T) {
	h := NewHasher(2, 20*time.Millisecond)
	hash := HashPassword("long enough password")
	var wg sync.WaitGroup
	var busy, checked atomic.Int64
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := h.Verify(context.Background(), hash, "long enough password")
			if errors.Is(err, ErrBusy) {
				busy.Add(1)
				return
			}
			require.NoError(t, err)
			require.True(t, ok)
			checked.Add(1)
		}()
	}
	wg.Wait()
	st := h.Stats()
	require.LessOrEqual(t, st.MaxInFlight, int64(2))
	require.Zero(t, st.InFlight)
	require.EqualValues(t, checked.Load(), st.Checks)
	require.EqualValues(t, busy.Load(), st.Busy)
	require.Positive(t, busy.Load(), "12 checks of tens of milliseconds, two at a time, 20 ms of patience")

	var none *Hasher
	ok, err := none.Verify(context.Background(), hash, "long enough password")
	require.NoError(t, err)
	require.True(t, ok, "a nil Hasher checks without a cap")
}
