package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
)

// ward charts three patients: Ada and Ben in the ward of doc1 and doc2,
// Cy in another team. Each wears a watch.
func ward(t *testing.T, a *app.App) map[string]*device {
	t.Helper()
	ctx := context.Background()
	for _, p := range []chart.Patient{
		{ID: "p1", MRN: "MRN-001", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1},
		{ID: "p2", MRN: "MRN-002", Name: "Ben Franklin", BirthDate: "1946-01-17", SpO2Scale: 1},
		{ID: "p3", MRN: "MRN-003", Name: "Cy Young", BirthDate: "1967-03-29", SpO2Scale: 1},
	} {
		_, err := a.Chart.AddPatient(ctx, p)
		require.NoError(t, err)
	}
	require.NoError(t, a.Chart.AddTeam(ctx, "ward", "Ward 7"))
	require.NoError(t, a.Chart.AddTeam(ctx, "other", "Ward 9"))
	for _, m := range [][3]string{{"ward", "clinician", "doc1"}, {"ward", "clinician", "doc2"}, {"ward", "patient", "p1"},
		{"ward", "patient", "p2"}, {"other", "clinician", "doc3"}, {"other", "patient", "p3"}} {
		require.NoError(t, a.Chart.AddMember(ctx, m[0], m[1], m[2]))
	}
	out := map[string]*device{}
	for _, p := range []string{"p1", "p2", "p3"} {
		secret := addDevice(t, a, "watch-"+p, p)
		out[p] = connectDevice(t, "tcp://"+a.BrokerAddr(), "watch-"+p, secret)
	}
	return out
}

// signIn opens a one-time sign-in link in a fresh browser context.
func signIn(t *testing.T, b *testenv.Browser, a *app.App, subject string, role auth.Role) *testenv.Tab {
	t.Helper()
	tab := b.Tab(t)
	tab.Go(a.SignInURL(subject, role, 5*time.Minute).URL)
	tab.Wait(`document.querySelector('#who') && document.querySelector('#who').textContent.includes('Signed in as `+subject+`')`, 15*time.Second)
	return tab
}

// axe runs axe-core in the page and returns the serious and critical
// violations.
func axe(t *testing.T, tab *testenv.Tab) []string {
	t.Helper()
	src, err := os.ReadFile("../web/testdata/axe/axe.min.js")
	require.NoError(t, err)
	testenv.Eval[bool](tab, string(src)+";true")
	res := testenv.Eval[string](tab, `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify({passes: r.passes.length,
		violations: r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))}))`)
	var out struct {
		Passes     int
		Violations []struct {
			ID, Impact string
			Nodes      []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(res), &out))
	require.Greater(t, out.Passes, 10, "axe checked the page")
	vs := out.Violations
	var bad []string
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, fmt.Sprintf("%s (%s) at %v", v.ID, v.Impact, v.Nodes))
		} else {
			t.Logf("axe, %s: %s at %v", v.Impact, v.ID, v.Nodes)
		}
	}
	return bad
}

