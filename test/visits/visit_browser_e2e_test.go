package visits_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// framesDecoded sums the decoded video frames of the page's call.
const framesDecoded = `window.vitalwire.call.pc.getStats().then(s => { let n = 0; s.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0 }); return n })`

// remoteDecoding waits until the page shows remote video that is decoding:
// a size, and frames decoded still rising.
func remoteDecoding(t *testing.T, tab *testenv.Tab) {
	t.Helper()
	tab.Wait(`document.querySelector('#remote-videos video') && document.querySelector('#remote-videos video').videoWidth > 0`, 30*time.Second)
	// Frames decoded rise (within 10 s: a loaded machine may stall a
	// decoder for a moment).
	first := testenv.Eval[int](tab, framesDecoded)
	second := first
	for deadline := time.Now().Add(10 * time.Second); second <= first && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		second = testenv.Eval[int](tab, framesDecoded)
	}
	t.Logf("frames decoded: %d, then %d; video %dx%d", first, second,
		testenv.Eval[int](tab, `document.querySelector('#remote-videos video').videoWidth`),
		testenv.Eval[int](tab, `document.querySelector('#remote-videos video').videoHeight`))
	require.Greater(t, second, first, "frames decoded rise")
}

func TestAVideoVisitInTwoBrowsers(t *testing.T) {
	t.Parallel()
	s, browser, doc, pt, visit := visitInTwoBrowsers(t)
	require.Empty(t, harness.Axe(t, pt), "serious accessibility violations on the join page")
	joinAndAdmit(t, doc, pt)

	t.Run("each page shows the other's video, decoding", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		remoteDecoding(t, doc)
		remoteDecoding(t, pt)
		pt.Wait(`document.querySelector('#call-status').textContent.includes('In your visit with dev-clinician')`, 10*time.Second)
		doc.Screenshot("clinician-visit")
		pt.Screenshot("patient-visit")
	})

	t.Run("the clinician sees the patient's live heart rate change", func(t *testing.T) {
		doc := doc.For(t)
		hr := `document.querySelector('.live-vitals [data-vital="heart_rate"] .value').textContent`
		doc.Wait(hr+` !== '—'`, 30*time.Second)
		first := testenv.Eval[string](doc, hr)
		doc.Wait(hr+` !== `+harness.JSString(first), 30*time.Second)
		t.Logf("heart rate went from %s to %s", first, testenv.Eval[string](doc, hr))
		require.NotContains(t, first, ".", "a heart rate is shown in whole beats")
		require.Empty(t, harness.Axe(t, doc), "serious accessibility violations on the visit page")
		// The last hour from the store beside the live values.
		doc.Wait(`document.querySelector('.visit-side figure.trend[data-vital="heart_rate"] .uplot canvas')`, 20*time.Second)
		doc.Wait(`document.documentElement.scrollWidth <= window.innerWidth`, 5*time.Second) // the trends fit the side column
	})

	t.Run("a clinician of another team invited to the call is offered no chart actions", func(t *testing.T) {
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/visits/"+visit+"/invite", s.Clinician(app.DevClinician),
			map[string]string{"subject": "cardio-1", "role": "clinician"}, nil)
		guest := s.SignIn(t, browser, "cardio-1", auth.RoleClinician)
		guest.Go(s.URL() + "/#/visits/" + url.PathEscape(visit))
		guest.Wait(`document.querySelector('#guest-note')`, 15*time.Second)
		require.False(t, testenv.Eval[bool](guest, `!!document.querySelector('#end-visit, #attach-visit, .live-vitals')`),
			"the guest's page offers the chart's actions or the patient's vitals")
		require.Empty(t, testenv.Eval[string](guest, `[...document.querySelectorAll('.error')].map(e => e.textContent).join('')`),
			"the guest's page shows an error")
		require.Empty(t, harness.Axe(t, guest), "serious accessibility violations on the guest's visit page")
		guest.Screenshot("visit-invited-clinician")
	})

	t.Run("ending the visit puts the Encounter and its Observations on /fhir/r4", func(t *testing.T) {
		doc, pt := doc.For(t), pt.For(t)
		testenv.Eval[bool](doc, `(document.querySelector('#visit-note').value = 'Seen by video; vitals stable.', true)`)
		testenv.Eval[bool](doc, `document.querySelector('#end-visit').click() || true`)
		doc.Wait(`document.querySelector('#encounter-done')`, 15*time.Second)
		pt.Wait(`document.querySelector('#call-status').textContent.includes('has ended')`, 10*time.Second)
		tok := s.Clinician(app.DevClinician)
		enc := fhirGet(t, s, tok, "/fhir/r4/Encounter/"+visit)
		require.Contains(t, enc["text"].(map[string]any)["div"], "Seen by video; vitals stable.")
		require.Contains(t, enc["text"].(map[string]any)["div"], "heart_rate")
		start := enc["period"].(map[string]any)["start"].(string)
		obs := fhirGet(t, s, tok, "/fhir/r4/Observation?patient=sim-patient-001&code=8867-4&date=ge"+url.QueryEscape(start[:19]+"Z"))
		require.GreaterOrEqual(t, obs["total"].(float64), 1.0, "heart rates of the visit")
		ev := fhirGet(t, s, tok, "/fhir/r4/Patient/sim-patient-001/$everything")
		require.NotEmpty(t, ev["entry"])
		doc.Screenshot("visit-ended")
	})
}

