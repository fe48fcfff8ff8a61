package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiterAllowsABurstThenTheRatePerSource(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	l := NewLimiter(60, 3, 0)
	l.now = func() time.Time { return now }
	for range 3 {
		ok, _ := l.Allow("192.0.2.1")
		require.True(t, ok)
	}
	ok, retry := l.Allow("192.0.2.1")
	require.False(t, ok, "past the burst")
	require.Equal(t, time.Second, retry, "one a second: retry in a second")
	ok, _ = l.Allow("192.0.2.2")
	require.True(t, ok, "another source has its own bucket")
	now = now.Add(time.Second)
	ok, _ = l.Allow("192.0.2.1")
	require.True(t, ok, "a second later, one more")
	require.EqualValues(t, 1, l.Denied())
}

func TestLimiterKeepsBoundedMemoryAndLimitsTheOverflowTogether(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	l := NewLimiter(1, 1, 2)
	l.now = func() time.Time { return now }
	for _, k := range []string{"a", "b"} {
		ok, _ := l.Allow(k)
		require.True(t, ok)
	}
	ok, _ := l.Allow("c")
	require.True(t, ok, "past the keys tracked, the shared bucket has a token")
	ok, _ = l.Allow("d")
	require.False(t, ok, "and the overflowing sources share it")
	require.LessOrEqual(t, len(l.buckets), 3)
	now = now.Add(2 * time.Minute)
	ok, _ = l.Allow("e")
	require.True(t, ok, "refilled buckets are forgotten to make room")
}

func TestSourceKeyGroupsAnIPv6SubscriberByTheir64(t *testing.T) {
	require.Equal(t, "192.0.2.7", SourceKey("192.0.2.7"))
	require.Equal(t, "192.0.2.7", SourceKey("::ffff:192.0.2.7"))
	require.Equal(t, "2001:db8:1:2::/64", SourceKey("2001:db8:1:2:aaaa::1"))
	require.Equal(t, SourceKey("2001:db8:1:2::1"), SourceKey("2001:db8:1:2:ffff::9"))
	require.Equal(t, "@", SourceKey("@"), "not an address: as it is")
}
