package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"crypto/pbkdf2"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters. A work factor protects guessable secrets: people's
// passwords get OWASP's second configuration (19 MiB, 2 passes, 1 lane,
// tens of milliseconds). Device secrets are 192 random bits, which no
// amount of guessing reaches, so they get a light configuration (64 KiB,
// 1 pass): a fleet of 10,000 devices reconnecting at once must not cost
// minutes of CPU or gigabytes of memory. Each hash records its parameters,
// so verification follows whatever a hash was made with.
type argonParams struct {
	time, memory uint32
}

var (
	passwordParams = argonParams{time: 2, memory: 19 * 1024}
	secretParams   = argonParams{time: 1, memory: 64}
)

const (
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// ErrBadHash is returned for a stored hash that cannot be parsed.
var ErrBadHash = errors.New("auth: malformed secret hash")

// NewSecret returns a random secret of 32 URL-safe characters (192 bits).
func NewSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret hashes a machine-made secret (NewSecret) with argon2id into a
// PHC string: $argon2id$v=19$m=64,t=1,p=1$<salt>$<key>.
func HashSecret(secret string) string { return hashArgon(secret, secretParams) }

// HashPassword hashes a password a person chose, with the full work factor.
func HashPassword(password string) string { return hashArgon(password, passwordParams) }

func hashArgon(secret string, p argonParams) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(secret), salt, p.time, p.memory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// VerifySecret reports whether secret matches a HashSecret or HashPassword
// string, in time independent of where they differ.
func VerifySecret(hash, secret string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false, ErrBadHash // also refuses parameters that would exhaust the machine
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// ErrBusy: every slot for checking a secret stayed taken for the whole
// wait; the caller should answer "try again shortly" (503 with
// Retry-After), not "wrong password".
var ErrBusy = errors.New("auth: too many sign-ins at once; try again shortly")

// Hasher runs argon2id checks at most max at once. A password check costs
// 19 MiB and tens of milliseconds of a core, so without a cap a burst of
// sign-ins (or of device connections) takes the server's memory and its
// health check with it. A caller waits up to wait for a slot and then
// gets ErrBusy. The service gives people's passwords and devices' secrets
// a Hasher each, so that a flood of sign-ins never keeps devices from
// connecting. A nil *Hasher checks without a cap.
type Hasher struct {
	slots chan struct{}
	wait  time.Duration

	inflight, peak atomic.Int64
	checks, busy   atomic.Uint64
}

// NewHasher allows n checks at once (at least 1), each caller waiting at
// most wait for a slot.
func NewHasher(n int, wait time.Duration) *Hasher {
	return &Hasher{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// acquire takes a slot, waiting at most wait (or until ctx ends) when
// patient, and without a bound otherwise.
func (h *Hasher) acquire(ctx context.Context, patient bool) error {
	select {
	case h.slots <- struct{}{}:
	default:
		var timeout <-chan time.Time
		if patient {
			t := time.NewTimer(h.wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case h.slots <- struct{}{}:
		case <-timeout:
			h.busy.Add(1)
			return ErrBusy
		case <-ctx.Done():
			h.busy.Add(1)
			return ErrBusy
		}
	}
	n := h.inflight.Add(1)
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return nil
}

func (h *Hasher) release() {
	h.inflight.Add(-1)
	h.checks.Add(1)
	<-h.slots
}

// Acquire takes a slot for other argon2 work, waiting as Verify does
// (ErrBusy past the wait); call release when the work is done.
func (h *Hasher) Acquire(ctx context.Context) (release func(), err error) {
	if h == nil {
		return func() {}, nil
	}
	if err := h.acquire(ctx, true); err != nil {
		return nil, err
	}
	return h.release, nil
}

// Verify is VerifySecret in a slot: ErrBusy when none came free in time.
func (h *Hasher) Verify(ctx context.Context, hash, secret string) (bool, error) {
	if h == nil {
		return VerifySecret(hash, secret)
	}
	if err := h.acquire(ctx, true); err != nil {
		return false, err
	}
	defer h.release()
	return VerifySecret(hash, secret)
}

// HashPassword is HashPassword in a slot. It waits for one as long as ctx
// allows: it serves an admin setting a password, not an anonymous caller.
func (h *Hasher) HashPassword(ctx context.Context, password string) (string, error) {
	if h == nil {
		return HashPassword(password), nil
	}
	if err := h.acquire(ctx, false); err != nil {
		return "", err
	}
	defer h.release()
	return HashPassword(password), nil
}

// HasherStats are a Hasher's numbers for the metrics.
type HasherStats struct {
	InFlight, MaxInFlight int64  // checks running now; the most at once since start
	Checks, Busy          uint64 // checks done; callers turned away (ErrBusy)
	Limit                 int    // the cap
}

// Stats returns the numbers so far.
func (h *Hasher) Stats() HasherStats {
	return HasherStats{InFlight: h.inflight.Load(), MaxInFlight: h.peak.Load(), Checks: h.checks.Load(), Busy: h.busy.Load(),
		Limit: cap(h.slots)}
}

// MosquittoHash hashes a secret in the format of Mosquitto 2's password
// file: $7$<iterations>$<salt>$<PBKDF2-SHA512 key>, standard base64.
func MosquittoHash(secret string) string {
	salt := make([]byte, 12)
	rand.Read(salt)
	return mosquittoHash(secret, salt, 101)
}

func mosquittoHash(secret string, salt []byte, iterations int) string {
	key, err := pbkdf2.Key(sha512.New, secret, salt, iterations, 64)
	if err != nil {
		panic(err) // only for parameters outside FIPS limits, which these are not
	}
	return fmt.Sprintf("$7$%d$%s$%s", iterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
}
