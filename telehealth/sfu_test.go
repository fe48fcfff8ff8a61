package telehealth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTheSFUForwardsMediaBetweenParticipants(t *testing.T) {
	_, base := sfuServer(t)
	api := clientAPI(t)
	alice := join(t, api, wsURL(base, "v1", "alice"), "alice", nil)
	bob := join(t, api, wsURL(base, "v1", "bob"), "bob", nil)
	alice.send(300)
	bob.send(300)

	t.Run("two participants receive each other's audio and video", func(t *testing.T) {
		alice.waitFor("bob", "video", 100, 15*time.Second)
		alice.waitFor("bob", "audio", 50, 15*time.Second)
		bob.waitFor("alice", "video", 100, 15*time.Second)
		bob.waitFor("alice", "audio", 50, 15*time.Second)
		for _, p := range []*participant{alice, bob} {
			for _, k := range []string{"audio", "video"} {
				other := map[string]string{"alice": "bob", "bob": "alice"}[p.id]
				require.Zero(t, p.from(other, k).bad.Load(), "%s got corrupt %s payloads", p.id, k)
			}
			require.Zero(t, p.from(p.id, "video").packets.Load(), "no one receives their own media")
		}
	})

	carol := join(t, api, wsURL(base, "v1", "carol"), "carol", nil)
	carol.send(300)
	t.Run("a third participant receives both, and both receive the third", func(t *testing.T) {
		carol.waitFor("alice", "video", 100, 15*time.Second)
		carol.waitFor("bob", "video", 100, 15*time.Second)
		carol.waitFor("alice", "audio", 50, 15*time.Second)
		alice.waitFor("carol", "video", 100, 15*time.Second)
		bob.waitFor("carol", "audio", 50, 15*time.Second)
	})

	t.Run("a participant whose socket drops rejoins and media resumes", func(t *testing.T) {
		bob.close()
		// Alice stops getting Bob's media.
		time.Sleep(500 * time.Millisecond)
		before := alice.from("bob", "video").packets.Load()
		time.Sleep(500 * time.Millisecond)
		require.LessOrEqual(t, alice.from("bob", "video").packets.Load()-before, int64(5), "Bob has left")
		bob2 := join(t, api, wsURL(base, "v1", "bob"), "bob", nil)
		bob2.send(300)
		bob2.waitFor("alice", "video", 100, 15*time.Second)
		bob2.waitFor("carol", "audio", 50, 15*time.Second)
		after := alice.from("bob", "video").packets.Load()
		// Alice's receiver for Bob is a new track: count on it afresh.
		require.Eventually(t, func() bool { return alice.from("bob", "video").packets.Load() > after+100 }, 15*time.Second, 50*time.Millisecond)
	})

	t.Run("an ICE restart keeps the media flowing", func(t *testing.T) {
		carol.write(restartMsg)
		before := carol.from("alice", "video").packets.Load()
		require.Eventually(t, func() bool { return carol.from("alice", "video").packets.Load() > before+150 }, 15*time.Second, 50*time.Millisecond)
	})
}
