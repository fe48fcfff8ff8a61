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
		testenv.Eval[bool](pt, `(window.vitalwire.call.ws.close(), true)`)
		pt.Wait(visible("#reconnect-banner"), 5*time.Second)
		require.Contains(t, testenv.Eval[string](pt, `document.querySelector('#reconnect-banner').textContent`), "Reconnecting")
		pt.Screenshot("reconnecting-socket")
		pt.Wait(`document.querySelector('#reconnect-banner').hidden`, 20*time.Second)
		remoteDecoding(t, pt)
		remoteDecoding(t, doc)
	})

	t.Run("a peer connection closed under the page shows reconnecting, then the media comes back", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		testenv.Eval[bool](pt, `(window.vitalwire.call.pc.close(), true)`)
		pt.Wait(visible("#reconnect-banner"), 5*time.Second)
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
}
