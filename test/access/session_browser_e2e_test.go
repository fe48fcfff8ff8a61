package access

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

// TestAnIdlePageSignsOutButAVideoVisitIsActivity: with a 10-second idle
// time, a dashboard nobody touches signs out visibly, while a clinician
// sitting in a video visit without touching mouse or keyboard stays signed
// in and in the visit.
func TestAnIdlePageSignsOutButAVideoVisitIsActivity(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	cfg.Auth.SessionIdle = 10 * time.Second
	cfg.Sim.Patients = 1 // sim-patient-001, in the dev clinician's care team
	cfg.Sim.Interval = time.Second
	s := harness.Start(t, cfg)
	browser := testenv.StartBrowser(t)

	idle := s.SignIn(t, browser, app.DevClinician, auth.RoleClinician)
	inVisit := s.SignIn(t, browser, app.DevClinician, auth.RoleClinician) // a tab of its own: its own cookies
	inVisit.Go(s.URL() + "/#/patients/sim-patient-001")
	inVisit.Wait(`document.querySelector('#start-visit')`, 15*time.Second)
	testenv.Eval[bool](inVisit, `document.querySelector('#start-visit').click() || true`)
	inVisit.Wait(`document.querySelector('#open-visit')`, 10*time.Second)
	testenv.Eval[bool](inVisit, `document.querySelector('#open-visit').click() || true`)
	inVisit.Wait(`document.querySelector('#end-visit')`, 15*time.Second)
	inVisit.Wait(`document.querySelector('#join-call')`, 15*time.Second)
	testenv.Eval[bool](inVisit, `document.querySelector('#join-call').click() || true`)

	idle.Wait(`document.getElementById('notice').textContent === 'You were signed out after 10 seconds without activity.'`, 20*time.Second)
	require.Contains(t, testenv.Eval[string](idle, `location.hash`), "signin")

	time.Sleep(12 * time.Second) // the visit page is now well past the idle time, untouched
	require.Empty(t, testenv.Eval[string](inVisit, `document.getElementById('notice').textContent`), "no sign-out notice in the visit")
	require.True(t, testenv.Eval[bool](inVisit, `!!document.querySelector('#end-visit')`), "still in the visit")
	require.Contains(t, testenv.Eval[string](inVisit, `document.querySelector('#who').textContent`), "Signed in as "+app.DevClinician)
}
