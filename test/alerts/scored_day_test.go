//go:build scored

package alerts_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/alertscore"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/test/harness"
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
//
// It takes minutes: `go test ./...` leaves it out; .ci/run runs it as a
// step of its own (go test -tags scored).
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
	cfg := harness.Config(t)
	if external {
		harness.UseInflux(t, &cfg)
		harness.UseMosquitto(t, &cfg)
	}
	counter := &readingCounter{}
	svc := harness.StartWith(t, cfg, app.Options{Clock: clock, Sink: counter})

	var truth bytes.Buffer
	sim := simulators.NewSimulation(sc, &truth)
	for _, p := range sc.Patients {
		scale := 1
		if p.Profile.Scale2() {
			scale = 2
		}
		svc.AddPatient(t, chart.Patient{ID: p.ID, MRN: "MRN-" + p.ID, Name: p.ID, BirthDate: "1950-01-01",
			SpO2Scale: scale, OnOxygen: p.Profile.OnOxygen()})
	}
	emissions, took := replayThroughBroker(t, svc, sc, sim, counter, &simNow)
	t.Logf("replayed %d messages of 100 patients x 24 h in %s", emissions, took.Round(time.Second))

	// Every alert the service stored, read through the API patient by
	// patient (it answers at most 500 a call).
	var fires []alertscore.Fire
	for _, p := range sc.Patients {
		stored := svc.Alerts(t, p.ID, true)
		require.Less(t, len(stored), 500, "%s's alerts all in one answer", p.ID)
		for _, al := range stored {
			fires = append(fires, alertscore.Fire{Patient: al.Patient, Rule: al.Rule, At: al.FiredAt, Until: al.ResolvedAt})
		}
	}
	gt, err := alertscore.ParseTruth(truth.Bytes(), sim.End())
	require.NoError(t, err)
	all := fires
	fires, others := alertscore.Split(fires)
	t.Logf("alerts of rules the day has no ground truth of (not scored): %v; on healthy profiles' ordinary days: %v",
		others, alertscore.HealthyDayAlerts(sc, all))
	res := gt.Score(fires)
	res.Log(t.Logf, len(fires))
	missedBy := map[string]int{}
	for _, m := range res.Missed {
		var p, rule string
		fmt.Sscan(m, &p, &rule)
		missedBy[rule]++
	}
	t.Logf("missed by rule: %v", missedBy)

	alertscore.RequireTargets(t, res, alertscore.HealthyDayAlerts(sc, all)) // every rule, scored or not, stays silent on a healthy day
}

// replayThroughBroker registers every device of the simulation with the
// service and plays it through the service's broker: it returns the
// messages sent and the time the replay took (devices registered).
func replayThroughBroker(t *testing.T, svc *harness.Service, sc *simulators.Scenario, sim *simulators.Simulation, counter *readingCounter, simNow *atomic.Int64) (emissions int, took time.Duration) {
	clients := map[string]mqtt.Client{}
	for _, d := range sim.Devices() {
		secret := svc.AddDeviceFrom(t, d.ID, d.Kind, d.Patient, sc.Start.Add(-time.Hour))
		clients[d.ID] = harness.Connect(t, svc.BrokerURL(), d.ID, secret).Client
	}

	// A simulated minute at a time: the clock moves to the minute's end,
	// then every device publishes what it sent in that minute, in order,
	// each waiting for the broker's acknowledgement, and the minute ends
	// when the rules have seen every reading of it (the embedded broker
	// acknowledges only then; Mosquitto at once).
	start := time.Now()
	var want int64
	for at := sc.Start.Add(time.Minute); !at.After(sim.End()); at = at.Add(time.Minute) {
		byDevice := map[string][]simulators.Emission{}
		require.NoError(t, sim.Advance(at, func(e simulators.Emission) {
			byDevice[e.Device] = append(byDevice[e.Device], e)
			emissions++
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
	return emissions, time.Since(start)
}
