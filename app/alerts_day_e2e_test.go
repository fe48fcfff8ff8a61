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
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

// TestAlertsEndToEndScriptedDay replays the scored scenario (100
// simulated patients for 24 simulated hours, a third with a scripted
// sepsis, hypoxemia, hypoglycaemia or tachyarrhythmia; internal/alertscore)
// at accelerated time, through the embedded MQTT broker into SQLite (every
// device with its own credentials) and through a real Mosquitto into a real
// InfluxDB, with the service's clock following the simulation. The alerts
// the service stores are scored against the simulator's ground truth: every
// evident episode detected within 10 s of becoming evident (its rule's
// duration + 10 s from the breach), no alert without a condition, none on
// healthy patients' ordinary days.
func TestAlertsEndToEndScriptedDay(t *testing.T) {
	t.Run("embedded broker into SQLite", func(t *testing.T) { replayScriptedDay(t, false) })
	t.Run("Mosquitto into InfluxDB", func(t *testing.T) { replayScriptedDay(t, true) })
}

// readingCounter is a sink that counts the durable readings the rules
// have seen (the service calls the alerts sink first).
type readingCounter struct{ n atomic.Int64 }

func (c *readingCounter) Readings(b []vitals.Reading) { c.n.Add(int64(len(b))) }

func replayScriptedDay(t *testing.T, external bool) {
	sc, _, err := alertscore.ScriptedDay(2026, 100)
	require.NoError(t, err)

	var simNow atomic.Int64
	simNow.Store(sc.Start.UnixNano())
	clock := func() time.Time { return time.Unix(0, simNow.Load()).UTC() }
	cfg := testConfig(t)
	var m *testenv.Mosquitto
	if external {
		useInflux(t, &cfg)
		m = useMosquitto(t, &cfg)
	}
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	counter := &readingCounter{}
	a, err := app.New(context.Background(), cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel), app.Options{Clock: clock, Sink: counter})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitReady(t, a)

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
		clients[d.ID] = connectDevice(t, brokerURL(a, m), d.ID, secret).c
	}

	// A simulated minute at a time: the clock moves to the minute's end,
	// then every device publishes what it sent in that minute, in order,
	// each waiting for the broker's acknowledgement, and the minute ends
	// when the rules have seen every reading of it (the embedded broker
	// acknowledges only then; Mosquitto at once).
	start := time.Now()
	var emissions []simulators.Emission
	var want int64
	for at := sc.Start.Add(time.Minute); !at.After(sim.End()); at = at.Add(time.Minute) {
		byDevice := map[string][]simulators.Emission{}
		require.NoError(t, sim.Advance(at, func(e simulators.Emission) {
			byDevice[e.Device] = append(byDevice[e.Device], e)
			emissions = append(emissions, e)
			want += int64(e.Readings)
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
		for deadline := time.Now().Add(30 * time.Second); counter.n.Load() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("minute to %s: the rules saw %d of %d readings", at.Format(time.RFC3339), counter.n.Load(), want)
			}
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
	for _, al := range stored {
		fires = append(fires, alertscore.Fire{Patient: al.Patient, Rule: al.Rule, At: al.FiredAt, Until: al.ResolvedAt})
	}
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	res := gt.Score(fires)
	res.Log(t.Logf, len(fires))
	missedBy := map[string]int{}
	for _, m := range res.Missed {
		var p, rule string
		fmt.Sscan(m, &p, &rule)
		missedBy[rule]++
	}
	t.Logf("missed by rule: %v", missedBy)

	alertscore.RequireTargets(t, res, alertscore.HealthyDayAlerts(sc, fires))
}