// tabTo presses Tab until the focused element matches the selector and
// returns how many presses it took: the page is usable without a mouse.
func tabTo(t *testing.T, tab *testenv.Tab, selector string) int {
	t.Helper()
	for i := 1; i <= 150; i++ {
		tab.Key("\t")
		if testenv.Eval[bool](tab, `document.activeElement && document.activeElement.matches(`+jsString(selector)+`)`) {
			return i
		}
	}
	tab.Screenshot("tab-not-found")
	t.Fatalf("Tab never reached %s", selector)
	return 0
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestTheDashboardInABrowser(t *testing.T) {
	a := startApp(t, testConfig(t))
	devs := ward(t, a)
	browser := testenv.StartBrowser(t)

	// An hour and more of history for the trend: a reading a minute.
	now := time.Now()
	var hist []string
	for i := 150; i >= 4; i-- { // to four minutes ago
		hist = append(hist, reading(vitals.HeartRate, 70+float64(i%10), "/min", now.Add(-time.Duration(i)*time.Minute)))
	}
	devs["p1"].publish(batch(1, hist...))
	devs["p2"].publish(batch(1, reading(vitals.SpO2, 97, "%", now.Add(-20*time.Minute))))
	devs["p3"].publish(batch(1, reading(vitals.HeartRate, 66, "/min", now)))
	waitCount(t, a.Store, "p1", vitals.HeartRate, now.Add(-3*time.Hour), now.Add(time.Minute), 147, 10*time.Second)

	doc1 := signIn(t, browser, a, "doc1", auth.RoleClinician)
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
		require.Empty(t, axe(t, doc1), "serious accessibility violations on the dashboard")
	})

	t.Run("a reading published over MQTT appears on its tile within a second", func(t *testing.T) {
		doc1 := doc1.For(t)
		doc1.Wait(`document.querySelector('[data-patient="p2"]') && window.vitalwire && true`, 5*time.Second)
		// The live socket is subscribed once the dashboard has rendered.
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		devs["p2"].publish(batch(2, reading(vitals.HeartRate, 93, "/min", time.Now())))
		doc1.Wait(`document.querySelector('[data-patient="p2"] [data-vital="heart_rate"] .value').textContent === '93'`, 5*time.Second)
		took := time.Since(start)
		t.Logf("publish to tile: %s", took)
		require.Less(t, took, time.Second)
	})

	doc2 := signIn(t, browser, a, "doc2", auth.RoleClinician)
	doc2.Wait(`document.querySelectorAll('li.tile').length === 2`, 10*time.Second)
	time.Sleep(300 * time.Millisecond)

	t.Run("a scripted deterioration raises an alert in both clinicians' panels", func(t *testing.T) {
		doc1, doc2 := doc1.For(t), doc2.For(t)
		// Ada's heart rate at 150 for the last three minutes.
		start := time.Now()
		var rs []string
		for i := 36; i >= 0; i-- {
			rs = append(rs, reading(vitals.HeartRate, 150, "/min", start.Add(-time.Duration(i)*5*time.Second)))
		}
		devs["p1"].publish(batch(3, rs...))
		sel := `document.querySelector('#alert-list li[data-alert][data-state="firing"]')`
		doc1.Wait(sel+` && `+sel+`.textContent.includes('heart rate high') && `+sel+`.textContent.includes('Ada Lovelace')`, 10*time.Second)
		doc2.Wait(sel+` && `+sel+`.textContent.includes('heart rate high')`, 10*time.Second)
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('li.tile').dataset.patient`), "p1", "the patient with the alert is first")
		require.Contains(t, testenv.Eval[string](doc1, sel+`.textContent`), "◆ high", "severity is shown by shape and text")
		doc1.Screenshot("alert")
	})

	t.Run("acknowledging with the keyboard in one browser updates the other", func(t *testing.T) {
		doc1, doc2 := doc1.For(t), doc2.For(t)
		doc1.Go(a.URL() + "/#/")
		doc1.Wait(`document.querySelector('#alert-list li[data-alert] button')`, 10*time.Second)
		presses := tabTo(t, doc1, `#alert-list li[data-alert] button.primary`)
		t.Logf("Acknowledge reached with %d Tab presses", presses)
		doc1.Key("\r")
		doc1.Wait(`document.querySelector('#alert-list li[data-alert][data-state="acknowledged"]')`, 5*time.Second)
		waited := doc2.Wait(`document.querySelector('#alert-list li[data-alert][data-state="acknowledged"]') && document.querySelector('#alert-list li[data-alert]').textContent.includes('acknowledged by doc1')`, 5*time.Second)
		t.Logf("the other browser showed the acknowledgement after %s", waited)
		require.Less(t, waited, 2*time.Second)

		// Resolve with a reason, by keyboard too.
		tabTo(t, doc1, `#alert-list li[data-alert] button[aria-label^="Resolve"]`)
		doc1.Key("\r")
		doc1.Wait(`document.activeElement && document.activeElement.id.startsWith('reason-resolve-')`, 5*time.Second)
		doc1.Key("probe repositioned\r")
		doc1.Wait(`!document.querySelector('#alert-list li[data-alert]')`, 5*time.Second)
		doc2.Wait(`!document.querySelector('#alert-list li[data-alert]')`, 5*time.Second)
		list := alertsOf(t, a, "p1")
		require.Len(t, list, 1)
		require.Equal(t, "resolved", list[0]["state"])
		require.Equal(t, "doc1", list[0]["acked_by"])
		require.Equal(t, "probe repositioned", list[0]["resolve_reason"])
	})

	t.Run("the patient page draws a 24 h trend from aggregates", func(t *testing.T) {
		doc1 := doc1.For(t)
		doc1.Go(a.URL() + "/#/patients/p1")
		doc1.Wait(`document.querySelector('figure[data-vital="heart_rate"] path.mean')`, 10*time.Second)
		points := testenv.Eval[int](doc1, `Number(document.querySelector('figure[data-vital="heart_rate"] path.mean').dataset.points)`)
		// 150 minutes of readings in 5-minute windows: about 30 points, not 180 raw readings.
		require.GreaterOrEqual(t, points, 25)
		require.LessOrEqual(t, points, 40)
		require.Equal(t, "true", testenv.Eval[string](doc1, `[...document.querySelectorAll('.toolbar button')].find(b => b.textContent === '24h').getAttribute('aria-pressed')`))
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('figure[data-vital="heart_rate"]').textContent`), "heart rate high above 130", "the rule's level is drawn")
		require.Equal(t, 1, testenv.Eval[int](doc1, `document.querySelectorAll('figure[data-vital="heart_rate"] path.marker').length`), "the alert is marked")
		doc1.Screenshot("patient-24h")
		require.Empty(t, axe(t, doc1), "serious accessibility violations on the patient page")
		// 1 h zooms in: one point a minute.
		testenv.Eval[bool](doc1, `[...document.querySelectorAll('.toolbar button')].find(b => b.textContent === '1h').click() || true`)
		doc1.Wait(`Number(document.querySelector('figure[data-vital="heart_rate"] path.mean').dataset.points) >= 55`, 10*time.Second)
	})

	t.Run("a patient sees their own page and cannot reach another's", func(t *testing.T) {
		pt := signIn(t, browser, a, "p2", auth.RolePatient)
		pt.Wait(`location.hash === '#/patients/p2' && document.querySelector('h1') && document.querySelector('h1').textContent === 'Ben Franklin'`, 10*time.Second)
		pt.Screenshot("patient-view")
		require.Empty(t, axe(t, pt), "serious accessibility violations on the patient's view")
		pt.Go(a.URL() + "/#/patients/p1")
		pt.Wait(`document.querySelector('h1') && document.querySelector('h1').textContent === 'Not allowed'`, 10*time.Second)
		require.NotContains(t, testenv.Eval[string](pt, `document.body.textContent`), "Ada")
		require.Equal(t, 403, testenv.Eval[int](pt, `fetch('/api/v1/patients/p1/readings').then(r => r.status)`))
		require.Equal(t, 403, testenv.Eval[int](pt, `fetch('/api/v1/alerts?patient=p1').then(r => r.status)`))
		tiles := testenv.Eval[[]string](pt, `fetch('/api/v1/dashboard').then(r => r.json()).then(d => d.tiles.map(t => t.patient.id))`)
		require.Equal(t, []string{"p2"}, tiles)
		pt.Screenshot("patient-refused")
	})

	t.Run("admin pages", func(t *testing.T) {
		adm := signIn(t, browser, a, "root", auth.RoleAdmin)
		adm.Wait(`location.hash === '#/admin/devices' && document.querySelectorAll('tbody tr').length >= 3`, 10*time.Second)
		// Add a device: its secret is shown once.
		testenv.Eval[bool](adm, `(() => { const f = document.querySelector('form[aria-label="Add a device"]');
			f.querySelector('[name=id]').value = 'cuff-p1'; f.querySelector('[name=kind]').value = 'cuff';
			f.querySelector('[name=patient]').value = 'p1'; f.requestSubmit(); return true })()`)
		adm.Wait(`document.querySelector('form[aria-label="Add a device"] .secret')`, 10*time.Second)
		secret := testenv.Eval[string](adm, `document.querySelector('form[aria-label="Add a device"] .secret').textContent`)
		require.True(t, a.Devices.Authenticate("cuff-p1", secret), "the shown secret is the device's")
		adm.Screenshot("admin-devices")
		require.Empty(t, axe(t, adm), "serious accessibility violations on the devices page")
		adm.Go(a.URL() + "/#/admin/people")
		adm.Wait(`document.querySelector('h1').textContent === 'People and care teams' && document.body.textContent.includes('Ward 7')`, 10*time.Second)
		adm.Screenshot("admin-people")
		require.Empty(t, axe(t, adm), "serious accessibility violations on the people page")
		adm.Go(a.URL() + "/#/admin/audit")
		adm.Wait(`document.querySelectorAll('tbody tr').length > 5`, 10*time.Second)
		require.Contains(t, testenv.Eval[string](adm, `document.body.textContent`), "GET /api/v1/dashboard")
		adm.Screenshot("admin-audit")
		require.Empty(t, axe(t, adm), "serious accessibility violations on the audit page")
	})
}

// alertsOf lists a patient's alerts, resolved ones too.
func alertsOf(t *testing.T, a *app.App, patient string) []map[string]any {
	t.Helper()
	list, err := a.Alerts.Store().List(context.Background(), []string{patient}, false, 100)
	require.NoError(t, err)
	var out []map[string]any
	b, _ := json.Marshal(list)
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