// joinAndAdmit has the patient's page join the call, where the patient
// waits until the clinician's page admits them.
func joinAndAdmit(t *testing.T, doc, pt *testenv.Tab) {
	t.Helper()
	testenv.Eval[bool](pt, `document.querySelector('#join-visit').click() || true`)
	admit(t, doc, pt)
}

// admit has the clinician's page admit the patient waiting in the
// waiting room.
func admit(t *testing.T, doc, pt *testenv.Tab) {
	t.Helper()
	pt.Wait(`document.querySelector('#call-status').textContent.includes('waiting room')`, 15*time.Second)
	doc.Wait(`document.querySelector('#waiting-list [data-admit="sim-patient-001"]')`, 15*time.Second)
	testenv.Eval[bool](doc, `document.querySelector('#waiting-list [data-admit="sim-patient-001"]').click() || true`)
}

// visitInTwoBrowsers starts a visit for sim-patient-001 from the dev
// clinician's page (left on the visit) and opens the patient's join page on
// its link, its camera and microphone checked, not yet joined: the service,
// the browser, both tabs and the visit's id.
func visitInTwoBrowsers(t *testing.T) (*harness.Service, *testenv.Browser, *testenv.Tab, *testenv.Tab, string) {
	t.Helper()
	return visitInTwoBrowsersWith(t, nil)
}

// visitInTwoBrowsersWith is visitInTwoBrowsers with the configuration
// changed first.
func visitInTwoBrowsersWith(t *testing.T, change func(*app.Config)) (*harness.Service, *testenv.Browser, *testenv.Tab, *testenv.Tab, string) {
	t.Helper()
	s, browser, doc, pt, visit := openVisit(t, change)
	clinicianJoins(doc)
	return s, browser, doc, pt, visit
}

// clinicianJoins presses "Join the call" on the clinician's visit page.
func clinicianJoins(doc *testenv.Tab) {
	doc.Wait(`document.querySelector('#join-call')`, 15*time.Second)
	testenv.Eval[bool](doc, `document.querySelector('#join-call').click() || true`)
}

// openVisit is visitInTwoBrowsersWith with the clinician not yet in the
// call (their page shows the preview and the device pickers).
func openVisit(t *testing.T, change func(*app.Config)) (*harness.Service, *testenv.Browser, *testenv.Tab, *testenv.Tab, string) {
	t.Helper()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	cfg.Sim.Patients = 1 // sim-patient-001, in the dev clinician's care team
	cfg.Sim.Interval = time.Second
	if change != nil {
		change(&cfg)
	}
	s := harness.Start(t, cfg)
	browser := testenv.StartBrowser(t)

	doc := s.SignIn(t, browser, app.DevClinician, auth.RoleClinician)
	doc.Go(s.URL() + "/#/patients/sim-patient-001")
	doc.Wait(`document.querySelector('#start-visit')`, 15*time.Second)
	testenv.Eval[bool](doc, `document.querySelector('#start-visit').click() || true`)
	doc.Wait(`document.querySelector('#patient-join-link')`, 10*time.Second)
	link := testenv.Eval[string](doc, `document.querySelector('#patient-join-link').textContent`)
	testenv.Eval[bool](doc, `document.querySelector('#open-visit').click() || true`)
	doc.Wait(`document.querySelector('#end-visit')`, 15*time.Second)
	u, err := url.Parse(link)
	require.NoError(t, err)
	q, _ := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/join?"))

	pt := browser.Tab(t)
	pt.Go(link)
	pt.Wait(`document.querySelector('#media-check') && document.querySelector('#media-check').textContent.startsWith('Camera working, microphone working')`, 20*time.Second)
	return s, browser, doc, pt, q.Get("visit")
}
