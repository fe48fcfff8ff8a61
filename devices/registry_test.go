package devices_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
)

func openRegistry(t *testing.T, path sqldb.Records) *devices.Registry {
	t.Helper()
	db, err := path.Open(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	r, err := devices.Open(context.Background(), db)
	require.NoError(t, err)
	return r
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	path := testenv.Records(t)
	r := openRegistry(t, path)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	secret, err := r.Add(ctx, "watch-1", "watch")
	require.NoError(t, err)
	require.Len(t, secret, 32)

	t.Run("the secret authenticates and nothing else does", func(t *testing.T) {
		require.True(t, r.Authenticate("watch-1", secret))
		require.True(t, r.Authenticate("watch-1", secret), "cached check")
		require.False(t, r.Authenticate("watch-1", secret+"x"))
		require.False(t, r.Authenticate("watch-2", secret))
	})
	t.Run("ids are checked and unique", func(t *testing.T) {
		_, err := r.Add(ctx, "watch-1", "")
		require.ErrorIs(t, err, devices.ErrExists)
		_, err = r.Add(ctx, "bad/id", "")
		require.ErrorIs(t, err, devices.ErrInvalidID)
		_, err = r.Add(ctx, "+", "")
		require.ErrorIs(t, err, devices.ErrInvalidID)
	})
	t.Run("readings are attributed by their own time across a rebinding", func(t *testing.T) {
		_, reason := r.Resolve("watch-1", t0)
		require.Equal(t, vitals.ReasonUnbound, reason)
		require.NoError(t, r.Bind(ctx, "watch-1", "p1", t0))
		require.NoError(t, r.Bind(ctx, "watch-1", "p2", t0.Add(time.Hour)))
		p, reason := r.Resolve("watch-1", t0.Add(59*time.Minute))
		require.Equal(t, vitals.Reason(""), reason)
		require.Equal(t, "p1", p)
		p, _ = r.Resolve("watch-1", t0.Add(time.Hour))
		require.Equal(t, "p2", p)
		_, reason = r.Resolve("watch-1", t0.Add(-time.Second))
		require.Equal(t, vitals.ReasonUnbound, reason)
		require.ErrorIs(t, r.Bind(ctx, "watch-1", "p3", t0.Add(30*time.Minute)), devices.ErrBindingOrder)
	})
	t.Run("an unbound device's later readings have no patient", func(t *testing.T) {
		require.NoError(t, r.Unbind(ctx, "watch-1", t0.Add(2*time.Hour)))
		_, reason := r.Resolve("watch-1", t0.Add(3*time.Hour))
		require.Equal(t, vitals.ReasonUnbound, reason)
		p, _ := r.Resolve("watch-1", t0.Add(90*time.Minute))
		require.Equal(t, "p2", p)
	})
	t.Run("an unknown device is named as such", func(t *testing.T) {
		_, reason := r.Resolve("nope", t0)
		require.Equal(t, vitals.ReasonUnknownDevice, reason)
	})
	t.Run("the registry survives a restart", func(t *testing.T) {
		r.SetStatus("watch-1", true, ptr(0.8), "1.2.3", t0)
		require.NoError(t, r.Flush(ctx))
		again := openRegistry(t, path)
		d, err := again.Get("watch-1")
		require.NoError(t, err)
		require.Len(t, d.Bindings, 2)
		require.Equal(t, "p2", d.Bindings[1].Patient)
		require.True(t, d.Bindings[1].To.Equal(t0.Add(2*time.Hour)))
		require.True(t, d.Status.Online)
		require.Equal(t, 0.8, *d.Status.Battery)
		require.Equal(t, "1.2.3", d.Status.Firmware)
		require.True(t, again.Authenticate("watch-1", secret))
	})
	t.Run("a revoked device neither authenticates nor resolves", func(t *testing.T) {
		s2, err := r.Add(ctx, "ring-1", "ring")
		require.NoError(t, err)
		require.NoError(t, r.Bind(ctx, "ring-1", "p1", t0))
		require.True(t, r.Authenticate("ring-1", s2))
		require.NoError(t, r.Revoke(ctx, "ring-1"))
		require.False(t, r.Authenticate("ring-1", s2))
		_, reason := r.Resolve("ring-1", t0.Add(time.Minute))
		require.Equal(t, vitals.ReasonRevoked, reason)
		creds := r.ActiveCredentials()
		require.Len(t, creds, 1)
		require.Equal(t, "watch-1", creds[0].ID)
	})
}

func ptr(f float64) *float64 { return &f }

func TestDeviceSecretChecksShareThePasswordChecksSlots(t *testing.T) {
	ctx := context.Background()
	r := openRegistry(t, testenv.Records(t))
	h := auth.NewHasher(1, 10*time.Millisecond)
	r.SetHasher(h)
	secret, err := r.Add(ctx, "watch-1", "watch")
	require.NoError(t, err)

	release, err := h.Acquire(ctx) // a sign-in holds the only slot
	require.NoError(t, err)
	require.False(t, r.Authenticate("watch-1", secret), "no slot came free: refused, the device retries")
	require.EqualValues(t, 1, h.Stats().Busy)
	release()
	require.True(t, r.Authenticate("watch-1", secret))
}

func TestCheckSaysBusyApartFromAWrongSecret(t *testing.T) {
	ctx := context.Background()
	r := openRegistry(t, testenv.Records(t))
	h := auth.NewHasher(1, 10*time.Millisecond)
	r.SetHasher(h)
	secret, err := r.Add(ctx, "cuff-1", "cuff")
	require.NoError(t, err)

	require.ErrorIs(t, r.Check(ctx, "cuff-1", secret+"x"), devices.ErrCredentials)
	require.ErrorIs(t, r.Check(ctx, "cuff-9", secret), devices.ErrCredentials, "no such device")
	release, err := h.Acquire(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, r.Check(ctx, "cuff-1", secret), auth.ErrBusy, "busy is not a wrong secret: the device tries again")
	release()
	require.NoError(t, r.Check(ctx, "cuff-1", secret))
	require.NoError(t, r.Revoke(ctx, "cuff-1"))
	require.ErrorIs(t, r.Check(ctx, "cuff-1", secret), devices.ErrCredentials, "revoked")
}
