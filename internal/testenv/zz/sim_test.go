package zz

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/internal/testenv"
)

const page = `<html><body><script>
window.result = (async () => {
  const s = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}});
  const sfu = new RTCPeerConnection(); const pub = new RTCPeerConnection();
  sfu.onicecandidate = e => e.candidate && pub.addIceCandidate(e.candidate);
  pub.onicecandidate = e => e.candidate && sfu.addIceCandidate(e.candidate);
  sfu.addTransceiver('video', {direction: 'recvonly'});
  const o = await sfu.createOffer();
  await sfu.setLocalDescription(o);
  let sdp = o.sdp.replace(/(m=video[^\r]*\r\n(?:[^m][^\r]*\r\n)*)/, m => m + 'a=rid:l recv\r\na=rid:h recv\r\na=simulcast:recv l;h\r\n');
  await pub.setRemoteDescription({type: 'offer', sdp: sdp});
  const tr = pub.getTransceivers()[0];
  tr.direction = 'sendonly';
  await tr.sender.replaceTrack(s.getVideoTracks()[0]);
  tr.sender.setStreams(s);
  const snd = tr.sender;
  const p = snd.getParameters();
  const before = JSON.stringify(p.encodings);
  if (p.encodings.length === 2) { p.encodings[0].scaleResolutionDownBy = 2; p.encodings[0].maxBitrate = 200000; p.encodings[1].scaleResolutionDownBy = 1; p.encodings[1].maxBitrate = 900000; await snd.setParameters(p); }
  const a = await pub.createAnswer(); await pub.setLocalDescription(a);
  await sfu.setRemoteDescription(a);
  await new Promise(r => setTimeout(r, 4000));
  const out = [];
  (await pub.getStats()).forEach(r => { if (r.type === 'outbound-rtp') out.push(r.rid + ':' + r.frameWidth + 'x' + r.frameHeight + ':' + r.packetsSent); });
  const inn = [];
  (await sfu.getStats()).forEach(r => { if (r.type === 'inbound-rtp') inn.push(r.ssrc + ':' + r.frameWidth + ':' + r.packetsReceived); });
  return a.sdp.split('\r\n').filter(l => l.startsWith('a=') && (l.includes('rid') || l.includes('simulcast') || l.includes('send'))).join(' ; ') + ' ||| ' + sfu.connectionState + ' ' + before + ' | ' + a.sdp.split('\r\n').filter(l => l.includes('rid') || l.includes('simulcast')).join(' ; ') + ' | out ' + out.join(',') + ' | in ' + inn.join(',');
})().catch(e => 'ERR ' + e);
</script></body></html>`

func TestSim(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "text/html"); w.Write([]byte(page)) }))
	defer srv.Close()
	b := testenv.StartBrowser(t)
	tab := b.Tab(t)
	tab.Go(srv.URL)
	time.Sleep(6 * time.Second)
	t.Log(testenv.Eval[string](tab, `window.result`))
}
