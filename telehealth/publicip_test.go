package telehealth

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// The server's own candidates are what a browser dials: behind a 1:1 NAT
// they must carry the public address, not the private one.
func TestPublicIPsReplaceTheServersHostAddress(t *testing.T) {
	for _, tc := range []struct {
		name, public, want string
	}{
		{"a public address replaces every private one", "203.0.113.7", "203.0.113.7"},
		{"a public/private pair replaces that private address", "203.0.113.8/127.0.0.1", "203.0.113.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSFU(Config{LoopbackOnly: true, PublicIPs: []string{tc.public}}, zerolog.Nop())
			require.NoError(t, err)
			pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
			require.NoError(t, err)
			t.Cleanup(func() { pc.Close() })
			_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
			require.NoError(t, err)
			offer, err := pc.CreateOffer(nil)
			require.NoError(t, err)
			gathered := webrtc.GatheringCompletePromise(pc)
			require.NoError(t, pc.SetLocalDescription(offer))
			select {
			case <-gathered:
			case <-time.After(10 * time.Second):
				t.Fatal("candidates not gathered within 10 s")
			}
			sdp := pc.LocalDescription().SDP
			require.Contains(t, sdp, " "+tc.want+" ", "the candidate announces the public address")
			require.NotContains(t, sdp, " 127.0.0.1 ", "the private address stays private")
		})
	}
}

func TestABadPublicIPFailsAtStart(t *testing.T) {
	for _, bad := range []string{"", "example.com", "203.0.113.7/private", "203.0.113.7/10.0.0.1/x"} {
		_, err := NewSFU(Config{PublicIPs: []string{bad}}, zerolog.Nop())
		require.Error(t, err, "%q", bad)
	}
}
