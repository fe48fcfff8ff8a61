package telehealth

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

func TestKeyframesAreFoundInVP8AndH264Payloads(t *testing.T) {
	vp8, h264 := strings.ToLower(webrtc.MimeTypeVP8), strings.ToLower(webrtc.MimeTypeH264)
	for _, c := range []struct {
		name    string
		mime    string
		payload []byte
		want    bool
	}{
		{"a VP8 keyframe's first packet, short descriptor", vp8, []byte{0x10, 0x00, 0x9d}, true},
		{"a VP8 inter frame", vp8, []byte{0x10, 0x01}, false},
		{"a VP8 keyframe's later packet", vp8, []byte{0x00, 0x00}, false},
		{"a VP8 keyframe with a 15-bit picture id, TL0PICIDX and TID", vp8, []byte{0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x00}, true},
		{"a VP8 inter frame with a 7-bit picture id", vp8, []byte{0x90, 0x80, 0x05, 0x01}, false},
		{"a VP8 descriptor cut short", vp8, []byte{0x90, 0x80}, false},
		{"an empty VP8 payload", vp8, nil, false},
		{"an H.264 IDR slice", h264, []byte{0x65}, true},
		{"an H.264 STAP-A with the SPS", h264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"an H.264 FU-A starting an IDR", h264, []byte{0x7c, 0x85}, true},
		{"an H.264 FU-A continuing an IDR", h264, []byte{0x7c, 0x05}, false},
		{"an H.264 non-IDR slice", h264, []byte{0x41}, false},
		{"another codec: any packet", "video/av1", []byte{0x00}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, keyframe(c.mime, c.payload))
		})
	}
}

func FuzzKeyframe(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x00})
	f.Add([]byte{0x78, 0x00, 0x02, 0x67, 0x42})
	f.Fuzz(func(t *testing.T, b []byte) {
		keyframe(strings.ToLower(webrtc.MimeTypeVP8), b)
		keyframe(strings.ToLower(webrtc.MimeTypeH264), b)
	})
}

func TestTheOfferNamesTheCamerasLayersOnce(t *testing.T) {
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n"
	got, err := mungeSimulcast(sdp, "1")
	require.NoError(t, err)
	require.Equal(t, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n"+
		"a=rid:l recv\r\na=rid:h recv\r\na=simulcast:recv l;h\r\na=recvonly\r\n", got)
	again, err := mungeSimulcast(got, "1")
	require.NoError(t, err)
	require.Equal(t, got, again, "an offer that names them already is left alone")
	_, err = mungeSimulcast(sdp, "7")
	require.Error(t, err)
}
