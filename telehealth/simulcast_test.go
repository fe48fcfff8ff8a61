package telehealth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/telehealth"
)

func TestASubscriberLosingPacketsGetsTheLowLayerAndNoOneElseDoes(t *testing.T) {
	// Alice sends her camera as simulcast; Carol's network loses a
	// quarter of what the SFU sends her; Bob's loses nothing.
	drops := &telehealth.LossInjection{}
	drops.Set("carol", 0.25)
	_, base := sfuServerConfig(t, telehealth.Config{LoopbackOnly: true, DropTo: drops})
	api := rtctest.API(t)
	alice := rtctest.JoinWith(t, api, wsURL(base, "vs", "alice"), "alice", nil, rtctest.Options{Simulcast: true})
	bob := rtctest.Join(t, api, wsURL(base, "vs", "bob"), "bob", nil)
	carol := rtctest.Join(t, api, wsURL(base, "vs", "carol"), "carol", nil)
	for _, p := range []*rtctest.Participant{alice, bob, carol} {
		p.Send(600)
	}
	low := "video" + rtctest.LowLayer

	t.Run("both start on the high layer", func(t *testing.T) {
		bob.WaitFor("alice", "video", 100, 15*time.Second)
		carol.WaitFor("alice", "video", 30, 15*time.Second)
	})

	t.Run("the lossy subscriber goes down to the low layer, at a keyframe the SFU asked for", func(t *testing.T) {
		carol.WaitFor("alice", low, 60, 15*time.Second)
		// Settled: only the low layer reaches Carol now.
		time.Sleep(500 * time.Millisecond)
		high0, low0 := carol.From("alice", "video").Packets.Load(), carol.From("alice", low).Packets.Load()
		time.Sleep(2 * time.Second)
		require.Zero(t, carol.From("alice", "video").Packets.Load()-high0, "carol still gets the high layer")
		require.Positive(t, carol.From("alice", low).Packets.Load()-low0, "carol gets the low layer")
		require.Zero(t, carol.From("alice", low).Bad.Load())
	})

	t.Run("the healthy subscriber keeps the high layer and loses nothing", func(t *testing.T) {
		rc := bob.From("alice", "video")
		got0, sent0 := rc.Packets.Load(), alice.Sent("video")
		time.Sleep(3 * time.Second)
		sent := alice.Sent("video") - sent0
		time.Sleep(300 * time.Millisecond) // in flight
		got := rc.Packets.Load() - got0
		t.Logf("bob got %d of alice's %d high-layer packets", got, sent)
		require.GreaterOrEqual(t, got, sent, "bob loses none of alice's video")
		require.Zero(t, bob.From("alice", low).Packets.Load(), "bob never got the low layer")
		require.Zero(t, rc.Bad.Load())
	})

	t.Run("once the lossy network recovers, the subscriber goes back up to the high layer", func(t *testing.T) {
		drops.Set("carol", 0)
		before := carol.From("alice", "video").Packets.Load()
		require.Eventually(t, func() bool { return carol.From("alice", "video").Packets.Load() > before+60 }, 20*time.Second, 100*time.Millisecond,
			"carol is back on the high layer")
	})
}
