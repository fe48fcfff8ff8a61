package app_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/simulators"
)

// BenchmarkAlertsReplayDay replays 100 simulated patients for 24
// simulated hours at accelerated time: every device publishes through the
// embedded MQTT broker with its own credentials, readings are stored in
// SQLite, and the service's clock follows the simulation. The alerts the
// service stores are scored against the simulator's ground truth
// (internal/alertscore) and reported: precision, recall, worst detection
// delay, alerts on healthy patients' ordinary days. It is a report, not a
// test, while the figures stay short of the rules issue's targets
// (docs/ALERTS.md). Run it once:
//
//	go test ./app -run '^$' -bench AlertsReplayDay -benchtime 1x -timeout 20m
func BenchmarkAlertsReplayDay(b *testing.B) {
	for range b.N {
		replayDay(b)
	}
}

func replayDay(t *testing.B) {
	sc, err := simulators.ParseScenario([]byte("start: 2026-03-02T00:00:00Z\nduration: 24h\nseed: 2026\ngenerate: 100\n"))
	require.NoError(t, err)
	// Scripted deteriorations for a third of the patients, spread over the
	// day; the rest live their profiles' ordinary days.
	kinds := []simulators.Event{
		{Kind: simulators.EventSepsis, Ramp: 5 * time.Hour},
		{Kind: simulators.EventHypoxemia, For: 40 * time.Minute, Ramp: 2 * time.Minute},
		{Kind: simulators.EventHypoglycaemia, For: 45 * time.Minute, Ramp: 20 * time.Minute},
		{Kind: simulators.EventTachyarrhythmia, For: 15 * time.Minute},
	}
	scripted := map[string]bool{}
	for i := 0; i < len(sc.Patients); i += 3 {
		ev := kinds[(i/3)%len(kinds)]
		ev.At = time.Duration(1+(i*7)%20) * time.Hour
		sc.Patients[i].Events = []simulators.Event{ev}
		scripted[sc.Patients[i].ID] = true
	}

	var simNow atomic.Int64
	simNow.Store(sc.Start.UnixNano())
	clock := func() time.Time { return time.Unix(0, simNow.Load()).UTC() }
	cfg := testConfig(t)
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	a, err := app.New(context.Background(), cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel), app.Options{Clock: clock})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	var truth bytes.Buffer
	sim := simulators.NewSimulation(sc, &truth)
	for _, p := range sc.Patients {
		scale := 1
		if p.Profile.Scale2() {
			scale = 2
		}
		_, err := a.Chart.AddPatient(context.Background(), chart.Patient{ID: p.ID, MRN: "MRN-" + p.ID, Name: p.ID, BirthDate: "1950-01-01",
			SpO2Scale: scale, OnOxygen: p.Profile.OnOxygen()})
		require.NoError(t, err)
	}
	patientOf := map[string]string{}
	clients := map[string]mqtt.Client{}
	for _, d := range sim.Devices() {
		patientOf[d.ID] = d.Patient
		secret, err := a.Devices.Add(context.Background(), d.ID, d.Kind)
		require.NoError(t, err)
		require.NoError(t, a.Devices.Bind(context.Background(), d.ID, d.Patient, sc.Start.Add(-time.Hour)))
		clients[d.ID] = connectDevice(t, "tcp://"+a.BrokerAddr(), d.ID, secret).c
	}

	// A simulated minute at a time: the clock moves to the minute's end,
	// then every device publishes what it sent in that minute, in order,
	// each waiting for the broker's acknowledgement (which comes once the
	// readings are durable and the rules have seen them).
	t.ResetTimer()
	start := time.Now()
	var emissions []simulators.Emission
	for at := sc.Start.Add(time.Minute); !at.After(sim.End()); at = at.Add(time.Minute) {
		byDevice := map[string][]simulators.Emission{}
		require.NoError(t, sim.Advance(at, func(e simulators.Emission) {
			byDevice[e.Device] = append(byDevice[e.Device], e)
			emissions = append(emissions, e)
		}))
		simNow.Store(at.UnixNano())
		var wg sync.WaitGroup
		for dev, es := range byDevice {
			c := clients[dev]
			wg.Go(func() {
				for _, e := range es {
					tok := c.Publish(e.Topic, 1, e.Retained, e.Payload)
					if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
						t.Errorf("publish for %s at %s: %v", dev, e.At, tok.Error())
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("replayed %d messages of 100 patients x 24 h in %s", len(emissions), time.Since(start).Round(time.Second))

	stored, err := a.Alerts.Store().List(context.Background(), func() []string {
		var ids []string
		for _, p := range sc.Patients {
			ids = append(ids, p.ID)
		}
		return ids
	}(), false, 100_000)
	require.NoError(t, err)
	var fires []alertscore.Fire
	perPatient := map[string]int{}
	for _, al := range stored {
		fires = append(fires, alertscore.Fire{Patient: al.Patient, Rule: al.Rule, At: al.FiredAt})
		perPatient[al.Patient]++
	}
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	for _, e := range emissions {
		gt.Measure(e, patientOf)
	}
	res := gt.Score(fires)
	res.Log(t.Logf, len(fires))
	missedBy := map[string]int{}
	for _, m := range res.Missed {
		var p, rule string
		fmt.Sscan(m, &p, &rule)
		missedBy[rule]++
	}
	t.Logf("missed by rule: %v", missedBy)

	healthyAlerts := 0
	for _, p := range sc.Patients {
		if p.Profile == simulators.Healthy && !scripted[p.ID] {
			healthyAlerts += perPatient[p.ID]
			for _, al := range stored {
				if al.Patient == p.ID {
					t.Logf("healthy patient's alert: %s %s at %s value %v", al.Patient, al.Rule, al.FiredAt.Format(time.RFC3339), al.Value)
				}
			}
		}
	}
	t.ReportMetric(res.Precision, "precision")
	t.ReportMetric(res.Recall, "recall")
	t.ReportMetric(res.Worst().Minutes(), "worst-delay-min")
	t.ReportMetric(float64(healthyAlerts), "healthy-alerts")
	t.ReportMetric(float64(len(emissions))/time.Since(start).Seconds(), "msgs/s")
}
