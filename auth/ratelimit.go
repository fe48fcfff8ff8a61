package auth

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// Limiter is a token bucket per key (a source address): each key may do
// burst things at once and rate per second after that. It tracks at most
// maxKeys keys; past that, the keys it cannot track share one bucket, so
// an attacker with many addresses is limited together rather than let
// through, and the limiter's memory stays bounded.
type Limiter struct {
	rate    float64 // tokens per second
	burst   float64
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	denied  uint64
}

type bucket struct {
	tokens float64
	at     time.Time
}

// overflowKey is the bucket shared by the keys past maxKeys.
const overflowKey = "\x00overflow"

// NewLimiter allows perMinute events per key after a burst of burst;
// maxKeys bounds the keys tracked (default 10,000).
func NewLimiter(perMinute, burst, maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = 10_000
	}
	return &Limiter{rate: float64(perMinute) / 60, burst: float64(max(burst, 1)), maxKeys: maxKeys, now: time.Now,
		buckets: map[string]*bucket{}}
}

// Allow takes one token of key's bucket. When there is none, it reports
// false and how long until there is one (at least a second, for a
// Retry-After header).
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(key, now)
	if l.rate > 0 {
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	l.denied++
	wait := time.Hour
	if l.rate > 0 {
		wait = time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	return false, max(wait, time.Second)
}

// bucket returns key's bucket, making one (full) if it has none. At
// maxKeys it first forgets the buckets that have refilled (they would
// be made full again), and past that it answers with the shared one.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	if b, ok := l.buckets[key]; ok {
		return b
	}
	if len(l.buckets) >= l.maxKeys {
		for k, b := range l.buckets {
			if k != overflowKey && (l.rate > 0 && b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst) {
				delete(l.buckets, k)
			}
		}
		if len(l.buckets) >= l.maxKeys {
			key = overflowKey
			if b, ok := l.buckets[key]; ok {
				return b
			}
		}
	}
	b := &bucket{tokens: l.burst, at: now}
	l.buckets[key] = b
	return b
}

// Denied is how many times Allow has said no.
func (l *Limiter) Denied() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.denied
}

// SourceKey is the key a client address is limited and aggregated under:
// an IPv4 address itself, an IPv6 address its /64 (what one subscriber
// holds), anything else as it is.
func SourceKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
