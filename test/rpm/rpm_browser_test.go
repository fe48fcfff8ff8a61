package rpm_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestTheTimerRecordsCareTimeAndTheReportPageShowsTheCodes(t *testing.T) {
	s := harness.Start(t, harness.Config(t))
	s.AddPatient(t, chart.Patient{ID: "p1", MRN: "MRN-0042", Name: "Ada Example", BirthDate: "1948-05-17"})
	s.AddTeam(t, "team-a", "Heart failure clinic")
	s.AddMember(t, "team-a", "clinician", "doc-a")
	s.AddMember(t, "team-a", "patient", "p1")
	doc := s.Clinician("doc-a")
	now := time.Now().UTC()
	month := now.Format("2006-01")
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/monitoring", doc,
		rpm.Enrolment{Start: first.Format(time.DateOnly), OrderingClinician: "doc-a", Diagnoses: []string{"I50.9", "I10"}}, nil)
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/time-entries", doc,
		rpm.NewTimeEntry{Start: first.Add(time.Second), Seconds: 1199, Kind: "data_review", Note: "Weekly weight review"}, nil)

	b := testenv.StartBrowser(t)
	tab := s.SignIn(t, b, "doc-a", auth.RoleClinician)

	t.Run("the timer on the patient page records a phone call", func(t *testing.T) {
		tab := tab.For(t)
		tab.Go(s.URL() + "/#/patients/p1")
		tab.Wait(`document.querySelector('#rpm-start') && document.querySelector('#rpm-total') && document.querySelector('#rpm-total').textContent.includes('19:59')`, 15*time.Second)
		require.Contains(t, testenv.Eval[string](tab, `document.querySelector('.rpm').textContent`), "diagnoses I50.9, I10")
		testenv.Eval[bool](tab, `document.querySelector('#rpm-start').click(), true`)
		tab.Wait(`document.querySelector('#rpm-clock').textContent === '0:01'`, 5*time.Second)
		testenv.Eval[bool](tab, `(() => { const k = document.querySelector('#rpm-kind'); k.value = 'phone_call'; document.querySelector('#rpm-note').value = 'Called about ankle swelling'; return true })()`)
		tab.Screenshot("rpm-timer-running")
		testenv.Eval[bool](tab, `document.querySelector('#rpm-stop').click(), true`)
		tab.Wait(`document.querySelector('#rpm-status').textContent.startsWith('Recorded 0:0')`, 10*time.Second)
		tab.Wait(`document.querySelector('#rpm-total').textContent.includes('1 interactive call')`, 10*time.Second)
		var es []rpm.TimeEntry
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients/p1/time-entries?month="+month, doc, nil, &es)
		require.Len(t, es, 2)
		require.Equal(t, "phone_call", es[0].Kind)
		require.Equal(t, "Called about ankle swelling", es[0].Note)
		require.GreaterOrEqual(t, es[0].Seconds, 1)
		require.True(t, es[0].Interactive)
		t.Log(tab.Screenshot("rpm-patient"))
		require.Empty(t, harness.Axe(t, tab))
	})

	t.Run("the report page shows each code with its reason", func(t *testing.T) {
		tab := tab.For(t)
		tab.Go(s.URL() + "/#/reports/rpm?month=" + month)
		tab.Wait(`document.querySelector('.rpm-report table')`, 15*time.Second)
		row := func(code string) string {
			return testenv.Eval[string](tab, `[...document.querySelectorAll('.rpm-report tbody tr')].map(r => r.textContent).find(t => t.includes('`+code+`')) || ''`)
		}
		require.Contains(t, row("99457"), "✓ met", "19:59 of review and a call of a second or more")
		require.Contains(t, row("99454"), "✕ not met")
		require.Contains(t, row("99091"), "not chosen")
		t.Log(tab.Screenshot("rpm-report"))
		require.Empty(t, harness.Axe(t, tab))
	})
}
