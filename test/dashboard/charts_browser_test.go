package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// plotted is what a chart plots, as the page keeps it
// (window.vitalwire.charts): the series' labels, uPlot's columns (time in
// seconds first), whether each series draws its points and spans gaps.
type plotted struct {
	Labels []string
	Data   [][]*float64
	Points []bool
	Span   []bool
	Zone   string
}

func chartOf(t *testing.T, tab *testenv.Tab, key string) plotted {
	t.Helper()
	raw := testenv.Eval[string](tab, `JSON.stringify(window.vitalwire.charts[`+harness.JSString(key)+`] || null)`)
	require.NotEqual(t, "null", raw, "no chart %s", key)
	var p plotted
	require.NoError(t, json.Unmarshal([]byte(raw), &p))
	return p
}

// values are the non-null values of column i with their times (ms).
func values(p plotted, i int) (ts []int64, vs []float64) {
	for k, v := range p.Data[i] {
		if v != nil {
			ts = append(ts, int64(*p.Data[0][k]*1000))
			vs = append(vs, *v)
		}
	}
	return ts, vs
}

// bridges tells whether column i draws a line from a point at or before a
// to one at or after b with no null between: a gap bridged.
func bridges(p plotted, i int, a, b time.Time) bool {
	var before, after = -1, -1
	for k := range p.Data[0] {
		t := int64(*p.Data[0][k] * 1000)
		if p.Data[i][k] != nil && t <= a.UnixMilli() {
			before = k
		}
		if p.Data[i][k] != nil && t >= b.UnixMilli() && after < 0 {
			after = k
		}
	}
	if before < 0 || after < 0 {
		return false
	}
	for k := before + 1; k < after; k++ {
		if p.Data[i][k] == nil {
			return false
		}
	}
	return true
}

