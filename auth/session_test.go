package auth

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
)

// testSessions is a session store on a fresh records database with a
// clock the test moves.
func testSessions(t *testing.T) (*Sessions, *sql.DB, *time.Time) {
	db, err := testenv.Records(t).Open(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	s := NewSessions(db, 15*time.Minute, time.Hour)
	s.now = func() time.Time { return now }
	return s, db, &now
}

func TestSessionsEndOnIdleAndAgeAndKeepNoSecrets(t *testing.T) {
	ctx := context.Background()
	s, db, now := testSessions(t)

	cookie, c, err := s.Create(ctx, "doc", RoleClinician)
	require.NoError(t, err)
	var stored int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM sessions WHERE id_hash = ?`, cookie).Scan(&stored))
	require.Zero(t, stored, "the cookie itself is not stored")

	*now = (*now).Add(14 * time.Minute)
	_, err = s.Check(ctx, cookie, false) // a background refresh
	require.NoError(t, err)
	*now = (*now).Add(2 * time.Minute)
	_, err = s.Check(ctx, cookie, true)
	require.ErrorIs(t, err, ErrNoSession, "16 minutes without activity")

	cookie, _, err = s.Create(ctx, "doc", RoleClinician)
	require.NoError(t, err)
	for range 5 { // active every 14 minutes...
		*now = (*now).Add(14 * time.Minute)
		if _, err = s.Check(ctx, cookie, true); err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrNoSession, "...but not past the maximum age of an hour")
	require.True(t, strings.HasPrefix(c.ID, "s."))

	jti, err := func() (string, error) {
		cookie, _, err := s.Create(ctx, "doc", RoleClinician)
		require.NoError(t, err)
		return s.End(ctx, cookie)
	}()
	require.NoError(t, err)
	require.NotEmpty(t, jti)
}

func TestPasswordsAreHashedAndLockOut(t *testing.T) {
	ctx := context.Background()
	s, db, now := testSessions(t)
	require.ErrorIs(t, s.SetPassword(ctx, "Bad Name", "kim", RoleClinician, "long enough password"), ErrBadUsername)
	require.ErrorIs(t, s.SetPassword(ctx, "kim", "kim", RoleClinician, "short"), ErrWeakPassword)
	require.NoError(t, s.SetPassword(ctx, "kim", "kim", RoleClinician, "long enough password"))
	var hash string
	require.NoError(t, db.QueryRow(`SELECT hash FROM users WHERE username = 'kim'`).Scan(&hash))
	require.True(t, strings.HasPrefix(hash, "$argon2id$"), hash)
	require.NotContains(t, hash, "long enough password")

	u, err := s.Login(ctx, "kim", "long enough password")
	require.NoError(t, err)
	require.Equal(t, RoleClinician, u.Role)
	for range 5 {
		_, err = s.Login(ctx, "kim", "a wrong password")
		require.ErrorIs(t, err, ErrBadLogin)
	}
	_, err = s.Login(ctx, "kim", "long enough password")
	require.ErrorIs(t, err, ErrLockedOut)
	*now = (*now).Add(61 * time.Second)
	_, err = s.Login(ctx, "kim", "long enough password")
	require.NoError(t, err, "the lock lasts a minute")
	require.NoError(t, s.Disable(ctx, "kim"))
	_, err = s.Login(ctx, "kim", "long enough password")
	require.ErrorIs(t, err, ErrBadLogin, "a disabled account")
	_, err = s.Login(ctx, "nobody", "long enough password")
	require.ErrorIs(t, err, ErrBadLogin)
}

func TestSweepDeletesEndedSessionsOnly(t *testing.T) {
	ctx := context.Background()
	s, db, now := testSessions(t)
	old, _, err := s.Create(ctx, "a", RoleClinician)
	require.NoError(t, err)
	*now = (*now).Add(20 * time.Minute)
	live, _, err := s.Create(ctx, "b", RoleClinician)
	require.NoError(t, err)
	require.NoError(t, s.Sweep(ctx))
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM sessions`).Scan(&n))
	require.Equal(t, 1, n)
	_, err = s.Check(ctx, live, false)
	require.NoError(t, err)
	_, err = s.Check(ctx, old, false)
	require.ErrorIs(t, err, ErrNoSession)
}

