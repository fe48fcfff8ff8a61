package telehealth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/rtctest"
)

func TestTheSFUForwardsMediaBetweenParticipants(t *testing.T) {
	_, base := sfuServer(t)
	api := rtctest.API(t)
	alice := rtctest.Join(t, api, wsURL(base, "v1", "alice"), "alice", nil)
	bob := rtctest.Join(t, api, wsURL(base, "v1", "bob"), "bob", nil)
	alice.Send(300)
	bob.Send(300)

	t.Run("two participants receive each other's audio and video", func(t *testing.T) {
		alice.WaitFor("bob", "video", 100, 15*time.Second)
		alice.WaitFor("bob", "audio", 50, 15*time.Second)
		bob.WaitFor("alice", "video", 100, 15*time.Second)
		bob.WaitFor("alice", "audio", 50, 15*time.Second)
		for _, p := range []*rtctest.Participant{alice, bob} {
			for _, k := range []string{"audio", "video"} {
				other := map[string]string{"alice": "bob", "bob": "alice"}[p.ID]
				require.Zero(t, p.From(other, k).Bad.Load(), "%s got corrupt %s payloads", p.ID, k)
			}
			require.Zero(t, p.From(p.ID, "video").Packets.Load(), "no one receives their own media")
		}
	})

	carol := rtctest.Join(t, api, wsURL(base, "v1", "carol"), "carol", nil)
	carol.Send(300)
	t.Run("a third participant receives both, and both receive the third", func(t *testing.T) {
		carol.WaitFor("alice", "video", 100, 15*time.Second)
		carol.WaitFor("bob", "video", 100, 15*time.Second)
		carol.WaitFor("alice", "audio", 50, 15*time.Second)
		alice.WaitFor("carol", "video", 100, 15*time.Second)
		bob.WaitFor("carol", "audio", 50, 15*time.Second)
	})

	t.Run("a participant whose socket drops rejoins and media resumes", func(t *testing.T) {
		bob.Close()
		// Alice stops getting Bob's media.
		time.Sleep(500 * time.Millisecond)
		before := alice.From("bob", "video").Packets.Load()
		time.Sleep(500 * time.Millisecond)
		require.LessOrEqual(t, alice.From("bob", "video").Packets.Load()-before, int64(5), "Bob has left")
		bob2 := rtctest.Join(t, api, wsURL(base, "v1", "bob"), "bob", nil)
		bob2.Send(300)
		bob2.WaitFor("alice", "video", 100, 15*time.Second)
		bob2.WaitFor("carol", "audio", 50, 15*time.Second)
		after := alice.From("bob", "video").Packets.Load()
		// Alice's receiver for Bob is a new track: count on it afresh.
		require.Eventually(t, func() bool { return alice.From("bob", "video").Packets.Load() > after+100 }, 15*time.Second, 50*time.Millisecond)
	})

	t.Run("an ICE restart keeps the media flowing", func(t *testing.T) {
		carol.Write(rtctest.Restart)
		before := carol.From("alice", "video").Packets.Load()
		require.Eventually(t, func() bool { return carol.From("alice", "video").Packets.Load() > before+150 }, 15*time.Second, 50*time.Millisecond)
	})
}
