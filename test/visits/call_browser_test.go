package visits_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// watchBanner notes in the page whether the reconnecting banner is ever
// shown (it may come and go between two polls of a loaded machine).
const watchBanner = `(() => { window.sawBanner = false; const b = document.querySelector('#reconnect-banner');
	new MutationObserver(() => { if (!b.hidden && b.textContent.includes('Reconnecting')) window.sawBanner = true }).observe(b, {attributes: true, childList: true}); return true })()`

// visible is a JavaScript predicate: the element exists and is shown.
func visible(selector string) string {
	return `(() => { const e = document.querySelector(` + harness.JSString(selector) + `); return !!e && !e.hidden && e.offsetHeight > 0 })()`
}

// TestAVisitOfThreeInThreeBrowsers runs one visit with three headless
// Chromiums (tabs of one browser process, each its own browser context):
// the clinician, the patient and an invited interpreter, through the real
// service and its SFU, with fake cameras and microphones.
func TestAVisitOfThreeInThreeBrowsers(t *testing.T) {
	t.Parallel()
	s, browser, doc, pt, visit := visitInTwoBrowsers(t)
	var link httpapi.SignInLink
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/visits/"+visit+"/invite", s.Clinician(app.DevClinician),
		map[string]string{"subject": "interp-es", "role": "interpreter"}, &link)
	it := browser.Tab(t)
	it.Go(link.URL)
	it.Wait(`document.querySelector('#media-check') && document.querySelector('#media-check').textContent.startsWith('Camera working')`, 20*time.Second)

	t.Run("the patient waits in the waiting room, seen by no one, until the clinician admits them", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		click(pt, "#join-visit")
		pt.Wait(`document.querySelector('#call-status').textContent.includes('You are in the waiting room. Your clinician is in the visit')`, 15*time.Second)
		doc.Wait(`document.querySelector('#waiting-list [data-admit="sim-patient-001"]')`, 15*time.Second)
		require.Contains(t, testenv.Eval[string](doc, `document.querySelector('#waiting-list').textContent`), "(patient) is waiting")
		// Enforced by the server: no connection for the patient, no media
		// either way.
		require.True(t, testenv.Eval[bool](pt, `window.vitalwire.call.pc === null`), "the waiting patient has a peer connection")
		time.Sleep(time.Second)
		require.Zero(t, testenv.Eval[int](doc, `document.querySelectorAll('#remote-videos video').length`), "the clinician sees the waiting patient")
		var v httpapi.VisitView
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/visits/"+visit, s.Clinician(app.DevClinician), nil, &v)
		require.Len(t, v.Connected, 1, "only the clinician is in the call")
		require.Len(t, v.Waiting, 1)
		require.Equal(t, "sim-patient-001", v.Waiting[0].Subject)
		require.Empty(t, harness.Axe(t, pt), "serious accessibility violations in the waiting room")
		require.Empty(t, harness.Axe(t, doc), "serious accessibility violations with someone waiting")
		pt.Screenshot("waiting-room-patient")
		doc.Screenshot("waiting-room-clinician")

		// The clinician admits with the keyboard.
		harness.TabTo(t, doc, `#waiting-list [data-admit="sim-patient-001"]`)
		doc.Key("\r")
		remoteDecoding(t, doc)
		remoteDecoding(t, pt)
		pt.Wait(`document.querySelector('#call-status').textContent.includes('In your visit with dev-clinician')`, 10*time.Second)
		doc.Wait(`document.querySelector('#waiting-list').textContent.includes('No one is waiting')`, 5*time.Second)
		admits := 0
		for _, e := range s.Audit(t, "sim-patient-001") {
			if e.Actor == app.DevClinician && strings.HasPrefix(e.Action, "WS admit") && e.Outcome == "allowed" {
				admits++
			}
		}
		require.Equal(t, 1, admits, "the admission is audited")
		doc.Screenshot("waiting-room-admitted")
	})

	t.Run("a dropped signalling socket shows reconnecting, then the media comes back", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		testenv.Eval[bool](pt, watchBanner)
		testenv.Eval[bool](pt, `(window.vitalwire.call.ws.close(), true)`)
		pt.Wait(`window.sawBanner`, 10*time.Second)
		pt.Screenshot("reconnecting-socket")
		pt.Wait(`document.querySelector('#reconnect-banner').hidden`, 20*time.Second)
		remoteDecoding(t, pt)
		remoteDecoding(t, doc)
	})

	t.Run("a peer connection closed under the page shows reconnecting, then the media comes back", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		testenv.Eval[bool](pt, watchBanner)
		testenv.Eval[bool](pt, `(window.vitalwire.call.pc.close(), true)`)
		pt.Wait(`window.sawBanner`, 10*time.Second)
		pt.Screenshot("reconnecting-peer-connection")
		pt.Wait(`document.querySelector('#reconnect-banner').hidden`, 20*time.Second)
		remoteDecoding(t, pt)
		remoteDecoding(t, doc)
		pt.Screenshot("reconnected")
	})

	t.Run("an interpreter waits too, and once admitted sees and hears both", func(t *testing.T) {
		doc, it := doc.For(t), it.For(t)
		click(it, "#join-visit")
		it.Wait(`document.querySelector('#call-status').textContent.includes('waiting room')`, 15*time.Second)
		doc.Wait(`document.querySelector('#waiting-list [data-admit="interp-es"]')`, 15*time.Second)
		click(doc, `#waiting-list [data-admit="interp-es"]`)
		it.Wait(`document.querySelectorAll('#remote-videos video').length === 2`, 20*time.Second)
		remoteDecoding(t, it)
		doc.Wait(`document.querySelectorAll('#remote-videos video').length === 2`, 20*time.Second)
	})

	t.Run("the clinician shares their screen by keyboard: the others see it large, and it stops cleanly", func(t *testing.T) {
		doc, pt, it := doc.For(t), pt.For(t), it.For(t)
		harness.TabTo(t, doc, "#share-toggle")
		doc.Key("\r")
		for _, tab := range []*testenv.Tab{pt, it} {
			screenDecoding(t, tab)
			require.Greater(t, testenv.Eval[int](tab, `document.querySelector('#screen-share video').offsetWidth`),
				testenv.Eval[int](tab, `document.querySelector('#remote-videos video').offsetWidth`), "the screen is shown larger than the cameras")
		}
		require.Contains(t, testenv.Eval[string](pt, `document.querySelector('#screen-share figcaption').textContent`), "dev-clinician's screen")
		require.Empty(t, harness.Axe(t, pt), "serious accessibility violations with a screen shared")
		pt.Screenshot("screen-share-received")
		doc.Screenshot("screen-share-sending")

		doc.Key("\r") // the focus is still on the share button
		for _, tab := range []*testenv.Tab{pt, it} {
			tab.Wait(`document.querySelector('#screen-share').hidden && !document.querySelector('#screen-share figure')`, 10*time.Second)
			remoteDecoding(t, tab) // the cameras go on
		}
		require.Equal(t, "false", testenv.Eval[string](doc, `document.querySelector('#share-toggle').getAttribute('aria-pressed')`))
		require.True(t, testenv.Eval[bool](doc, `window.vitalwire.call.screen === null`))
		pt.Screenshot("screen-share-stopped")
	})

	t.Run("the patient shares their screen only while the clinician allows it", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		require.False(t, testenv.Eval[bool](pt, visible("#share-toggle")), "the patient is offered a share not allowed")
		// The server refuses it too.
		testenv.Eval[bool](pt, `(window.vitalwire.call.send({type: 'add_track', kind: 'video', track: 'x', screen: true}), true)`)
		pt.Wait(`document.querySelector('#call-status').textContent.includes('the clinician has not allowed it')`, 5*time.Second)

		click(doc, "#allow-share-toggle")
		pt.Wait(visible("#share-toggle"), 5*time.Second)
		harness.TabTo(t, pt, "#share-toggle")
		pt.Key("\r")
		screenDecoding(t, doc)
		require.Contains(t, testenv.Eval[string](doc, `document.querySelector('#screen-share figcaption').textContent`), "Simulated Patient 1's screen")
		doc.Screenshot("screen-share-from-patient")
		click(doc, "#allow-share-toggle") // no longer allowed: the share ends
		doc.Wait(`document.querySelector('#screen-share').hidden`, 10*time.Second)
		pt.Wait(`!(`+visible("#share-toggle")+`) && window.vitalwire.call.screen === null`, 10*time.Second)
	})

	t.Run("with three in the call, the interpreter's mute is heard as silence by the other two", func(t *testing.T) {
		doc, pt, it := doc.For(t), pt.For(t), it.For(t)
		// The audio energy each receives from the interpreter alone (the
		// inbound stream of the interpreter's audio track).
		fromIt := `(() => { const v = document.querySelector('#remote-videos figure[data-subject="interp-es"] video'); const id = v.srcObject.getAudioTracks()[0].id;
			return window.vitalwire.call.pc.getStats().then(s => { let e = 0; s.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.trackIdentifier === id) e += r.totalAudioEnergy || 0 }); return e }) })()`
		over := func(tab *testenv.Tab, d time.Duration) float64 {
			first := testenv.Eval[float64](tab, fromIt)
			time.Sleep(d)
			return testenv.Eval[float64](tab, fromIt) - first
		}
		before := map[*testenv.Tab]float64{doc: over(doc, 2*time.Second), pt: over(pt, 2*time.Second)}
		click(it, "#mic-toggle")
		for _, tab := range []*testenv.Tab{doc, pt} {
			tab.Wait(`document.querySelector('#remote-videos figure[data-subject="interp-es"]').classList.contains('muted')`, 10*time.Second)
		}
		for _, tab := range []*testenv.Tab{doc, pt} {
			require.Greater(t, before[tab], 0.0, "the interpreter is heard before the mute")
			var muted float64
			require.Eventually(t, func() bool { muted = over(tab, 2*time.Second); return muted < before[tab]/100 }, 20*time.Second, 100*time.Millisecond,
				"silence from the interpreter while muted (last %.6f, before %.6f)", muted, before[tab])
			t.Logf("audio energy from the interpreter over 2 s: %.6f before, %.6f muted", before[tab], muted)
		}
		doc.Screenshot("three-interpreter-muted")
		click(it, "#mic-toggle")
		for _, tab := range []*testenv.Tab{doc, pt} {
			require.Eventually(t, func() bool { return over(tab, time.Second) > 0 }, 15*time.Second, 100*time.Millisecond, "sound after unmute")
		}
	})

	t.Run("with three in the call, camera off shows both others the placeholder, and chat reaches both", func(t *testing.T) {
		doc, pt, it := doc.For(t), pt.For(t), it.For(t)
		click(pt, "#camera-toggle")
		for _, tab := range []*testenv.Tab{doc, it} {
			fig := `document.querySelector('#remote-videos figure[data-subject="sim-patient-001"]')`
			tab.Wait(fig+` && `+fig+`.classList.contains('camera-off') && !`+fig+`.querySelector('.placeholder').hidden && `+fig+`.querySelector('video').offsetHeight === 0`, 10*time.Second)
		}
		it.Screenshot("three-patient-camera-off")
		click(pt, "#camera-toggle")
		testenv.Eval[bool](it, `(document.querySelector('#chat-input').value = 'Interpreter here: la paciente dice que se siente mejor', true)`)
		click(it, "#chat-send")
		for _, tab := range []*testenv.Tab{doc, pt} {
			tab.Wait(`[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('la paciente dice'))`, 10*time.Second)
		}
		require.Empty(t, harness.Axe(t, it), "serious accessibility violations on the interpreter's page")
		pt.Screenshot("three-chat")
	})

	t.Run("the patient picks another microphone and speaker: the others still hear them, the sound goes to the speaker picked", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		require.Greater(t, testenv.Eval[int](pt, `document.querySelectorAll('#mic-select option').length`), 1, "the fake microphones are offered")
		require.Equal(t, "fake_device_0", testenv.Eval[string](pt, `document.querySelector('#camera-select').selectedOptions[0].textContent`))
		testenv.Eval[bool](pt, `(() => { const s = document.querySelector('#mic-select'); s.value = [...s.options].find(o => o.textContent === 'Fake Audio Input 1').value; s.dispatchEvent(new Event('change')); return true })()`)
		pt.Wait(`window.vitalwire.call.pc.getSenders().some(s => s.track && s.track.kind === 'audio' && s.track.label === 'Fake Audio Input 1')`, 10*time.Second)
		fromPt := `(() => { const v = document.querySelector('#remote-videos figure[data-subject="sim-patient-001"] video'); const id = v.srcObject.getAudioTracks()[0].id;
			return window.vitalwire.call.pc.getStats().then(s => { let e = 0; s.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.trackIdentifier === id) e += r.totalAudioEnergy || 0 }); return e }) })()`
		require.Eventually(t, func() bool {
			first := testenv.Eval[float64](doc, fromPt)
			time.Sleep(time.Second)
			return testenv.Eval[float64](doc, fromPt) > first
		}, 15*time.Second, 100*time.Millisecond, "the clinician hears the patient's new microphone")
		testenv.Eval[bool](pt, `(() => { const s = document.querySelector('#speaker-select'); s.value = [...s.options].find(o => o.textContent === 'Fake Audio Output 1').value; s.dispatchEvent(new Event('change')); return true })()`)
		pt.Wait(`[...document.querySelectorAll('#remote-videos video')].every(v => v.sinkId === document.querySelector('#speaker-select').value)`, 10*time.Second)
		remoteDecoding(t, doc)
		require.Empty(t, harness.Axe(t, pt), "serious accessibility violations with the device pickers")
		pt.Screenshot("device-pickers")
	})
}

