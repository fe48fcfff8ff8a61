package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestReportRpmPrintsTheMonthsCodesAsTheAPIAnswersThem(t *testing.T) {
	s := harness.Start(t, harness.Config(t))
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "M1", Name: "A Patient", BirthDate: "1950-02-03"})
	s.AddTeam(t, "team-a", "Clinic")
	s.AddMember(t, "team-a", "clinician", "doc-a")
	s.AddMember(t, "team-a", "patient", "p1")
	doc := s.Clinician("doc-a")
	now := time.Now().UTC()
	month := now.Format("2006-01")
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/monitoring", doc,
		rpm.Enrolment{Start: first.Format(time.DateOnly), OrderingClinician: "doc-a", Diagnoses: []string{"I10"}}, nil)
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/time-entries", doc,
		rpm.NewTimeEntry{Start: first.Add(time.Second), Seconds: 1260, Kind: "phone_call"}, nil)
	client := []string{"--server", s.URL(), "--token", s.Admin(), "--data-dir", t.TempDir()}

	code, stdout, stderr := runCLI(t, append([]string{"report", "rpm", "--month", month, "--csv"}, client...)...)
	require.Equal(t, 0, code, stderr)
	_, api := s.Raw(t, "GET", "/api/v1/reports/rpm?month="+month+"&format=csv", s.Admin(), "", "text/csv", nil)
	require.Equal(t, string(api), stdout)
	require.Contains(t, stdout, month+",p1,M1,UTC,I10,99457,yes,1,,0,21:00,1260,")

	code, stdout, stderr = runCLI(t, append([]string{"report", "rpm", "--month", month}, client...)...)
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `p1\s+M1\s+99457\s+yes\s+1\s+0\s+21:00\s+21:00 of care-management time`, stdout)

	code, _, stderr = runCLI(t, append([]string{"report", "rpm", "--month", "May"}, client...)...)
	require.Equal(t, 1, code)
	require.True(t, strings.Contains(stderr, "--month: YYYY-MM"), stderr)
}
