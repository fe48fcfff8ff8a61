package visits_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// audioEnergy sums the energy of the audio the page's call has received
// (WebRTC stats, inbound-rtp totalAudioEnergy): it stops rising while the
// sender is muted.
const audioEnergy = `window.vitalwire.call.pc.getStats().then(s => { let e = 0; s.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'audio') e += r.totalAudioEnergy || 0 }); return e })`

// energyOver is how much audio energy the page receives in d.
func energyOver(tab *testenv.Tab, d time.Duration) float64 {
	first := testenv.Eval[float64](tab, audioEnergy)
	time.Sleep(d)
	return testenv.Eval[float64](tab, audioEnergy) - first
}

func click(tab *testenv.Tab, selector string) {
	testenv.Eval[bool](tab, `document.querySelector(`+harness.JSString(selector)+`).click() || true`)
}

func TestCallControlsAndChatInTwoBrowsers(t *testing.T) {
	t.Parallel()
	s, _, doc, pt, visit := visitInTwoBrowsers(t)
	joinAndAdmit(t, doc, pt)
	remoteDecoding(t, doc)
	remoteDecoding(t, pt)

	t.Run("every control is a labelled button reachable by keyboard, and the pages are axe clean", func(t *testing.T) {
		for _, tab := range []*testenv.Tab{doc.For(t), pt.For(t)} {
			for _, id := range []string{"#mic-toggle", "#camera-toggle", "#selfview-toggle", "#leave-call", "#chat-input"} {
				require.True(t, testenv.Eval[bool](tab, `(() => { const b = document.querySelector(`+harness.JSString(id)+`); return !!b && (b.tagName === 'BUTTON' || b.tagName === 'INPUT') && (b.tagName !== 'BUTTON' || b.getAttribute('aria-label') !== null || b.textContent.trim() !== '') })()`), "%s is a labelled control", id)
			}
			for _, id := range []string{"#mic-toggle", "#camera-toggle", "#selfview-toggle"} {
				require.Equal(t, "false", testenv.Eval[string](tab, `document.querySelector(`+harness.JSString(id)+`).getAttribute('aria-pressed')`), id)
			}
			harness.TabTo(t, tab, "#mic-toggle")
			require.Empty(t, harness.Axe(t, tab), "serious accessibility violations with the call controls")
		}
	})

	t.Run("mute is heard as silence by the other side, and unmute brings the sound back", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		before := energyOver(doc, 2*time.Second)
		require.Greater(t, before, 0.0, "the clinician hears the patient before the mute")
		click(pt, "#mic-toggle")
		require.Equal(t, "true", testenv.Eval[string](pt, `document.querySelector('#mic-toggle').getAttribute('aria-pressed')`))
		doc.Wait(`document.querySelector('#remote-videos figure[data-subject="sim-patient-001"]').classList.contains('muted')`, 5*time.Second)
		time.Sleep(time.Second) // the audio in flight plays out
		muted := energyOver(doc, 2*time.Second)
		t.Logf("audio energy over 2 s: %.6f before the mute, %.6f muted", before, muted)
		require.Less(t, muted, before/100, "the clinician hears silence while the patient is muted")
		doc.Screenshot("controls-patient-muted")
		click(pt, "#mic-toggle")
		require.Eventually(t, func() bool { return energyOver(doc, time.Second) > 0 }, 10*time.Second, 100*time.Millisecond, "sound after unmute")
	})

	t.Run("camera off shows the other side a placeholder with the name, not a frozen frame", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		click(pt, "#camera-toggle")
		require.Equal(t, "true", testenv.Eval[string](pt, `document.querySelector('#camera-toggle').getAttribute('aria-pressed')`))
		fig := `document.querySelector('#remote-videos figure[data-subject="sim-patient-001"]')`
		doc.Wait(fig+`.classList.contains('camera-off') && !`+fig+`.querySelector('.placeholder').hidden && `+fig+`.querySelector('video').offsetHeight === 0`, 5*time.Second) // not shown: no frozen frame
		name := testenv.Eval[string](doc, fig+`.querySelector('.placeholder').textContent`)
		require.Contains(t, name, testenv.Eval[string](doc, `document.querySelector('h1').textContent.replace('Visit with ', '')`))
		doc.Screenshot("controls-patient-camera-off")
		click(pt, "#camera-toggle")
		doc.Wait(`!`+fig+`.classList.contains('camera-off') && `+fig+`.querySelector('video').offsetHeight > 0`, 5*time.Second)
	})

	t.Run("the self-view can be hidden and shown again", func(t *testing.T) {
		pt := pt.For(t)
		click(pt, "#selfview-toggle")
		require.True(t, testenv.Eval[bool](pt, `document.querySelector('#local-video').closest('figure').hidden`))
		pt.Screenshot("controls-self-view-hidden")
		click(pt, "#selfview-toggle")
		require.False(t, testenv.Eval[bool](pt, `document.querySelector('#local-video').closest('figure').hidden`))
	})

	t.Run("leaving ends the patient's part, not the visit, and rejoining restores media", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		click(pt, "#leave-call")
		doc.Wait(`!document.querySelector('#remote-videos figure[data-subject="sim-patient-001"]')`, 10*time.Second)
		pt.Wait(`document.querySelector('#rejoin-call') && !document.querySelector('#rejoin-call').hidden`, 5*time.Second)
		pt.Screenshot("controls-patient-left")
		var v struct {
			State string `json:"state"`
		}
		s.MustCall(t, 200, "GET", "/api/v1/visits/"+visit, s.Clinician(app.DevClinician), nil, &v)
		require.Equal(t, "in_progress", v.State, "leaving does not end the visit")
		click(pt, "#rejoin-call")
		remoteDecoding(t, doc)
		remoteDecoding(t, pt)
		pt.Screenshot("controls-patient-rejoined")
	})

	t.Run("chat messages reach everyone, are audited, and are in the Encounter after the end", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		testenv.Eval[bool](doc, `(document.querySelector('#chat-input').value = 'Can you hear me? <b>x</b>', true)`)
		click(doc, "#chat-send")
		pt.Wait(`[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('Can you hear me? <b>x</b>'))`, 5*time.Second)
		testenv.Eval[bool](pt, `(document.querySelector('#chat-input').value = 'No sound here, typing instead', true)`)
		click(pt, "#chat-send")
		doc.Wait(`[...document.querySelectorAll('#chat-log li')].some(li => li.textContent.includes('No sound here, typing instead'))`, 5*time.Second)
		pt.Screenshot("controls-chat-patient")
		doc.Screenshot("controls-chat-clinician")
		testenv.Eval[bool](doc, `(document.querySelector('#chat-input').value = 'x'.repeat(2001), true)`)
		click(doc, "#chat-send")
		doc.Wait(`document.querySelector('#chat-error').textContent.includes('at most 2000')`, 5*time.Second)

		chats := 0
		for _, e := range s.Audit(t, "sim-patient-001") {
			if strings.HasPrefix(e.Action, "WS chat") && e.Outcome == "allowed" {
				chats++
			}
		}
		require.Equal(t, 2, chats, "each chat message is audited")

		click(doc, "#end-visit")
		doc.Wait(`document.querySelector('#encounter-done')`, 15*time.Second)
		enc := fhirGet(t, s, s.Clinician(app.DevClinician), "/fhir/r4/Encounter/"+visit)
		div := enc["text"].(map[string]any)["div"].(string)
		require.Contains(t, div, "Can you hear me? &lt;b&gt;x&lt;/b&gt;")
		require.Contains(t, div, "No sound here, typing instead")
	})
}