// screenDecoding waits until the page shows a screen share that is
// decoding: a size, and frames rising.
func screenDecoding(t *testing.T, tab *testenv.Tab) {
	t.Helper()
	v := `document.querySelector('#screen-share video')`
	shown := `!document.querySelector('#screen-share').hidden && ` + v + ` && ` + v + `.videoWidth > 0`
	deadline := time.Now().Add(30 * time.Second)
	for !testenv.Eval[bool](tab, `Boolean(`+shown+`)`) {
		if time.Now().After(deadline) {
			t.Logf("inbound video: %s", testenv.Eval[string](tab, `window.vitalwire.call.pc.getStats().then(s => { const out = []; s.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') out.push([r.trackIdentifier, r.packetsReceived, r.framesDecoded, r.keyFramesDecoded, r.pliCount, r.nackCount, r.frameWidth].join(' ')) }); return out.join(' | ') })`))
			tab.Screenshot("screen-not-shown")
			t.Fatal("no screen share shown")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first := testenv.Eval[int](tab, v+`.getVideoPlaybackQuality().totalVideoFrames`)
	time.Sleep(time.Second)
	second := testenv.Eval[int](tab, v+`.getVideoPlaybackQuality().totalVideoFrames`)
	t.Logf("screen share %dx%d, frames %d then %d", testenv.Eval[int](tab, v+`.videoWidth`), testenv.Eval[int](tab, v+`.videoHeight`), first, second)
	require.Greater(t, second, first, "the screen share's frames rise")
}
