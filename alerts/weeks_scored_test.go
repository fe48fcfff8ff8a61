//go:build scored

package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

// TestScoredWeeksOneNotificationPerEpisode plays the scored scenario over
// days (alertscore.Weeks: a heart-failure decompensation, an infection
// before symptoms, hypertensive urgency on two days, a watch left on its
// charger for a day, beside patients of every profile living ordinary
// weeks) through the alerts service in simulated time: the engine, the
// personal baselines, the no-data checks a minute apart, the records
// database's alert groups and the webhook outbox. It scores the alerts
// against the ground truth (precision and recall 1.0 on evident
// episodes), counts the notifications (alert.firing webhook deliveries:
// one per problem) per scripted episode, and logs the detection delay per
// rule. Behind the build tag "scored" (16 simulated days).
func TestScoredWeeksOneNotificationPerEpisode(t *testing.T) {
	ctx := context.Background()
	sc, episodes, err := alertscore.Weeks(2026, 10)
	require.NoError(t, err)
	scale := map[string]int{}
	for _, p := range sc.Patients {
		scale[p.ID] = 1
		if p.Profile.Scale2() {
			scale[p.ID] = 2
		}
	}
	var truth bytes.Buffer
	sim := simulators.NewSimulation(sc, &truth)

	db, err := sqldb.OpenRecords(ctx, filepath.Join(t.TempDir(), "records.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var clock atomic.Int64
	clock.Store(sc.Start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	engine := alerts.NewEngine(alerts.DefaultRules(), func(p string) alerts.PatientInfo {
		return alerts.PatientInfo{Scale: scale[p], OnOxygen: scale[p] == 2}
	})
	known := &firedAt{at: map[int64]time.Time{}, now: now}
	svc := alerts.NewService(engine, alerts.NewStore(db), known, zerolog.Nop(), nil)
	svc.SetClock(now)
	hooks := alerts.NewWebhooks(db, []alerts.Webhook{{URL: "https://pager.example.org/hooks/vitalwire", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, zerolog.Nop())
	svc.SetWebhooks(hooks)

	patientOf := map[string]string{}
	for _, d := range sim.Devices() {
		patientOf[d.ID] = d.Patient
	}
	var msg ingest.Message
	emit := func(e simulators.Emission) {
		if e.Readings == 0 || ingest.Decode(e.Payload, &msg) != nil {
			return
		}
		var batch []vitals.Reading
		for i := range msg.Readings {
			var r vitals.Reading
			if ingest.Normalize(&msg.Readings[i], e.Device, e.At, 5*time.Minute, 0, &r) != nil {
				continue
			}
			r.Patient = patientOf[e.Device]
			batch = append(batch, r)
		}
		clock.Store(e.At.UnixNano())
		svc.Readings(batch)
	}
	for m := sc.Start.Add(time.Minute); !m.After(sim.End()); m = m.Add(time.Minute) {
		require.NoError(t, sim.Advance(m, emit))
		clock.Store(m.UnixNano())
		svc.Tick(ctx) // the no-data checks, as Run does every interval
	}

	// The alerts as stored, scored.
	var ids []string
	for _, p := range sc.Patients {
		ids = append(ids, p.ID)
	}
	stored, err := alerts.NewStore(db).List(ctx, ids, false, 10000)
	require.NoError(t, err)
	var all []alertscore.Fire
	for _, a := range stored {
		f := alertscore.Fire{Patient: a.Patient, Rule: a.Rule, At: a.FiredAt, Until: a.ResolvedAt}
		all = append(all, f)
	}
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	fires, others := alertscore.Split(all)
	res := gt.Score(fires)
	res.Log(t.Logf, len(fires))
	t.Logf("alerts of rules without ground truth (not scored): %v", others)

	// Notifications: the alert.firing webhook deliveries (one per
	// problem, another only when a more severe alert joins it).
	rows, err := db.QueryContext(ctx, `SELECT payload FROM webhook_outbox ORDER BY id`)
	require.NoError(t, err)
	notified := map[string][]string{}  // by patient
	byProblem := map[string][]string{} // by patient and problem
	for rows.Next() {
		var b []byte
		require.NoError(t, rows.Scan(&b))
		var pl struct {
			Type string `json:"type"`
			Data struct {
				Patient, Rule string
				FiredAt       time.Time `json:"fired_at"`
			} `json:"data"`
			Problem struct{ Problem string } `json:"problem"`
		}
		require.NoError(t, json.Unmarshal(b, &pl))
		if pl.Type == "alert.firing" {
			n := pl.Data.Rule + " at " + pl.Data.FiredAt.Format(time.RFC3339)
			notified[pl.Data.Patient] = append(notified[pl.Data.Patient], n)
			k := pl.Data.Patient + " " + pl.Problem.Problem
			byProblem[k] = append(byProblem[k], n)
		}
	}
	require.NoError(t, rows.Err())
	rows.Close()
	for p, e := range episodes {
		t.Logf("notifications of %s: %v", p, notified[p])
		t.Logf("notifications of %s's %s: %v", p, e.Problem, byProblem[p+" "+e.Problem])
	}

	// Detection delay per rule: from the episode becoming evident to the
	// alert's time (Score), and from the alert's time to when the service
	// raised it (its clock then: a day's value is judged at the first
	// reading after the day).
	raised := map[string][]time.Duration{}
	for _, a := range stored {
		raised[a.Rule] = append(raised[a.Rule], known.at[a.ID].Sub(a.FiredAt))
	}
	var rules []string
	for r := range res.RuleDelays {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	var table strings.Builder
	table.WriteString("| rule | evident episodes | alert time after evident: median / latest | raised after the alert's time: median / latest |\n|---|---|---|---|\n")
	for _, r := range rules {
		ds, ks := res.RuleDelays[r], raised[r]
		sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
		fmt.Fprintf(&table, "| `%s` | %d | %s / %s | %s / %s |\n", r, len(ds), ds[len(ds)/2], ds[len(ds)-1], ks[len(ks)/2], ks[len(ks)-1])
	}
	t.Logf("detection delay per rule:\n%s", table.String())

	require.Empty(t, res.False, "alerts without a condition")
	require.Empty(t, res.Missed, "evident episodes not detected")
	require.Equal(t, 1.0, res.Precision)
	require.Equal(t, 1.0, res.Recall)
	for _, rule := range []string{"hf_weight_gain_3d", "weight_above_baseline", "resting_heart_rate_above_baseline", "hypertension_systolic", "no_data_heart_rate"} {
		require.NotEmpty(t, res.RuleDelays[rule], "the scenarios have evident episodes of %s", rule)
	}
	require.Empty(t, alertscore.HealthyDayAlerts(sc, all), "alerts on healthy patients' ordinary weeks")
	for p, e := range episodes {
		require.Len(t, byProblem[p+" "+e.Problem], e.Episodes, "one notification per episode of %s", p)
	}
	for _, p := range sc.Patients {
		if e, ok := episodes[p.ID]; ok && p.Profile == simulators.Healthy {
			require.Len(t, notified[p.ID], e.Episodes, "%s, healthy but for the script, has no other notification", p.ID)
		}
	}
	for _, p := range sc.Patients {
		if p.Profile == simulators.Healthy && len(p.Events) == 0 {
			require.Empty(t, notified[p.ID], "no notification on a healthy patient's ordinary weeks")
		}
	}
}

// firedAt notes the service's clock when each alert fired: when the care
// team could know.
type firedAt struct {
	at  map[int64]time.Time
	now func() time.Time
}

func (f *firedAt) AlertChanged(a alerts.Alert) {
	if _, ok := f.at[a.ID]; !ok && a.State == alerts.Firing {
		f.at[a.ID] = f.now()
	}
}
