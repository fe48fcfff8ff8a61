package dashboard_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestTheDashboardInABrowser(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	browser := testenv.StartBrowser(t)

	// An hour and more of history for the trend: a reading a minute.
	now := time.Now()
	var hist []string
	for i := 150; i >= 4; i-- { // to four minutes ago
		hist = append(hist, harness.Reading(vitals.HeartRate, 70+float64(i%10), "/min", now.Add(-time.Duration(i)*time.Minute)))
	}
	devs["p1"].Publish(harness.Batch(1, hist...))
	devs["p2"].Publish(harness.Batch(1, harness.Reading(vitals.SpO2, 97, "%", now.Add(-20*time.Minute))))
	devs["p3"].Publish(harness.Batch(1, harness.Reading(vitals.HeartRate, 66, "/min", now)))
	s.WaitCount(t, "p1", vitals.HeartRate, now.Add(-3*time.Hour), now.Add(time.Minute), 147, 10*time.Second)

	doc1 := s.SignIn(t, browser, "doc1", auth.RoleClinician)
	doc1.Wait(`document.querySelectorAll('li.tile').length === 2`, 10*time.Second)

	t.Run("the dashboard shows exactly the clinician's patients", func(t *testing.T) {
		doc1 := doc1.For(t)
		ids := testenv.Eval[[]string](doc1, `[...document.querySelectorAll('li.tile')].map(e => e.dataset.patient).sort()`)
		require.Equal(t, []string{"p1", "p2"}, ids)
		// textContent: tiles off screen skip rendering (content-visibility),
		// and innerText leaves out what has not been rendered yet.
		text := testenv.Eval[string](doc1, `document.querySelector('main').textContent`)
		require.Contains(t, text, "Ada Lovelace")
		require.NotContains(t, text, "Cy Young")
		require.Equal(t, "74", testenv.Eval[string](doc1, `document.querySelector('[data-patient="p1"] [data-vital="heart_rate"] .value').textContent`))
		// The SpO2 of 20 minutes ago is marked stale, in words.
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('[data-patient="p2"] [data-vital="spo2"]').textContent`), "stale")
		doc1.Screenshot("dashboard")
		require.Empty(t, harness.Axe(t, doc1), "serious accessibility violations on the dashboard")
	})

	t.Run("a reading published over MQTT appears on its tile within a second", func(t *testing.T) {
		doc1 := doc1.For(t)
		doc1.Wait(`document.querySelector('[data-patient="p2"]') && window.vitalwire && true`, 5*time.Second)
		// The live socket is subscribed once the dashboard has rendered.
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		devs["p2"].Publish(harness.Batch(2, harness.Reading(vitals.HeartRate, 93, "/min", time.Now())))
		doc1.Wait(`document.querySelector('[data-patient="p2"] [data-vital="heart_rate"] .value').textContent === '93'`, 5*time.Second)
		took := time.Since(start)
		t.Logf("publish to tile: %s", took)
		require.Less(t, took, time.Second)
	})

	doc2 := s.SignIn(t, browser, "doc2", auth.RoleClinician)
	doc2.Wait(`document.querySelectorAll('li.tile').length === 2`, 10*time.Second)
	time.Sleep(300 * time.Millisecond)

	t.Run("a scripted deterioration raises an alert in both clinicians' panels", func(t *testing.T) {
		doc1, doc2 := doc1.For(t), doc2.For(t)
		// Ada's heart rate at 150 for the last three minutes.
		start := time.Now()
		var rs []string
		for i := 36; i >= 0; i-- {
			rs = append(rs, harness.Reading(vitals.HeartRate, 150, "/min", start.Add(-time.Duration(i)*5*time.Second)))
		}
		devs["p1"].Publish(harness.Batch(3, rs...))
		sel := `document.querySelector('#alert-list li[data-alert][data-state="firing"]')`
		doc1.Wait(sel+` && `+sel+`.textContent.includes('heart rate high') && `+sel+`.textContent.includes('Ada Lovelace')`, 10*time.Second)
		doc2.Wait(sel+` && `+sel+`.textContent.includes('heart rate high')`, 10*time.Second)
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('li.tile').dataset.patient`), "p1", "the patient with the alert is first")
		require.Contains(t, testenv.Eval[string](doc1, sel+`.textContent`), "◆ high", "severity is shown by shape and text")
		doc1.Screenshot("alert")
	})

	t.Run("acknowledging with the keyboard in one browser updates the other", func(t *testing.T) {
		doc1, doc2 := doc1.For(t), doc2.For(t)
		doc1.Go(s.URL() + "/#/")
		doc1.Wait(`document.querySelector('#alert-list li[data-alert] button')`, 10*time.Second)
		presses := harness.TabTo(t, doc1, `#alert-list li[data-alert] button.primary`)
		t.Logf("Acknowledge reached with %d Tab presses", presses)
		doc1.Key("\r")
		doc1.Wait(`document.querySelector('#alert-list li[data-alert][data-state="acknowledged"]')`, 5*time.Second)
		waited := doc2.Wait(`document.querySelector('#alert-list li[data-alert][data-state="acknowledged"]') && document.querySelector('#alert-list li[data-alert]').textContent.includes('acknowledged by doc1')`, 5*time.Second)
		t.Logf("the other browser showed the acknowledgement after %s", waited)
		require.Less(t, waited, 2*time.Second)

		// Resolve with a reason, by keyboard too.
		harness.TabTo(t, doc1, `#alert-list li[data-alert] button[aria-label^="Resolve"]`)
		doc1.Key("\r")
		// The outcome first (a fixed list), then a note.
		doc1.Wait(`document.activeElement && document.activeElement.id.startsWith('outcome-')`, 5*time.Second)
		doc1.Key("ar")
		doc1.Wait(`document.activeElement.value === 'artifact'`, 5*time.Second)
		doc1.Key("\t")
		doc1.Wait(`document.activeElement && document.activeElement.id.startsWith('reason-resolve-')`, 5*time.Second)
		doc1.Key("probe repositioned\r")
		doc1.Wait(`!document.querySelector('#alert-list li[data-alert]')`, 5*time.Second)
		doc2.Wait(`!document.querySelector('#alert-list li[data-alert]')`, 5*time.Second)
		list := s.Alerts(t, "p1", true)
		require.Len(t, list, 1)
		require.Equal(t, "resolved", list[0].State)
		require.Equal(t, "doc1", list[0].AckedBy)
		require.Equal(t, "probe repositioned", list[0].ResolveReason)
		require.Equal(t, "artifact", list[0].ResolveOutcome)
	})

	t.Run("the patient page draws a 24 h trend from aggregates", func(t *testing.T) {
		doc1 := doc1.For(t)
		doc1.Go(s.URL() + "/#/patients/p1")
		doc1.Wait(`document.querySelector('figure[data-vital="heart_rate"] .uplot canvas')`, 10*time.Second)
		points := testenv.Eval[int](doc1, `Number(document.querySelector('figure[data-vital="heart_rate"]').dataset.points)`)
		// 150 minutes of readings in 5-minute windows: about 30 points, not 180 raw readings.
		require.GreaterOrEqual(t, points, 25)
		require.LessOrEqual(t, points, 40)
		require.Equal(t, "true", testenv.Eval[string](doc1, `[...document.querySelectorAll('.toolbar button')].find(b => b.textContent === '24h').getAttribute('aria-pressed')`))
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('figure[data-vital="heart_rate"]').textContent`), "heart rate high above 130", "the rule's level is drawn")
		require.Equal(t, 1, testenv.Eval[int](doc1, `Number(document.querySelector('figure[data-vital="heart_rate"]').dataset.alerts)`), "the alert is marked")
		doc1.Screenshot("patient-24h")
		require.Empty(t, harness.Axe(t, doc1), "serious accessibility violations on the patient page")
		// 1 h zooms in: one point a minute.
		testenv.Eval[bool](doc1, `[...document.querySelectorAll('.toolbar button')].find(b => b.textContent === '1h').click() || true`)
		doc1.Wait(`Number(document.querySelector('figure[data-vital="heart_rate"]').dataset.points) >= 55`, 10*time.Second)
	})

	t.Run("a patient sees their own page and cannot reach another's", func(t *testing.T) {
		pt := s.SignIn(t, browser, "p2", auth.RolePatient)
		pt.Wait(`location.hash === '#/patients/p2' && document.querySelector('h1') && document.querySelector('h1').textContent === 'Ben Franklin'`, 10*time.Second)
		pt.Screenshot("patient-view")
		require.Empty(t, harness.Axe(t, pt), "serious accessibility violations on the patient's view")
		pt.Go(s.URL() + "/#/patients/p1")
		pt.Wait(`document.querySelector('h1') && document.querySelector('h1').textContent === 'Not allowed'`, 10*time.Second)
		require.NotContains(t, testenv.Eval[string](pt, `document.body.textContent`), "Ada")
		require.Equal(t, 403, testenv.Eval[int](pt, `fetch('/api/v1/patients/p1/readings').then(r => r.status)`))
		require.Equal(t, 403, testenv.Eval[int](pt, `fetch('/api/v1/alerts?patient=p1').then(r => r.status)`))
		tiles := testenv.Eval[[]string](pt, `fetch('/api/v1/dashboard').then(r => r.json()).then(d => d.tiles.map(t => t.patient.id))`)
		require.Equal(t, []string{"p2"}, tiles)
		pt.Screenshot("patient-refused")
	})

	t.Run("admin pages", func(t *testing.T) {
		adm := s.SignIn(t, browser, "root", auth.RoleAdmin)
		adm.Wait(`location.hash === '#/admin/devices' && document.querySelectorAll('tbody tr').length >= 3`, 10*time.Second)
		// Add a device: its secret is shown once.
		testenv.Eval[bool](adm, `(() => { const f = document.querySelector('form[aria-label="Add a device"]');
			f.querySelector('[name=id]').value = 'cuff-p1'; f.querySelector('[name=kind]').value = 'cuff';
			f.querySelector('[name=patient]').value = 'p1'; f.querySelector('[name=manufacturer]').value = 'Omron Healthcare';
			f.requestSubmit(); return true })()`)
		adm.Wait(`document.querySelector('form[aria-label="Add a device"] .secret')`, 10*time.Second)
		// Its manufacturer is listed with it.
		adm.Wait(`[...document.querySelectorAll('tbody tr')].some(r => r.textContent.startsWith('cuff-p1') && r.textContent.includes('Omron Healthcare'))`, 10*time.Second)
		secret := testenv.Eval[string](adm, `document.querySelector('form[aria-label="Add a device"] .secret').textContent`)
		require.True(t, deviceAuthenticates(t, s, "cuff-p1", secret), "the shown secret is the device's")
		adm.Screenshot("admin-devices")
		require.Empty(t, harness.Axe(t, adm), "serious accessibility violations on the devices page")
		adm.Go(s.URL() + "/#/admin/people")
		adm.Wait(`document.querySelector('h1').textContent === 'People and care teams' && document.body.textContent.includes('Ward 7')`, 10*time.Second)
		// A patient added with gender and name parts keeps them.
		testenv.Eval[bool](adm, `(() => { const f = document.querySelector('form[aria-label="Add a patient"]');
			const set = (n, v) => f.querySelector('[name=' + n + ']').value = v;
			set('id', 'p9'); set('mrn', 'MRN-009'); set('name', 'Ada Augusta King'); set('birth_date', '1950-12-10');
			set('gender', 'female'); set('family', 'King'); set('given', 'Ada  Augusta'); f.requestSubmit(); return true })()`)
		adm.Wait(`[...document.querySelectorAll('tbody tr')].some(r => r.textContent.startsWith('p9') && r.textContent.includes('female'))`, 10*time.Second)
		var ps []chart.Patient
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients", s.Admin(), nil, &ps)
		i := slices.IndexFunc(ps, func(p chart.Patient) bool { return p.ID == "p9" })
		require.GreaterOrEqual(t, i, 0)
		require.Equal(t, "King", ps[i].Family)
		require.Equal(t, []string{"Ada", "Augusta"}, ps[i].Given)
		require.Equal(t, "female", ps[i].Gender)
		adm.Screenshot("admin-people")
		require.Empty(t, harness.Axe(t, adm), "serious accessibility violations on the people page")
		adm.Go(s.URL() + "/#/admin/audit")
		adm.Wait(`document.querySelectorAll('tbody tr').length > 5`, 10*time.Second)
		require.Contains(t, testenv.Eval[string](adm, `document.body.textContent`), "GET /api/v1/dashboard")
		adm.Screenshot("admin-audit")
		require.Empty(t, harness.Axe(t, adm), "serious accessibility violations on the audit page")
	})
}
