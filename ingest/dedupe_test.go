package ingest

import (
	"math/rand/v2"
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

// refDedupe is dedupe without the per-stream shortcut: two generations
// looked up for every key.
type refDedupe struct {
	n         int
	cur, prev map[dedupeKey]struct{}
}

func (d *refDedupe) has(k dedupeKey) bool {
	_, a := d.cur[k]
	_, b := d.prev[k]
	return a || b
}

func (d *refDedupe) mark(k dedupeKey) bool {
	if d.has(k) {
		return false
	}
	if len(d.cur) >= d.n {
		d.prev, d.cur = d.cur, map[dedupeKey]struct{}{}
	}
	d.cur[k] = struct{}{}
	return true
}

func TestDedupeAnswersAsLookingEveryKeyUpWouldOnRandomDeliveries(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		n := 20 + rng.IntN(200)
		d := newDedupe(n)
		ref := &refDedupe{n: n, cur: map[dedupeKey]struct{}{}}
		streams := 1 + rng.IntN(3*n) // past n too: the shortcut's own bound
		clock := make([]int64, streams)
		var sent []dedupeKey
		for i := range 5000 {
			var k dedupeKey
			s := rng.IntN(streams)
			switch r := rng.IntN(10); {
			case r < 6: // the stream's next reading
				clock[s] += 1 + int64(rng.IntN(3))
				k = dedupeKey{uint64(s), uint64(clock[s])}
			case r < 8 && len(sent) > 0: // a redelivery
				k = sent[rng.IntN(len(sent))]
			default: // a late reading, or a clock set back
				k = dedupeKey{uint64(s), uint64(clock[s] - int64(rng.IntN(50)))}
			}
			sent = append(sent, k)
			require.Equal(t, []bool{ref.has(k)}, d.seen([]dedupeKey{k}, nil), "seed %d delivery %d: seen", seed, i)
			require.Equal(t, []bool{ref.mark(k)}, d.mark([]dedupeKey{k}, nil), "seed %d delivery %d: mark", seed, i)
			require.LessOrEqual(t, len(d.newest), n)
		}
	}
}
