package visits_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// pickers is a JavaScript expression: the page's camera, microphone and
// speaker pickers, each a labelled <select> with the fake devices, and the
// self-view playing the camera.
const pickers = `(() => {
	const ok = id => { const s = document.querySelector('#' + id); return !!s && s.options.length > 0 && !!document.querySelector('label[for="' + id + '"]') && s.offsetHeight > 0 };
	const v = document.querySelector('#local-video');
	return ok('camera-select') && ok('mic-select') && ok('speaker-select') && v.videoWidth > 0;
})()`

func TestBothPagesOfferDevicesWithAPreviewBeforeJoining(t *testing.T) {
	t.Parallel()
	s, _, doc, pt, visit := openVisit(t, nil)

	t.Run("the clinician picks devices on a preview, and is not in the call until they join", func(t *testing.T) {
		doc := doc.For(t)
		doc.Wait(pickers, 15*time.Second)
		require.True(t, testenv.Eval[bool](doc, `!!document.querySelector('#join-call') && !window.vitalwire.call`), "the clinician is not in the call before joining")
		var v struct {
			Connected []any `json:"connected"`
		}
		s.MustCall(t, 200, "GET", "/api/v1/visits/"+visit, s.Clinician(app.DevClinician), nil, &v)
		require.Empty(t, v.Connected, "no one is in the call yet")
		// Another camera before joining: the preview shows the new
		// camera's track (a new one, live), and no error is shown.
		testenv.Eval[bool](doc, `(() => { window.__previewTrack = document.querySelector('#local-video').srcObject.getVideoTracks()[0].id; const s = document.querySelector('#camera-select'); s.selectedIndex = s.options.length - 1; s.dispatchEvent(new Event('change')); return true })()`)
		doc.Wait(`(() => { const t = document.querySelector('#local-video').srcObject.getVideoTracks()[0]; return !!t && t.id !== window.__previewTrack && t.readyState === 'live' && document.querySelector('#local-video').videoWidth > 0 })()`, 10*time.Second)
		require.Empty(t, testenv.Eval[string](doc, `[...document.querySelectorAll('p.error')].map(e => e.textContent).join('')`), "an error changing the camera")
		harness.TabTo(t, doc, "#join-call")
		require.Empty(t, harness.Axe(t, doc), "serious accessibility violations before joining")
		doc.Screenshot("prejoin-clinician")
	})

	t.Run("the patient picks devices on a preview before joining", func(t *testing.T) {
		pt := pt.For(t)
		pt.Wait(pickers, 15*time.Second)
		require.True(t, testenv.Eval[bool](pt, `!document.querySelector('#join-visit').disabled`))
		require.Empty(t, harness.Axe(t, pt), "serious accessibility violations before joining")
		pt.Screenshot("prejoin-patient")
	})

	t.Run("joining, both are in the call with the devices picked", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		doc.Key("\r") // on "Join the call"
		joinAndAdmit(t, doc, pt)
		remoteDecoding(t, pt)
		remoteDecoding(t, doc)
	})
}
