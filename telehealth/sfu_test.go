package telehealth_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/telehealth"
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

	t.Run("a participant adds a screen share and drops it: the others renegotiate", func(t *testing.T) {
		stop := carol.ShareScreen("screen", 200)
		alice.WaitFor("carol", "screen", 30, 15*time.Second)
		require.Zero(t, alice.From("carol", "screen").Bad.Load())
		stop()
		time.Sleep(time.Second)
		before := alice.From("carol", "screen").Packets.Load()
		time.Sleep(time.Second)
		require.Equal(t, before, alice.From("carol", "screen").Packets.Load(), "the share has stopped")
		before = alice.From("carol", "video").Packets.Load()
		require.Eventually(t, func() bool { return alice.From("carol", "video").Packets.Load() > before+30 }, 10*time.Second, 50*time.Millisecond, "the camera still flows")
	})

	t.Run("an ICE restart keeps the media flowing", func(t *testing.T) {
		carol.Write(rtctest.Restart)
		before := carol.From("alice", "video").Packets.Load()
		require.Eventually(t, func() bool { return carol.From("alice", "video").Packets.Load() > before+150 }, 15*time.Second, 50*time.Millisecond)
	})
}

func TestAParticipantBehindNATIsRelayedByTheEmbeddedTURNServer(t *testing.T) {
	creds := telehealth.NewTURNCredentials(nil, "", time.Hour)
	srv, err := telehealth.StartTURN(fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), creds, telehealth.TURNOptions{})
	require.NoError(t, err)
	defer srv.Close()
	creds.URLs = []string{"turn:" + srv.Addr + "?transport=udp"}
	base := sfuServerWith(t, telehealth.Config{LoopbackOnly: true, TURN: creds})
	api := rtctest.API(t)
	natted := rtctest.JoinWith(t, api, wsURL(base, "v1", "pat"), "pat", nil, rtctest.Options{RelayOnly: true})
	doc := rtctest.Join(t, api, wsURL(base, "v1", "doc"), "doc", nil)
	natted.Send(300)
	doc.Send(300)
	natted.WaitFor("doc", "video", 100, 20*time.Second)
	doc.WaitFor("pat", "video", 100, 20*time.Second)
	require.Equal(t, "relay", natted.LocalCandidateType(), "media went through the TURN relay")

	t.Run("a forged or expired TURN credential is refused", func(t *testing.T) {
		other := telehealth.NewTURNCredentials([]string{"turn:" + srv.Addr + "?transport=udp"}, "not-the-secret", time.Hour)
		expired := telehealth.NewTURNCredentials(creds.URLs, "", -time.Minute)
		for i, c := range []*telehealth.TURNCredentials{creds, other, expired} {
			ice := c.For("v1", "mallory")
			pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: []webrtc.ICEServer{ice}, ICETransportPolicy: webrtc.ICETransportPolicyRelay})
			require.NoError(t, err)
			_, err = pc.CreateDataChannel("x", nil)
			require.NoError(t, err)
			var relays atomic.Int32
			done := make(chan struct{})
			pc.OnICECandidate(func(c *webrtc.ICECandidate) {
				if c == nil {
					close(done)
				} else if c.Typ == webrtc.ICECandidateTypeRelay {
					relays.Add(1)
				}
			})
			offer, err := pc.CreateOffer(nil)
			require.NoError(t, err)
			require.NoError(t, pc.SetLocalDescription(offer))
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("gathering did not finish")
			}
			if i == 0 {
				require.NotZero(t, relays.Load(), "the server's own credential gets a relay")
			} else {
				require.Zero(t, relays.Load(), "no relay allocated")
			}
			pc.Close()
		}
	})
}

func TestTheServersMediaStaysInItsPortRange(t *testing.T) {
	lo := testenv.FreePort(t)
	base := sfuServerWith(t, telehealth.Config{LoopbackOnly: true, UDPPortMin: uint16(lo), UDPPortMax: uint16(lo + 20)})
	api := rtctest.API(t)
	a := rtctest.Join(t, api, wsURL(base, "v1", "a"), "a", nil)
	b := rtctest.Join(t, api, wsURL(base, "v1", "b"), "b", nil)
	a.Send(100)
	b.Send(100)
	a.WaitFor("b", "video", 20, 15*time.Second)
	b.WaitFor("a", "video", 20, 15*time.Second)
	for _, p := range []*rtctest.Participant{a, b} {
		port := p.RemotePort()
		require.GreaterOrEqual(t, port, lo, "the server's media port")
		require.LessOrEqual(t, port, lo+20)
	}
}