func TestParallelLoginsReserveTheirAttemptsBeforeThePasswordIsChecked(t *testing.T) {
	ctx := context.Background()
	s, _, now := testSessions(t)
	h := NewHasher(64, time.Minute)
	s.SetHasher(h)
	require.NoError(t, s.SetPassword(ctx, "kim", "kim", RoleClinician, "long enough password"))
	before := h.Stats().Checks

	errs := make(chan error, 30)
	start := make(chan struct{})
	for i := range 30 {
		go func() {
			<-start
			pw := "a wrong password"
			if i == 29 {
				pw = "long enough password"
			}
			_, err := s.Login(ctx, "kim", pw)
			errs <- err
		}()
	}
	close(start)
	var signedIn, locked int
	for range 30 {
		switch err := <-errs; {
		case err == nil:
			signedIn++
		case errors.Is(err, ErrLockedOut):
			locked++
		default:
			require.ErrorIs(t, err, ErrBadLogin)
		}
	}
	require.LessOrEqual(t, h.Stats().Checks-before, uint64(lockoutAfter), "passwords checked")
	require.GreaterOrEqual(t, locked, 30-lockoutAfter, "the others were refused unchecked")
	if signedIn == 0 {
		_, err := s.Login(ctx, "kim", "long enough password")
		require.ErrorIs(t, err, ErrLockedOut, "five wrong ones lock the account: the right one is refused")
	}

	*now = (*now).Add(lockoutFor + time.Second)
	_, err := s.Login(ctx, "kim", "long enough password")
	require.NoError(t, err, "the lock ends")
}

func TestTheFifthWrongPasswordSaysItLockedTheAccount(t *testing.T) {
	ctx := context.Background()
	s, _, _ := testSessions(t)
	require.NoError(t, s.SetPassword(ctx, "kim", "kim", RoleClinician, "long enough password"))
	for i := range lockoutAfter {
		_, err := s.Login(ctx, "kim", "a wrong password")
		if i < lockoutAfter-1 {
			require.NotErrorIs(t, err, ErrAccountLocked)
		} else {
			require.ErrorIs(t, err, ErrAccountLocked)
			require.ErrorIs(t, err, ErrBadLogin)
		}
	}
	_, err := s.Login(ctx, strings.Repeat("k", 65), "a wrong password")
	require.ErrorIs(t, err, ErrBadUsername)
	require.ErrorIs(t, s.SetPassword(ctx, "lee", "Dr Lee", RoleClinician, "long enough password"), ErrInvalidID)
}

func TestALoginThatFindsNoFreeSlotIsNotCounted(t *testing.T) {
	ctx := context.Background()
	s, _, _ := testSessions(t)
	require.NoError(t, s.SetPassword(ctx, "kim", "kim", RoleClinician, "long enough password"))
	h := NewHasher(1, 10*time.Millisecond)
	s.SetHasher(h)
	h.slots <- struct{}{} // every slot taken
	for range 10 {
		_, err := s.Login(ctx, "kim", "a wrong password")
		require.ErrorIs(t, err, ErrBusy)
	}
	<-h.slots
	_, err := s.Login(ctx, "kim", "long enough password")
	require.NoError(t, err, "turned-away attempts did not lock the account")
	require.EqualValues(t, 10, h.Stats().Busy)
}

// Nodes sharing the records database share an account's count of wrong
// passwords: guesses spread over two nodes, at once, still get at most
// five checks before the lock, and a restart does not forget them.
func TestTheLockoutIsCountedAcrossNodesAndRestarts(t *testing.T) {
	ctx := context.Background()
	where := testenv.Records(t)
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	h := NewHasher(64, time.Minute)
	node := func() *Sessions {
		s := NewSessions(testenv.OpenRecordsAt(t, where), 15*time.Minute, time.Hour)
		s.now = func() time.Time { return now }
		s.SetHasher(h)
		return s
	}
	a, b := node(), node()
	require.NoError(t, a.SetPassword(ctx, "kim", "kim", RoleClinician, "long enough password"))
	before := h.Stats().Checks
	errs := make(chan error, 20)
	start := make(chan struct{})
	for i := range 20 {
		s := a
		if i%2 == 1 {
			s = b
		}
		go func() {
			<-start
			_, err := s.Login(ctx, "kim", "a wrong password")
			errs <- err
		}()
	}
	close(start)
	for range 20 {
		err := <-errs
		if !errors.Is(err, ErrLockedOut) {
			require.ErrorIs(t, err, ErrBadLogin)
		}
	}
	require.LessOrEqual(t, h.Stats().Checks-before, uint64(lockoutAfter), "passwords checked on both nodes together")

	restarted := node()
	_, err := restarted.Login(ctx, "kim", "long enough password")
	require.ErrorIs(t, err, ErrLockedOut, "the lock holds on a restarted node")
	now = now.Add(lockoutFor + time.Second)
	_, err = restarted.Login(ctx, "kim", "long enough password")
	require.NoError(t, err, "and ends on time")
}
