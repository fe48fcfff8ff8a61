package dashboard_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestASepticPatientIsOneProblemInTheAlertsPanelAndOnTheTile(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	browser := testenv.StartBrowser(t)
	doc := s.SignIn(t, browser, "doc1", auth.RoleClinician)
	doc.Wait(`document.querySelectorAll('li.tile').length === 2`, 10*time.Second)
	s.WaitSubscribed(t, "doc1", "p1", 10*time.Second)

	// Nine minutes of a sepsis from the chest patch: heart and breathing
	// quicken, the temperature climbs, SpO2 falls.
	start := time.Now().UTC().Add(-9 * time.Minute)
	var rs []string
	for sec := 0; sec <= 540; sec += 10 {
		at := start.Add(time.Duration(sec) * time.Second)
		f := math.Min(float64(sec)/240, 1)
		rs = append(rs,
			harness.Reading(vitals.HeartRate, math.Round(95+45*f), "/min", at),
			harness.Reading(vitals.RespiratoryRate, math.Round(18+10*f), "/min", at),
			harness.Reading(vitals.SpO2, math.Round(96-4*f), "%", at),
			harness.Reading(vitals.BodyTemperature, math.Round((38.0+1.4*f)*10)/10, "Cel", at))
	}
	devs["p1"].Publish(harness.Batch(1, rs...))

	item := `document.querySelector('#alert-list li[data-alert]')`
	doc.Wait(item+` && `+item+`.textContent.includes('news2 high') && `+item+`.textContent.includes('critical') && `+item+`.textContent.includes('Also in this problem')`, 10*time.Second)
	require.Equal(t, 1, testenv.Eval[int](doc, `document.querySelectorAll('#alert-list > li[data-alert]').length`), "one notification for one deterioration")
	related := testenv.Eval[string](doc, item+`.querySelector('.related').textContent`)
	for _, r := range []string{"heart rate high", "news2 medium", "respiratory rate high"} {
		require.Contains(t, related, r, "the others are inside it")
	}
	tile := testenv.Eval[string](doc, `document.querySelector('[data-patient="p1"] .tile-alerts').textContent`)
	require.Contains(t, tile, "1 open problem:")
	require.Contains(t, tile, "related)")
	doc.Screenshot("problem")
	require.Empty(t, harness.Axe(t, doc), "serious accessibility violations with a problem in the panel")
}
