// Package rpm_test checks the remote monitoring program's report end to
// end: readings with past times published through the broker by devices
// bound from then, care-management time through the API, a video visit,
// and the report's JSON, CSV and access, against a table written by hand
// from the rules in docs/RPM.md.
package rpm_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// want is one code's expected outcome.
type want struct {
	met   bool
	units int
}

func TestTheProgramReportAppliesEachCodesRuleToDataBuiltThroughTheRealPipeline(t *testing.T) {
	cfg := harness.Config(t)
	cfg.RPM.TimeZone = "America/Chicago"
	cfg.Ingest.MaxAge = 100 * 24 * time.Hour // back-fill of the last two months
	s := harness.Start(t, cfg)
	clinic, _ := time.LoadLocation("America/Chicago")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")

	// The report's month is last month: every period and entry in it is
	// past. Episodes start 10 days before it, so the first 30-day period
	// runs from the 10th-last day of the month before into this one.
	now := time.Now().In(clinic)
	m1 := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	month := m1.Format("2006-01")
	start := m1.AddDate(0, 0, -10)
	day := func(i int) string { return start.AddDate(0, 0, i).Format(time.DateOnly) }
	at := func(loc *time.Location, i, hour int) time.Time {
		d := start.AddDate(0, 0, i)
		return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, loc)
	}
	inMonth := func(dayOfMonth int, loc *time.Location) time.Time {
		return time.Date(m1.Year(), m1.Month(), dayOfMonth, 10, 0, 0, 0, loc)
	}
	period := day(0) + "/" + day(29)
	require.NotEqual(t, day(0)[:7], day(29)[:7], "the period crosses months")

	pts := []string{"p16", "p15", "pdev", "pmove", "p91", "pvisit"}
	for i, p := range pts {
		rec := chart.Patient{ID: p, MRN: "MRN-" + p, Name: "Patient " + p, BirthDate: "1950-01-0" + string(rune('1'+i))}
		s.AddPatient(t, rec)
	}
	s.AddTeam(t, "team-a", "Heart failure clinic")
	s.AddTeam(t, "team-b", "Hypertension clinic")
	s.AddMember(t, "team-a", "clinician", "doc-a")
	s.AddMember(t, "team-b", "clinician", "doc-b")
	for _, p := range pts {
		if p != "pmove" {
			s.AddMember(t, "team-a", "patient", p)
		}
	}
	s.AddMember(t, "team-b", "patient", "pmove")
	docA, docB := s.Clinician("doc-a"), s.Clinician("doc-b")

	enrol := func(p, tok string, e rpm.Enrolment) {
		t.Helper()
		e.Start, e.OrderingClinician = day(0), "doc-a"
		var ep rpm.Episode
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/"+p+"/monitoring", tok, e, &ep)
	}
	t.Run("enrolment checks the diagnosis codes' form and records the set-up once", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/patients/p16/monitoring", docA,
			rpm.Enrolment{Start: day(0), OrderingClinician: "doc-a", Diagnoses: []string{"I50.9", "heart failure"}}, nil))
		require.Equal(t, http.StatusForbidden, s.Call(t, "POST", "/api/v1/patients/p16/monitoring", docB,
			rpm.Enrolment{Start: day(0), OrderingClinician: "doc-b", Diagnoses: []string{"I50.9"}}, nil), "not doc-b's patient")
		enrol("p16", docA, rpm.Enrolment{Diagnoses: []string{"i50.9", "I10"}, SetupDate: day(0), TimeZone: "Asia/Tokyo"})
		enrol("p15", docA, rpm.Enrolment{Diagnoses: []string{"E11.9", "I10"}, SetupDate: day(0)})
		enrol("pdev", docA, rpm.Enrolment{Diagnoses: []string{"J44.9"}})
		enrol("pmove", docB, rpm.Enrolment{Diagnoses: []string{"I10"}})
		enrol("p91", docA, rpm.Enrolment{Diagnoses: []string{"I50.9"}, Management: "99091"})
		enrol("pvisit", docA, rpm.Enrolment{Diagnoses: []string{"I50.9"}})
		var eps []rpm.Episode
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/p16/monitoring", docA, nil, &eps)
		require.Len(t, eps, 1)
		require.Equal(t, []string{"I50.9", "I10"}, eps[0].Diagnoses)
		require.Equal(t, http.StatusConflict, s.Call(t, "POST", "/api/v1/patients/p16/monitoring/"+eps[0].ID, docA,
			rpm.EpisodeChange{SetupDate: day(1)}, nil), "99453's set-up is recorded once per episode")
	})

	// Readings: few per day, published with their past times by devices
	// bound from before the episode.
	publish := func(dev, secret string, times ...time.Time) {
		t.Helper()
		d := harness.Connect(t, s.BrokerURL(), dev, secret)
		var rs []string
		for _, x := range times {
			rs = append(rs, harness.Reading(vitals.HeartRate, 70, "/min", x))
		}
		d.Publish(harness.Batch(1, rs...))
	}
	bound := start.Add(-48 * time.Hour)
	// p16 lives in Tokyo: 07:00 there on the first day is the evening
	// before in UTC; counted in UTC it would be 15 days, in Tokyo 16.
	times := []time.Time{at(tokyo, 0, 7)}
	for i := 1; i <= 15; i++ {
		times = append(times, at(tokyo, i, 12))
	}
	publish("p16-w", s.AddDeviceFrom(t, "p16-w", "", "p16", bound), times...)
	times = nil
	for i := 0; i < 15; i++ {
		times = append(times, at(clinic, i, 12), at(clinic, i, 18)) // two a day: still one day
	}
	publish("p15-w", s.AddDeviceFrom(t, "p15-w", "", "p15", bound), times...)
	// pdev changes device mid-period: the old one on days 0-7, the new
	// one, bound from day 8, on days 8-15.
	secA := s.AddDeviceFrom(t, "pdev-a", "", "pdev", bound)
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/devices/pdev-a/unbind", s.Admin(), map[string]any{"at": at(clinic, 8, 0)}, nil)
	secB := s.AddDeviceFrom(t, "pdev-b", "", "pdev", at(clinic, 8, 0))
	times = nil
	for i := 0; i < 8; i++ {
		times = append(times, at(clinic, i, 9))
	}
	publish("pdev-a", secA, times...)
	times = nil
	for i := 8; i < 16; i++ {
		times = append(times, at(clinic, i, 9))
	}
	publish("pdev-b", secB, times...)
	s.WaitCount(t, "p16", vitals.HeartRate, at(tokyo, -1, 0), at(tokyo, 30, 0), 16, 20*time.Second)
	s.WaitCount(t, "p15", vitals.HeartRate, at(clinic, -1, 0), at(clinic, 30, 0), 30, 20*time.Second)
	s.WaitCount(t, "pdev", vitals.HeartRate, at(clinic, -1, 0), at(clinic, 30, 0), 16, 20*time.Second)

	// Care-management time in the month.
	record := func(p, tok string, e rpm.NewTimeEntry) rpm.TimeEntry {
		t.Helper()
		var te rpm.TimeEntry
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/"+p+"/time-entries", tok, e, &te)
		return te
	}
	t.Run("time entries are recorded and a correction supersedes without overwriting", func(t *testing.T) {
		record("p16", docA, rpm.NewTimeEntry{Start: inMonth(4, tokyo), Seconds: 1200, Kind: "phone_call", Note: "20:00 exactly"})
		first := record("p15", docA, rpm.NewTimeEntry{Start: inMonth(5, clinic), Seconds: 1500, Kind: "phone_call"})
		fixed := record("p15", docA, rpm.NewTimeEntry{Start: inMonth(5, clinic), Seconds: 1199, Kind: "phone_call", Supersedes: first.ID,
			Note: "the call was 19:59"})
		require.Equal(t, http.StatusConflict, s.Call(t, "POST", "/api/v1/patients/p15/time-entries", docA,
			rpm.NewTimeEntry{Start: inMonth(5, clinic), Seconds: 60, Kind: "phone_call", Supersedes: first.ID}, nil), "corrected once")
		var hist []rpm.TimeEntry
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/p15/time-entries?month="+month, docA, nil, &hist)
		require.Len(t, hist, 2, "the corrected entry is kept")
		byID := map[int64]rpm.TimeEntry{hist[0].ID: hist[0], hist[1].ID: hist[1]}
		require.Equal(t, fixed.ID, byID[first.ID].SupersededBy)
		require.Equal(t, 1500, byID[first.ID].Seconds)
		require.Equal(t, first.ID, byID[fixed.ID].Supersedes)
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/patients/p15/time-entries", docA,
			rpm.NewTimeEntry{Start: inMonth(5, clinic), Seconds: 60, Kind: "phone_call", Note: strings.Repeat("x", 2001)}, nil))
		require.Equal(t, http.StatusForbidden, s.Call(t, "POST", "/api/v1/patients/p15/time-entries", s.Patient("p15"),
			rpm.NewTimeEntry{Start: inMonth(5, clinic), Seconds: 60, Kind: "phone_call"}, nil), "a patient records no time")

		record("pdev", docA, rpm.NewTimeEntry{Start: inMonth(6, clinic), Seconds: 2700, Kind: "data_review"})
		// pmove: a call by team B, then the patient moves to team A,
		// whose clinician reviews the data.
		record("pmove", docB, rpm.NewTimeEntry{Start: inMonth(3, clinic), Seconds: 600, Kind: "phone_call"})
		s.RemoveMember(t, "team-b", "patient", "pmove")
		s.AddMember(t, "team-a", "patient", "pmove")
		record("pmove", docA, rpm.NewTimeEntry{Start: inMonth(20, clinic), Seconds: 1800, Kind: "data_review"})
		record("p91", docA, rpm.NewTimeEntry{Start: inMonth(7, clinic), Seconds: 1800, Kind: "data_review"})
	})

	// The expected table, from the rules (docs/RPM.md), by hand.
	no, yes := want{}, want{true, 1}
	expected := map[string]map[string]want{
		// 16 Tokyo days; 20:00 with a call.
		"p16": {"99453": yes, "99454": yes, "99445": no, "99457": yes, "99458": no, "99470": no, "99091": no},
		// 15 days (2026: 99445, and 99453 with it); 19:59 after the correction.
		"p15": {"99453": yes, "99454": no, "99445": yes, "99457": no, "99458": no, "99470": yes, "99091": no},
		// 16 days over two devices; 45:00 without an interactive communication.
		"pdev": {"99453": no, "99454": yes, "99445": no, "99457": no, "99458": no, "99470": no, "99091": no},
		// No device data; 10:00 call by team B + 30:00 review by team A.
		"pmove": {"99453": no, "99454": no, "99445": no, "99457": yes, "99458": {true, 1}, "99470": no, "99091": no},
		// 99091 chosen: 30:00 of interpretation; never 99457.
		"p91": {"99453": no, "99454": no, "99445": no, "99457": no, "99458": no, "99470": no, "99091": yes},
		// Nothing in the month.
		"pvisit": {"99453": no, "99454": no, "99445": no, "99457": no, "99458": no, "99470": no, "99091": no},
	}
	days := map[string]int{"p16": 16, "p15": 15, "pdev": 16, "pmove": 0, "p91": 0, "pvisit": 0}
	seconds := map[string]int{"p16": 1200, "p15": 1199, "pdev": 2700, "pmove": 2400, "p91": 1800, "pvisit": 0}

	check := func(t *testing.T, rep rpm.Report, only []string) {
		t.Helper()
		got := map[string]rpm.PatientReport{}
		for _, p := range rep.Patients {
			got[p.Patient] = p
		}
		require.Len(t, got, len(only))
		for _, p := range only {
			pr, ok := got[p]
			require.True(t, ok, "%s in the report", p)
			require.Len(t, pr.Lines, 7, p)
			for _, l := range pr.Lines {
				w := expected[p][l.Code]
				require.Equal(t, w.met, l.Met, "%s %s: %s", p, l.Code, l.Explanation)
				require.Equal(t, w.units, l.Units, "%s %s units", p, l.Code)
				require.NotEmpty(t, l.Explanation)
				switch l.Code {
				case "99454", "99445":
					require.Equal(t, period, l.Period, "%s %s", p, l.Code)
					require.Equal(t, days[p], l.DaysWithData, "%s days with data", p)
				case "99457", "99458", "99470", "99091":
					require.Equal(t, seconds[p], l.Seconds, "%s seconds", p)
				}
			}
		}
	}

	t.Run("the admin's report has every patient and every code as the rules say", func(t *testing.T) {
		var rep rpm.Report
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/rpm?month="+month, s.Admin(), nil, &rep)
		check(t, rep, pts)
		for _, p := range rep.Patients {
			if p.Patient == "p16" {
				require.Equal(t, "Asia/Tokyo", p.TimeZone)
				require.Equal(t, []string{"I10", "I50.9"}, p.Diagnoses)
			}
			if p.Patient == "p15" {
				require.Equal(t, "America/Chicago", p.TimeZone, "the clinic's")
			}
		}
	})

	t.Run("the CSV has one row per patient and code with diagnoses, days, minutes and the reason", func(t *testing.T) {
		code, body := s.Raw(t, "GET", "/api/v1/reports/rpm?month="+month+"&format=csv", s.Admin(), "", "text/csv", nil)
		require.Equal(t, http.StatusOK, code)
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, []string{"month", "patient", "mrn", "time_zone", "diagnoses", "code", "met", "units", "period",
			"days_with_data", "minutes", "seconds", "reason"}, rows[0])
		require.Len(t, rows, 1+len(pts)*7)
		seen := map[string]bool{}
		for _, r := range rows[1:] {
			p, c := r[1], r[5]
			seen[p+"/"+c] = true
			w := expected[p][c]
			require.Equal(t, map[bool]string{true: "yes", false: "no"}[w.met], r[6], "%s %s: %s", p, c, r[12])
			require.NotEmpty(t, r[12], "a reason")
		}
		require.Len(t, seen, len(pts)*7)
		require.Contains(t, string(body), month+",p15,MRN-p15,America/Chicago,E11.9 I10,99445,yes,1,"+period+",15,0:00,0,")
		require.Contains(t, string(body), month+",p15,MRN-p15,America/Chicago,E11.9 I10,99457,no,0,,0,19:59,1199,")
	})

	t.Run("a clinician sees their care teams' patients only; a moved patient goes with the move", func(t *testing.T) {
		var rep rpm.Report
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/rpm?month="+month+"&care_team=team-a", docA, nil, &rep)
		check(t, rep, pts)
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/rpm?month="+month, docB, nil, &rep)
		check(t, rep, nil)
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/reports/rpm?month="+month+"&care_team=team-b", docA, nil, nil))
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/reports/rpm?month="+month, s.Patient("p16"), nil, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/reports/rpm?month=2026-13", s.Admin(), nil, nil))
		code, body := s.Raw(t, "GET", "/api/v1/audit?patient=pmove", s.Admin(), "", "application/x-ndjson", nil)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, string(body), "GET /api/v1/reports/rpm", "a report is audited for each patient in it")
	})

	t.Run("a video visit's interactive time counts in the month it happens", func(t *testing.T) {
		thisMonth := now.Format("2006-01")
		record("pvisit", docA, rpm.NewTimeEntry{Start: time.Now().Add(-time.Minute), Seconds: 1199, Kind: "data_review"})
		var before rpm.Report
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/rpm?month="+thisMonth, s.Admin(), nil, &before)
		var created struct {
			Visit struct{ ID string } `json:"visit"`
		}
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/pvisit/visits", docA, `{}`, &created)
		// Admitted ahead, so the patient enters without waiting (the
		// waiting room is tested in test/visits).
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+created.Visit.ID+"/admit", docA, map[string]string{"subject": "pvisit"}, nil)
		api := rtctest.API(t)
		url := s.WSURL() + "/ws/v1/visits/" + created.Visit.ID
		patient := rtctest.Join(t, api, url, "pvisit", http.Header{"Authorization": {"Bearer " + s.Patient("pvisit")}})
		doc := rtctest.Join(t, api, url, "doc-a", http.Header{"Authorization": {"Bearer " + docA}})
		time.Sleep(1200 * time.Millisecond) // a second together
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+created.Visit.ID+"/end", docA, `{}`, nil)
		patient.Close()
		doc.Close()
		var rep rpm.Report
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/reports/rpm?month="+thisMonth, s.Admin(), nil, &rep)
		lineOf := func(r rpm.Report, code string) rpm.Line {
			for _, p := range r.Patients {
				for _, l := range p.Lines {
					if p.Patient == "pvisit" && l.Code == code {
						return l
					}
				}
			}
			t.Fatalf("no %s line for pvisit", code)
			return rpm.Line{}
		}
		require.False(t, lineOf(before, "99457").Met, "19:59 of review, no interactive communication")
		l := lineOf(rep, "99457")
		require.True(t, l.Met, l.Explanation)
		require.GreaterOrEqual(t, l.Seconds, 1200)
	})
}
