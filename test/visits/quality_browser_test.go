package visits_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/test/harness"
)

// badge is the connection-quality badge of the patient's video on the
// clinician's page, of the clinician's on the patient's, or of the page's
// own self-view.
const (
	patientBadge   = `document.querySelector('#remote-videos figure[data-subject="sim-patient-001"] .quality')`
	clinicianBadge = `document.querySelector('#remote-videos figure[data-subject="dev-clinician"] .quality')`
	selfBadge      = `document.querySelector('#local-video').closest('figure').querySelector('.quality')`
)

func quality(tab *testenv.Tab, badge string) string {
	return testenv.Eval[string](tab, `(() => { const b = `+badge+`; return b && !b.hidden ? b.dataset.quality + ' ' + b.textContent : '' })()`)
}

func TestAPoorConnectionShowsAsPoorToEveryone(t *testing.T) {
	t.Parallel()
	// The patient's network loses a quarter of the packets the SFU sends
	// them: really dropped on their connection, so that what their
	// browser reports is a real loss.
	drops := &telehealth.LossInjection{}
	drops.Set("sim-patient-001", 0.25)
	_, _, doc, pt, _ := visitInTwoBrowsersWith(t, func(cfg *app.Config) {
		cfg.Telehealth.DropTo = drops
	})
	joinAndAdmit(t, doc, pt)
	remoteDecoding(t, doc)

	t.Run("the patient's connection is poor on both pages, the clinician's good", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		doc.Wait(patientBadge+` && `+patientBadge+`.dataset.quality === 'poor'`, 20*time.Second)
		pt.Wait(selfBadge+`.dataset.quality === 'poor'`, 10*time.Second)
		doc.Wait(selfBadge+`.dataset.quality === 'good'`, 10*time.Second)
		pt.Wait(clinicianBadge+` && `+clinicianBadge+`.dataset.quality === 'good'`, 10*time.Second)
		require.Equal(t, "poor Connection: Poor", quality(doc, patientBadge))
		require.Equal(t, "poor Connection: Poor", quality(pt, selfBadge))
		require.Equal(t, "good Connection: Good", quality(doc, selfBadge))
		require.Equal(t, "good Connection: Good", quality(pt, clinicianBadge))

		warn := `(() => { const w = document.querySelector('#quality-warning'); return w.hidden ? '' : w.textContent })()`
		require.Contains(t, testenv.Eval[string](pt, warn), "Your connection is poor")
		require.Contains(t, testenv.Eval[string](doc, warn), "connection poor")
		require.NotContains(t, testenv.Eval[string](doc, warn), "Your connection")
		doc.Screenshot("quality-clinician-sees-patient-poor")
		pt.Screenshot("quality-patient-own-poor")
	})

	t.Run("both cameras go as simulcast, and the poor connection gets the low layer while the good one keeps the high", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		// Each page sends two layers: "l" at half the size and "h".
		sending := `window.vitalwire.call.pc.getStats().then(s => { const o = []; s.forEach(r => { if (r.type === 'outbound-rtp' && r.kind === 'video' && r.frameWidth) o.push(r.rid + ':' + r.frameWidth) }); return o.sort().join(' ') })`
		for _, tab := range []*testenv.Tab{doc, pt} {
			require.Eventually(t, func() bool { return testenv.Eval[string](tab, sending) == "h:640 l:320" }, 15*time.Second, 200*time.Millisecond,
				"layers sent: %s", testenv.Eval[string](tab, sending))
		}
		// What each page receives of the other's camera.
		width := `document.querySelector('#remote-videos video').videoWidth`
		pt.Wait(width+` === 320`, 20*time.Second)
		doc.Wait(width+` === 640`, 10*time.Second)
		time.Sleep(2 * time.Second)
		require.Equal(t, 320, testenv.Eval[int](pt, width), "the patient, on a poor connection, gets the clinician's low layer")
		require.Equal(t, 640, testenv.Eval[int](doc, width), "the clinician, on a good connection, keeps the patient's high layer")
		remoteDecoding(t, pt)
	})

	t.Run("the badge is reached by keyboard and says the figures to a screen reader", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		harness.TabTo(t, doc, `#remote-videos figure[data-subject="sim-patient-001"] .quality`)
		label := testenv.Eval[string](doc, `document.activeElement.getAttribute('aria-label')`)
		t.Logf("label: %s", label)
		require.Regexp(t, `^Connection of .+: poor \(\d+(\.\d)? % of packets lost`, label)
		require.Empty(t, harness.Axe(t, doc), "serious accessibility violations with the quality badges")
		require.Empty(t, harness.Axe(t, pt), "serious accessibility violations with the quality badges")
	})

	t.Run("a connection that improves shows fair, then good, and the warning goes", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		drops.Set("sim-patient-001", 0.06)
		doc.Wait(patientBadge+`.dataset.quality === 'fair'`, 20*time.Second)
		doc.Screenshot("quality-clinician-sees-patient-fair")
		drops.Set("sim-patient-001", 0)
		doc.Wait(patientBadge+`.dataset.quality === 'good'`, 20*time.Second)
		pt.Wait(selfBadge+`.dataset.quality === 'good' && document.querySelector('#quality-warning').hidden`, 10*time.Second)
		doc.Wait(`document.querySelector('#quality-warning').hidden`, 5*time.Second)
		// Clean reports take the patient back up to the clinician's high layer.
		pt.Wait(`document.querySelector('#remote-videos video').videoWidth === 640`, 20*time.Second)
		pt.Screenshot("quality-patient-recovered")
	})
}
