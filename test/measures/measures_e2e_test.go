// Package measures_test checks the program's quality measures through the
// running service: readings published over MQTT with past times on known
// local days, alerts fired, acknowledged, escalated and resolved at known
// times (the service's clock set by the test), patients enrolled in
// monitoring episodes from and until known days, care-management time
// recorded and corrected, and the report's figures
// against expectations computed by hand from the definitions in
// docs/MEASURES.md.
package measures_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// program is a care team's monitoring program over five weeks, built
// through the service as its users build it.
type program struct {
	s     *harness.Service
	clock *atomic.Int64
	tokyo *time.Location
	// w0 is the Monday (Tokyo) that begins the first week reported.
	w0   time.Time
	devs map[string]*harness.Device
	seq  int
}

// day is local midnight of the day offset days from w0.
func (p *program) day(offset int) time.Time {
	return time.Date(p.w0.Year(), p.w0.Month(), p.w0.Day()+offset, 0, 0, 0, 0, p.tokyo)
}

func (p *program) setClock(t time.Time) { p.clock.Store(t.UnixNano()) }

func (p *program) publish(t *testing.T, patient string, readings ...string) {
	t.Helper()
	p.seq++
	p.devs[patient].Publish(harness.Batch(p.seq, readings...))
}

// fire publishes a reading that breaks a rule at `at`, with the service's
// clock just after it, and returns the alert it opened.
func (p *program) fire(t *testing.T, patient string, typ vitals.Type, value float64, unit string, at time.Time) alerts.Alert {
	t.Helper()
	p.setClock(at.Add(time.Second))
	before := len(p.s.Alerts(t, patient, true))
	p.publish(t, patient, harness.Reading(typ, value, unit, at))
	var a alerts.Alert
	defer func() {
		if t.Failed() {
			t.Logf("stored: %+v", p.s.Readings(t, patient, typ, at.Add(-time.Hour), at.Add(time.Hour)))
		}
	}()
	require.Eventually(t, func() bool {
		list := p.s.Alerts(t, patient, true)
		if len(list) == before+1 {
			a = list[0]
			return true
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the alert fires")
	require.True(t, a.FiredAt.Equal(at), "fired at the reading's time: %s, want %s", a.FiredAt, at)
	return a
}

func (p *program) ack(t *testing.T, a alerts.Alert, after time.Duration) {
	t.Helper()
	p.setClock(a.FiredAt.Add(after))
	p.s.MustCall(t, http.StatusOK, "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", a.ID), p.s.Clinician("doc1"), nil, nil)
}

// resolve resolves the alert by hand, then a normal reading half an hour
// after it fired ends the breach in the rules engine (resolving by hand
// does not: a breach that goes on raises no second alert).
func (p *program) resolve(t *testing.T, a alerts.Alert, body string, typ vitals.Type, normal float64, unit string) {
	t.Helper()
	p.s.MustCall(t, http.StatusOK, "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", a.ID), p.s.Clinician("doc1"), body, nil)
	at := a.FiredAt.Add(30 * time.Minute)
	p.setClock(at.Add(time.Second))
	p.publish(t, a.Patient, harness.Reading(typ, normal, unit, at))
	p.s.WaitCount(t, a.Patient, typ, at, at.Add(time.Second), 1, 10*time.Second)
}

func TestProgramMeasuresMatchTheirDefinitions(t *testing.T) {
	t.Parallel()
	programMeasures(t, false)
}

// The days with readings come from the store's aggregates: InfluxDB's
// windows must count the same days.
func TestProgramMeasuresMatchTheirDefinitionsOnInfluxDB(t *testing.T) {
	t.Parallel()
	programMeasures(t, true)
}

func programMeasures(t *testing.T, influx bool) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	cfg := harness.Config(t)
	if influx {
		harness.UseInflux(t, &cfg)
	}
	cfg.Clinic.TimeZone = "Asia/Tokyo"
	cfg.Ingest.MaxAge = 120 * 24 * time.Hour
	cfg.Alerts.EscalateAfter = 10 * time.Minute
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("rules:\n"+
		"  - {id: hr_high, kind: threshold, vital: heart_rate, above: 150, raw: true, severity: high}\n"+
		"  - {id: spo2_low, kind: threshold, vital: spo2, below: 85, raw: true, severity: critical}\n"), 0o600))
	cfg.Alerts.RulesFile = rules
	s := harness.StartWith(t, cfg, app.Options{Clock: func() time.Time { return time.Unix(0, clock.Load()) }})

	// The Monday (Tokyo) five weeks before this one.
	now := time.Now().In(tokyo)
	monday := time.Date(now.Year(), now.Month(), now.Day()-(int(now.Weekday())+6)%7, 0, 0, 0, 0, tokyo)
	p := &program{s: s, clock: &clock, tokyo: tokyo, w0: monday.AddDate(0, 0, -35), devs: map[string]*harness.Device{}}

	// The ward (doc1): pA, pB and pC wear a scale bound since long before.
	// Monitored are the patients enrolled in a monitoring episode: pA
	// from day -60 to day 10 (its last day), pB from day -60, pD (no
	// device yet) from day 3; pC wears a scale but is not enrolled. pE
	// is in another team (doc3), enrolled from day -60.
	for _, id := range []string{"pA", "pB", "pC", "pD", "pE"} {
		s.AddPatient(t, chart.Patient{ID: id, MRN: "MRN-" + id, Name: "Patient " + id, BirthDate: "1950-01-01", SpO2Scale: 1})
	}
	s.AddTeam(t, "ward", "Ward 7")
	s.AddTeam(t, "other", "Ward 9")
	for _, m := range [][3]string{{"ward", "clinician", "doc1"}, {"ward", "patient", "pA"}, {"ward", "patient", "pB"},
		{"ward", "patient", "pC"}, {"ward", "patient", "pD"}, {"other", "clinician", "doc3"}, {"other", "patient", "pE"}} {
		s.AddMember(t, m[0], m[1], m[2])
	}
	for _, id := range []string{"pA", "pB", "pC", "pE"} {
		secret := s.AddDeviceFrom(t, "scale-"+id, "", id, p.day(-60))
		p.devs[id] = harness.Connect(t, s.BrokerURL(), "scale-"+id, secret)
	}
	for _, e := range []struct {
		patient, doc string
		start, end   int
	}{{"pA", "doc1", -60, 10}, {"pB", "doc1", -60, 0}, {"pD", "doc1", 3, 0}, {"pE", "doc3", -60, 0}} {
		en := rpm.Enrolment{Start: p.day(e.start).Format(time.DateOnly), OrderingClinician: e.doc, Diagnoses: []string{"I50.9"}, TimeZone: "Asia/Tokyo"}
		if e.end != 0 {
			en.End = p.day(e.end).Format(time.DateOnly)
		}
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/"+e.patient+"/monitoring", s.Clinician(e.doc), en, nil)
	}

	// pA: weight on the 16 Tokyo days -23..-8, at 10:00 Tokyo, except day
	// -8 at 08:30 Tokyo, which is 23:30 UTC of day -9: counted in UTC it
	// would be 15 days.
	var rs []string
	for d := -23; d <= -8; d++ {
		at := p.day(d).Add(10 * time.Hour)
		if d == -8 {
			at = p.day(d).Add(8*time.Hour + 30*time.Minute)
		}
		rs = append(rs, harness.Reading(vitals.BodyWeight, 80, "kg", at))
	}
	p.publish(t, "pA", rs...)
	// pB: weight on the 15 days -9..5 and on day 7, at 12:00 Tokyo.
	rs = nil
	for d := -9; d <= 7; d++ {
		if d != 6 {
			rs = append(rs, harness.Reading(vitals.BodyWeight, 90, "kg", p.day(d).Add(12*time.Hour)))
		}
	}
	p.publish(t, "pB", rs...)
	s.WaitCount(t, "pA", vitals.BodyWeight, p.day(-60), p.day(0), 16, 10*time.Second)
	s.WaitCount(t, "pB", vitals.BodyWeight, p.day(-60), p.day(14), 16, 10*time.Second)

	// Alerts of pB (on days that have weights already), at known times.
	a1 := p.fire(t, "pB", vitals.HeartRate, 160, "/min", p.day(1).Add(10*time.Hour))
	p.ack(t, a1, 2*time.Minute)
	p.resolve(t, a1, `{"outcome":"not_clinically_relevant","reason":"known baseline"}`, vitals.HeartRate, 80, "/min")
	a2 := p.fire(t, "pB", vitals.HeartRate, 161, "/min", p.day(2).Add(10*time.Hour))
	p.ack(t, a2, 10*time.Minute)
	p.resolve(t, a2, `{"outcome":"acted_on"}`, vitals.HeartRate, 80, "/min")
	a3 := p.fire(t, "pB", vitals.HeartRate, 162, "/min", p.day(3).Add(10*time.Hour))
	p.ack(t, a3, 4*time.Minute)
	p.resolve(t, a3, `{"outcome":"artifact","reason":"cuff loose"}`, vitals.HeartRate, 80, "/min")
	a4 := p.fire(t, "pB", vitals.SpO2, 80, "%", p.day(3).Add(11*time.Hour))
	p.ack(t, a4, time.Minute)
	p.resolve(t, a4, `{"reason":"an older client: a reason, no outcome"}`, vitals.SpO2, 97, "%")
	// a5 is left unacknowledged past the escalation time: it escalates
	// (high -> critical) and is acknowledged 20 minutes after it fired.
	a5 := p.fire(t, "pB", vitals.HeartRate, 163, "/min", p.day(4).Add(10*time.Hour))
	p.setClock(a5.FiredAt.Add(15 * time.Minute))
	require.Eventually(t, func() bool {
		for _, a := range s.Alerts(t, "pB", true) {
			if a.ID == a5.ID && !a.EscalatedAt.IsZero() {
				return true
			}
		}
		return false
	}, 15*time.Second, 100*time.Millisecond, "the unacknowledged alert escalates")
	p.ack(t, a5, 20*time.Minute)
	// Another team's alert, in the same week.
	p.fire(t, "pE", vitals.HeartRate, 170, "/min", p.day(4).Add(12*time.Hour))
	// Week 2: one critical alert, acknowledged in 30 s, a duplicate.
	a7 := p.fire(t, "pB", vitals.SpO2, 79, "%", p.day(7).Add(12*time.Hour))
	p.ack(t, a7, 30*time.Second)
	p.resolve(t, a7, `{"outcome":"duplicate"}`, vitals.SpO2, 97, "%")
	p.setClock(time.Now())

	t.Run("a resolve outcome outside the list is refused and changes nothing", func(t *testing.T) {
		a := p.fire(t, "pA", vitals.HeartRate, 155, "/min", time.Now().Add(-time.Minute))
		p.setClock(time.Now())
		for _, body := range []string{`{"outcome":"bored"}`, `{"outcome":"other"}`, `{"outcome":"other","reason":"` + strings.Repeat("x", 1001) + `"}`, `{}`} {
			status, answer := s.Raw(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", a.ID), s.Clinician("doc1"), "application/json", "", []byte(body))
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Contains(t, string(answer), `"error":`, body)
		}
		list := s.Alerts(t, "pA", true)
		require.Equal(t, alerts.Firing, list[0].State, "still open")
		p.s.MustCall(t, http.StatusOK, "POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", a.ID), s.Clinician("doc1"), `{"outcome":"other","reason":"patient climbing stairs"}`, nil)
		list = s.Alerts(t, "pA", true)
		require.Equal(t, alerts.Resolved, list[0].State)
		require.Equal(t, "other", list[0].ResolveOutcome)
		require.Equal(t, "patient climbing stairs", list[0].ResolveReason)
	})

	from, to := p.day(0).Format(time.DateOnly), p.day(14).Format(time.DateOnly)
	q := url.Values{"from": {from}, "to": {to}, "period": {"week"}}

	t.Run("the weekly measures of the ward are those computed by hand", func(t *testing.T) {
		var rep httpapi.MeasuresReport
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/measures?"+q.Encode(), s.Clinician("doc1"), nil, &rep)
		require.Equal(t, "Asia/Tokyo", rep.TimeZone)
		require.Equal(t, 4, rep.Patients, "the ward's patients: pA, pB, pC, pD")
		require.Len(t, rep.Periods, 2)
		w1, w2 := rep.Periods[0], rep.Periods[1]
		require.True(t, w1.Start.Equal(p.day(0)) && w1.End.Equal(p.day(7)), "week 1 is Monday to Monday in Tokyo: %s-%s", w1.Start, w1.End)

		// Adherence, week 1: the 30 days -23..6. pA 16 days (adherent,
		// last on -8: 14 days before day 6); pB 15 days (last on 5: 1
		// day); pD enrolled from day 3, none; pC not enrolled.
		require.Equal(t, p.day(-23).Format(time.DateOnly), w1.Adherence.WindowStart)
		require.Equal(t, p.day(6).Format(time.DateOnly), w1.Adherence.WindowEnd)
		require.Equal(t, 3, w1.Adherence.Patients)
		require.Equal(t, 1, w1.Adherence.Adherent)
		require.InDelta(t, 0.3333, *w1.Adherence.Share, 1e-9)
		require.Equal(t, 7.5, *w1.Adherence.DaysSinceLastMedian)
		require.Equal(t, 14, *w1.Adherence.DaysSinceLastMax)
		require.Equal(t, 1, w1.Adherence.NoReadings)
		// Week 2: the days -16..13. pA (enrolled until day 10) 9 days
		// (last -8: 21 days); pB 16 days with day 7 (adherent, 6 days);
		// pD none.
		require.Equal(t, 3, w2.Adherence.Patients)
		require.Equal(t, 1, w2.Adherence.NoReadings)
		require.Equal(t, 1, w2.Adherence.Adherent)
		require.Equal(t, 13.5, *w2.Adherence.DaysSinceLastMedian)
		require.Equal(t, 21, *w2.Adherence.DaysSinceLastMax)

		// Alert response, week 1: four high alerts acknowledged after
		// 120, 600, 240 and 1200 s (nearest rank: p50 240, p90 1200), one
		// of them escalated (counted under the severity it fired with);
		// one critical after 60 s. pE's is another team's.
		r := w1.Response
		require.Equal(t, 5, r.Fired)
		require.Equal(t, 5, r.Acknowledged)
		require.Equal(t, 1, r.Escalated)
		require.Equal(t, 4, r.BySeverity["high"].Fired)
		require.Equal(t, 240.0, *r.BySeverity["high"].AckP50)
		require.Equal(t, 1200.0, *r.BySeverity["high"].AckP90)
		require.Equal(t, 1, r.BySeverity["high"].Escalated)
		require.Equal(t, 1, r.BySeverity["critical"].Fired)
		require.Equal(t, 60.0, *r.BySeverity["critical"].AckP50)
		require.Equal(t, 60.0, *r.BySeverity["critical"].AckP90)
		require.Equal(t, 30.0, *w2.Response.BySeverity["critical"].AckP50)

		// Alert burden, week 1: 5 alerts over 18 patient-days enrolled
		// (pA 7, pB 7, pD days 3-6: 4); 4 resolved by hand, 3 with an
		// outcome, 2 of them not clinically relevant (not relevant,
		// artifact). Week 2: pA days 7-10 (4), pB 7, pD 7.
		b := w1.Burden
		require.Equal(t, 18, b.PatientDays)
		require.Equal(t, 5, b.Alerts)
		require.InDelta(t, 5.0/18, *b.AlertsPerPatientDay, 1e-4)
		require.Equal(t, 18, w2.Burden.PatientDays)
		require.Equal(t, 4, b.ResolvedByHand)
		require.Equal(t, 3, b.WithOutcome)
		require.Equal(t, 2, b.NotClinicallyRelevant)
		require.InDelta(t, 0.6667, *b.NotRelevantShare, 1e-9)
		require.Equal(t, map[string]int{"not_clinically_relevant": 1, "acted_on": 1, "artifact": 1}, b.Outcomes)
		require.Equal(t, 0.0, *w2.Burden.NotRelevantShare)
		require.Equal(t, 0, w1.Visits.Visits)
	})

	t.Run("the same report as CSV has the same figures", func(t *testing.T) {
		q := url.Values{"from": {from}, "to": {to}, "period": {"week"}, "format": {"csv"}}
		status, body := s.Raw(t, "GET", "/api/v1/reports/measures?"+q.Encode(), s.Clinician("doc1"), "", "", nil)
		require.Equal(t, http.StatusOK, status)
		recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 3, "a header and a row a week")
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		w1 := recs[1]
		require.Equal(t, "0.3333", w1[col["adherence_share"]])
		require.Equal(t, "240", w1[col["high_ack_seconds_p50"]])
		require.Equal(t, "1200", w1[col["high_ack_seconds_p90"]])
		require.Equal(t, "18", w1[col["patient_days"]])
		require.Equal(t, "0.6667", w1[col["not_clinically_relevant_share"]])
		require.Equal(t, "0", w1[col["visits"]])
	})

	t.Run("a clinician sees only their care teams; an admin any", func(t *testing.T) {
		q := url.Values{"from": {from}, "to": {to}, "period": {"week"}, "care_team": {"other"}}
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/reports/measures?"+q.Encode(), s.Clinician("doc1"), nil, nil))
		var rep httpapi.MeasuresReport
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/measures?"+q.Encode(), s.Admin(), nil, &rep)
		require.Equal(t, 1, rep.Patients)
		require.Equal(t, 1, rep.Periods[0].Response.Fired, "pE's alert")
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/reports/measures", s.Patient("pB"), nil, nil))
		// Every report is in the audit log, the refusal too.
		var allowed, refused int
		for _, e := range s.Audit(t, "*") {
			if e.Action == "GET /api/v1/reports/measures" {
				if e.Outcome == "allowed" {
					allowed++
				} else {
					refused++
				}
			}
		}
		require.GreaterOrEqual(t, allowed, 3)
		require.GreaterOrEqual(t, refused, 1)
	})

	t.Run("bad requests are refused with a reason", func(t *testing.T) {
		for _, bad := range []string{"period=day", "from=2026-13-01", "from=2020-01-01&to=2026-01-01", "from=2026-02-01&to=2026-01-01", "format=xml"} {
			status, answer := s.Raw(t, "GET", "/api/v1/reports/measures?"+bad, s.Clinician("doc1"), "", "", nil)
			require.Equal(t, http.StatusBadRequest, status, bad)
			require.Contains(t, string(answer), `"error":`, bad)
		}
	})

	t.Run("visits and care-management time count per monitored patient", func(t *testing.T) {
		doc1 := s.Clinician("doc1")
		var created httpapi.VisitCreated
		require.Equal(t, http.StatusCreated, s.Call(t, "POST", "/api/v1/patients/pB/visits", doc1, `{}`, &created))
		id := created.Visit.ID
		// Admitted ahead, so the patient enters without waiting (the
		// waiting room is tested in test/visits).
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/admit", doc1, map[string]string{"subject": "pB"}, nil)
		u, err := url.Parse(created.PatientLink.URL)
		require.NoError(t, err)
		jq, err := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/join?"))
		require.NoError(t, err)
		pc, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(jq.Get("code")), nil)
		require.NoError(t, err)
		defer pc.Close()
		cc, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+id, http.Header{"Authorization": {"Bearer " + doc1}})
		require.NoError(t, err)
		defer cc.Close()
		require.NoError(t, pc.WriteJSON(map[string]string{"type": "join"}))
		require.NoError(t, cc.WriteJSON(map[string]string{"type": "join"}))
		time.Sleep(2100 * time.Millisecond) // both in the visit for two seconds and more
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+id+"/end", doc1, `{}`, nil)
		var v httpapi.VisitView
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/visits/"+id, doc1, nil, &v)
		require.GreaterOrEqual(t, v.InteractiveSeconds, 2)

		// Time recorded this month: a 10-minute phone call with pB
		// (interactive); a 5-minute data review of pD; a 2-minute plan
		// adjustment of pB corrected to 3 minutes (the correction counts
		// instead); a 15-minute call of pD withdrawn (counts not at all);
		// a 30-minute call of pC, in the ward but not enrolled (not
		// program time).
		now := time.Now()
		p.setClock(now)
		record := func(patient string, e rpm.NewTimeEntry) rpm.TimeEntry {
			t.Helper()
			var te rpm.TimeEntry
			s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/"+patient+"/time-entries", doc1, e, &te)
			return te
		}
		start := now.Add(-time.Minute)
		record("pB", rpm.NewTimeEntry{Start: start, Seconds: 600, Kind: rpm.KindPhoneCall})
		record("pD", rpm.NewTimeEntry{Start: start, Seconds: 300, Kind: rpm.KindDataReview})
		plan := record("pB", rpm.NewTimeEntry{Start: start, Seconds: 120, Kind: rpm.KindPlanAdjustment})
		record("pB", rpm.NewTimeEntry{Start: start, Seconds: 180, Kind: rpm.KindPlanAdjustment, Supersedes: plan.ID})
		call := record("pD", rpm.NewTimeEntry{Start: start, Seconds: 900, Kind: rpm.KindPhoneCall})
		record("pD", rpm.NewTimeEntry{Supersedes: call.ID, Void: true})
		record("pC", rpm.NewTimeEntry{Start: start, Seconds: 1800, Kind: rpm.KindPhoneCall})

		q := url.Values{"period": {"month"}, "from": {now.In(tokyo).Format(time.DateOnly)}, "to": {now.In(tokyo).AddDate(0, 0, 1).Format(time.DateOnly)}}
		var rep httpapi.MeasuresReport
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/measures?"+q.Encode(), doc1, nil, &rep)
		require.Len(t, rep.Periods, 1)
		vs := rep.Periods[0].Visits
		// Enrolled in this month: pB and pD; pA too when its last day
		// (day 10) falls in it; pC is not enrolled.
		patients := 2.0
		if p.day(11).After(rep.Periods[0].Start) {
			patients = 3
		}
		require.Equal(t, int(patients), vs.Patients)
		require.Equal(t, 1, vs.Visits)
		mins := float64(v.InteractiveSeconds) / 60
		require.InDelta(t, mins, vs.InteractiveMinutes, 0.006)
		require.Equal(t, 10.0, vs.EntryInteractiveMinutes, "pB's call; not pD's withdrawn one, nor pC's")
		require.Equal(t, 8.0, vs.EntryNonInteractiveMinutes, "pD's review 5 and pB's corrected plan 3")
		require.InDelta(t, 1/patients, *vs.VisitsPerPatient, 1e-4)
		require.InDelta(t, (mins+10+8)/patients, *vs.MinutesPerPatient, 0.006)
		require.InDelta(t, (mins+10)/patients, *vs.InteractiveMinutesPerPatient, 0.006)

		q.Set("format", "csv")
		status, body := s.Raw(t, "GET", "/api/v1/reports/measures?"+q.Encode(), doc1, "", "", nil)
		require.Equal(t, http.StatusOK, status)
		recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 2)
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		require.Equal(t, "10", recs[1][col["time_entry_interactive_minutes"]])
		require.Equal(t, "8", recs[1][col["time_entry_non_interactive_minutes"]])
	})
}
