package ingest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDedupeRemembersTheLastNKeysAtLeastAcrossGenerations(t *testing.T) {
	const n = 100
	d := newDedupe(n)
	key := func(i int) dedupeKey { return dedupeKey{uint64(i % 7), uint64(i)} }
	var flags []bool
	for i := range 1000 {
		flags = d.mark([]dedupeKey{key(i)}, flags)
		require.Equal(t, []bool{true}, flags, "key %d is new", i)
		// the last n keys are all still known, as stored and as seen
		for back := range n {
			if j := i - back; j >= 0 {
				require.Equal(t, []bool{false}, d.mark([]dedupeKey{key(j)}, nil), "key %d after %d", j, i)
				require.Equal(t, []bool{true}, d.seen([]dedupeKey{key(j)}, nil))
			}
		}
		require.LessOrEqual(t, len(d.cur)+len(d.prev), 2*n)
	}
	require.Equal(t, []bool{false}, d.seen([]dedupeKey{key(0)}, nil), "a key 1,000 back is forgotten")
}