func TestTrendsShowWhatTheReadingsHold(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Clinic.TimeZone = "America/Chicago"
	s := harness.Start(t, cfg)
	devs := s.Ward(t)
	browser := testenv.StartBrowser(t)

	// Ada: heart rate a reading a minute from 50 to 41 minutes ago, none
	// for half an hour, then from 10 minutes ago; one SpO2 reading; three
	// blood pressures. All of it within the last hour.
	now := time.Now().Truncate(time.Minute)
	var rs []string
	for i := 50; i >= 41; i-- {
		rs = append(rs, harness.Reading(vitals.HeartRate, 70+float64(i%5), "/min", now.Add(-time.Duration(i)*time.Minute)))
	}
	for i := 10; i >= 1; i-- {
		rs = append(rs, harness.Reading(vitals.HeartRate, 80+float64(i%5), "/min", now.Add(-time.Duration(i)*time.Minute)))
	}
	rs = append(rs, harness.Reading(vitals.SpO2, 95, "%", now.Add(-20*time.Minute)))
	bp := func(sys, dia float64, at time.Time) string {
		return fmt.Sprintf(`{"type":"blood_pressure","systolic":%g,"diastolic":%g,"unit":"mm[Hg]","time":%q}`, sys, dia, at.UTC().Format(time.RFC3339Nano))
	}
	rs = append(rs, bp(128, 82, now.Add(-45*time.Minute)), bp(135, 88, now.Add(-30*time.Minute)), bp(122, 79, now.Add(-5*time.Minute)))
	devs["p1"].Publish(harness.Batch(1, rs...))
	s.WaitCount(t, "p1", vitals.HeartRate, now.Add(-time.Hour), now, 20, 10*time.Second)
	s.WaitCount(t, "p1", vitals.BloodPressure, now.Add(-time.Hour), now, 3, 10*time.Second)

	doc1 := s.SignIn(t, browser, "doc1", auth.RoleClinician)
	// The charts run under the page's Content-Security-Policy: any
	// refusal (an inline style, say) is caught.
	testenv.Eval[bool](doc1, `window.cspRefusals = []; document.addEventListener('securitypolicyviolation', e => window.cspRefusals.push(e.violatedDirective + ' ' + e.blockedURI)); true`)
	doc1.Go(s.URL() + "/#/patients/p1")
	doc1.Wait(`window.vitalwire.charts['trend:heart_rate'] && window.vitalwire.charts['trend:blood_pressure'] && window.vitalwire.charts['trend:spo2']`, 15*time.Second)

	t.Run("the first view fits the hour of data, not a day", func(t *testing.T) {
		status := testenv.Eval[string](doc1, `document.querySelector('main [role=status]').textContent`)
		require.Contains(t, status, "one point per 1 min")
		require.Contains(t, status, "America/Chicago")
		require.Equal(t, 0, testenv.Eval[int](doc1, `document.querySelectorAll('.toolbar button[aria-pressed="true"]').length`), "no preset period: fitted")
		hr := chartOf(t, doc1, "trend:heart_rate")
		first, last := *hr.Data[0][0], *hr.Data[0][len(hr.Data[0])-1]
		require.Less(t, last-first, 3600.0, "the points span under an hour")
	})

	t.Run("a half-hour without readings is a gap, not a line", func(t *testing.T) {
		hr := chartOf(t, doc1, "trend:heart_rate")
		require.Equal(t, []string{"Highest", "Lowest", "Mean"}, hr.Labels)
		ts, vs := values(hr, 3)
		require.Len(t, vs, 20, "a mean a minute, each drawn")
		require.Equal(t, []bool{false, false, true}, hr.Points, "the means' points are drawn")
		require.Equal(t, []bool{false, false, false}, hr.Span, "no series spans gaps")
		require.False(t, bridges(hr, 3, now.Add(-40*time.Minute), now.Add(-11*time.Minute)), "the gap is not bridged")
		require.True(t, bridges(hr, 3, now.Add(-49*time.Minute), now.Add(-42*time.Minute)), "consecutive minutes are joined")
		require.Greater(t, ts[10]-ts[9], int64(25*60*1000))
	})

	t.Run("a single reading is drawn", func(t *testing.T) {
		sp := chartOf(t, doc1, "trend:spo2")
		_, vs := values(sp, 3)
		require.Equal(t, []float64{95}, vs)
		require.True(t, sp.Points[2], "its point is drawn")
	})

	t.Run("blood pressure is systolic and diastolic, each reading", func(t *testing.T) {
		bp := chartOf(t, doc1, "trend:blood_pressure")
		require.Equal(t, []string{"Systolic", "Diastolic"}, bp.Labels)
		_, sys := values(bp, 1)
		_, dia := values(bp, 2)
		require.Equal(t, []float64{128, 135, 122}, sys)
		require.Equal(t, []float64{82, 88, 79}, dia)
		require.Equal(t, []bool{true, true}, bp.Points)
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('figure[data-vital="blood_pressure"]').textContent`), "systolic and diastolic")
	})

	t.Run("the axis names the clinic's time zone and has enough ticks", func(t *testing.T) {
		hr := chartOf(t, doc1, "trend:heart_rate")
		require.Equal(t, "America/Chicago", hr.Zone)
		require.Contains(t, testenv.Eval[string](doc1, `document.querySelector('figure[data-vital="heart_rate"]').vwPlot.axes[0].label`), "Time (America/Chicago")
		ticks := testenv.Eval[int](doc1, `(() => { const u = document.querySelector('figure[data-vital="heart_rate"]').vwPlot; return u.axes[0]._splits ? u.axes[0]._splits.length : 0 })()`)
		require.GreaterOrEqual(t, ticks, 5, "time ticks")
	})

	t.Run("hovering shows the time and the value", func(t *testing.T) {
		testenv.Eval[bool](doc1, `(() => { const u = document.querySelector('figure[data-vital="blood_pressure"]').vwPlot;
			const i = 1; u.setCursor({ left: u.valToPos(u.data[0][i], 'x'), top: u.valToPos(u.data[1][i], 'y') }); return true })()`)
		tip := testenv.Eval[string](doc1, `document.querySelector('figure[data-vital="blood_pressure"] .chart-tip').textContent`)
		require.Contains(t, tip, "Systolic: 135 mmHg")
		require.Contains(t, tip, "Diastolic: 88 mmHg")
		doc1.Screenshot("trends")
		require.LessOrEqual(t, testenv.Eval[int](doc1, `document.documentElement.scrollWidth - window.innerWidth`), 0, "the charts fit the page's width")
		require.Empty(t, testenv.Eval[[]string](doc1, `window.cspRefusals || ["the listener was lost: the page reloaded"]`), "the charts need nothing the CSP refuses")
		require.Empty(t, harness.Axe(t, doc1), "serious accessibility violations on the patient page")
	})

	t.Run("dragging across a chart zooms in", func(t *testing.T) {
		testenv.Eval[bool](doc1, `(() => { const u = document.querySelector('figure[data-vital="heart_rate"]').vwPlot;
			const a = u.valToPos(u.data[0][0], 'x'); const b = u.valToPos(u.data[0][9], 'x');
			u.setSelect({ left: a, width: b - a, top: 0, height: u.bbox.height / devicePixelRatio }); return true })()`)
		doc1.Wait(`(() => { const d = window.vitalwire.charts['trend:heart_rate'].data[0]; return d[d.length - 1] - d[0] < 15 * 60 })()`, 10*time.Second)
	})

	t.Run("the readings download as CSV for the period shown", func(t *testing.T) {
		href := testenv.Eval[string](doc1, `document.querySelector('#readings-csv').href`)
		require.Contains(t, href, "/api/v1/patients/p1/readings.csv?from=")
		body := testenv.Eval[string](doc1, `fetch(document.querySelector('#readings-csv').href).then(r => r.text())`)
		require.True(t, strings.HasPrefix(body, "time,type,value,diastolic,unit,device,time_source\n"), body)
		require.Contains(t, body, "heart_rate")
	})

	t.Run("the dashboard's sparklines leave the gap too", func(t *testing.T) {
		doc1.Go(s.URL() + "/#/")
		doc1.Wait(`window.vitalwire.charts['spark:p1:heart_rate'] && window.vitalwire.charts['spark:p2:spo2']`, 10*time.Second)
		sp := chartOf(t, doc1, "spark:p1:heart_rate")
		_, vs := values(sp, 1)
		require.Len(t, vs, 20)
		require.False(t, bridges(sp, 1, now.Add(-40*time.Minute), now.Add(-11*time.Minute)), "the gap is not bridged")
		require.True(t, sp.Points[0])
		// Tiles off screen skip rendering: let two frames pass.
		testenv.Eval[bool](doc1, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => r(true), 200))))`)
		doc1.Screenshot("sparklines")
		require.Empty(t, harness.Axe(t, doc1), "serious accessibility violations on the dashboard")
	})
}

func TestTheProgramMeasuresPage(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	// One rule: the shipped no-data rules would fire on the old readings.
	cfg.Alerts.RulesFile = filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(cfg.Alerts.RulesFile, []byte("rules:\n  - {id: heart_rate_high, kind: threshold, vital: heart_rate, above: 130, for: 2m, clear: 120, severity: high}\n"), 0o600))
	s := harness.Start(t, cfg)
	devs := s.Ward(t)
	browser := testenv.StartBrowser(t)
	// Readings on several days, and an alert resolved in the browser.
	now := time.Now()
	var rs []string
	for d := 20; d >= 1; d-- {
		rs = append(rs, harness.Reading(vitals.BodyWeight, 70, "kg", now.Add(-time.Duration(d)*24*time.Hour)))
	}
	// Scales bound since long before (the ward's watches only since
	// yesterday).
	scale := map[string]*harness.Device{}
	for _, p := range []string{"p1", "p2"} {
		secret := s.AddDeviceFrom(t, "scale-"+p, "", p, now.Add(-40*24*time.Hour))
		scale[p] = harness.Connect(t, s.BrokerURL(), "scale-"+p, secret)
	}
	// Monitored are the patients enrolled in a monitoring episode; p1
	// and p2 since 40 days, with care-management time recorded today.
	for _, p := range []string{"p1", "p2"} {
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/"+p+"/monitoring", s.Clinician("doc1"), map[string]any{
			"start": now.AddDate(0, 0, -40).UTC().Format(time.DateOnly), "ordering_clinician": "doc1", "diagnoses": []string{"I10"}}, nil)
	}
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/time-entries", s.Clinician("doc1"), map[string]any{
		"start": now.Add(-time.Minute), "seconds": 720, "kind": "phone_call"}, nil)
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p2/time-entries", s.Clinician("doc1"), map[string]any{
		"start": now.Add(-time.Minute), "seconds": 360, "kind": "data_review"}, nil)
	scale["p1"].Publish(harness.Batch(1, rs...))
	scale["p2"].Publish(harness.Batch(1, harness.Reading(vitals.HeartRate, 72, "/min", now.Add(-3*24*time.Hour))))
	s.WaitCount(t, "p1", vitals.BodyWeight, now.Add(-30*24*time.Hour), now, 20, 10*time.Second)
	var burst []string
	for i := 36; i >= 0; i-- {
		burst = append(burst, harness.Reading(vitals.HeartRate, 150, "/min", now.Add(-time.Duration(i)*5*time.Second)))
	}
	devs["p1"].Publish(harness.Batch(2, burst...))

	doc1 := s.SignIn(t, browser, "doc1", auth.RoleClinician)
	doc1.Wait(`document.querySelector('#alert-list li[data-alert][data-state="firing"]') && document.querySelector('#alert-list').textContent.includes('Ada Lovelace')`, 15*time.Second)
	testenv.Eval[bool](doc1, `document.querySelector('#alert-list li[data-alert] button[aria-label^="Resolve"]').click() || true`)
	doc1.Wait(`document.querySelector('#alert-list select[id^="outcome-"]')`, 5*time.Second)
	// Without an outcome the form does not submit.
	testenv.Eval[bool](doc1, `document.querySelector('#alert-list form').requestSubmit() || true`)
	require.Equal(t, "firing", s.Alerts(t, "p1", true)[0].State)
	doc1.Screenshot("resolve-outcome")
	testenv.Eval[bool](doc1, `(() => { const f = document.querySelector('#alert-list form'); f.querySelector('select').value = 'not_clinically_relevant';
		f.requestSubmit(); return true })()`)
	doc1.Wait(`!document.querySelector('#alert-list li[data-alert]')`, 10*time.Second)
	a := s.Alerts(t, "p1", true)[0]
	require.Equal(t, "not_clinically_relevant", a.ResolveOutcome)

	doc1.Go(s.URL() + "/#/measures?period=week")
	doc1.Wait(`window.vitalwire.charts['measures:adherence'] && window.vitalwire.charts['measures:not-relevant'] && document.querySelector('table')`, 15*time.Second)

	t.Run("the measures are charted by week, with the figures in a table", func(t *testing.T) {
		adh := chartOf(t, doc1, "measures:adherence")
		require.Equal(t, []string{"Adherent patients (%)"}, adh.Labels)
		require.GreaterOrEqual(t, len(adh.Data[0]), 12, "a point a week for twelve weeks")
		_, last := values(adh, 1)
		// This week: p1 has 20 days of readings (adherent), p2 one day,
		// p3 is another team's.
		require.Equal(t, 50.0, last[len(last)-1])
		nr := chartOf(t, doc1, "measures:not-relevant")
		_, share := values(nr, 1)
		require.Equal(t, []float64{100}, share, "the one alert resolved with an outcome, not relevant, this week; no other week has one")
		text := testenv.Eval[string](doc1, `document.querySelector('main').textContent`)
		require.Contains(t, text, "Program measures")
		require.Contains(t, text, "2 patients in your care teams")
		require.NotContains(t, text, "150", "no vital value")
		require.Contains(t, text, "Recorded minutes: interactive / other")
		// This week: p1's 12-minute call and p2's 6-minute review; 18
		// minutes for 2 patients, 6 of them interactive.
		row := testenv.Eval[string](doc1, `[...document.querySelectorAll('table tbody tr')].pop().textContent`)
		require.Contains(t, row, "12 / 6")
		require.Contains(t, row, "0 / 9 / 6")
		doc1.Screenshot("measures-week")
		require.LessOrEqual(t, testenv.Eval[int](doc1, `document.documentElement.scrollWidth - window.innerWidth`), 0, "the charts fit the page's width")
		require.Empty(t, harness.Axe(t, doc1), "serious accessibility violations on the measures page")
	})

	t.Run("the CSV link downloads the same report", func(t *testing.T) {
		body := testenv.Eval[string](doc1, `fetch(document.querySelector('#measures-csv').href).then(r => r.text())`)
		lines := strings.Split(strings.TrimSpace(body), "\n")
		require.True(t, strings.HasPrefix(lines[0], "period_start,period_end,"))
		require.GreaterOrEqual(t, len(lines), 13)
	})

	t.Run("by month, and an admin sees every team", func(t *testing.T) {
		adm := s.SignIn(t, browser, "root", auth.RoleAdmin)
		adm.Go(s.URL() + "/#/measures?period=month")
		adm.Wait(`window.vitalwire.charts['measures:visits'] && document.querySelector('main').textContent.includes('every care team')`, 15*time.Second)
		require.Contains(t, testenv.Eval[string](adm, `document.querySelector('main').textContent`), "3 patients in every care team")
		adm.Screenshot("measures-month-admin")
		require.Empty(t, harness.Axe(t, adm), "serious accessibility violations on the measures page")
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/reports/measures?care_team=other", s.Clinician("doc1"), nil, nil))
	})
}
