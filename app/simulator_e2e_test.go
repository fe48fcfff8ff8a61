package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestADeviceOffline30SimulatedMinutesDeliversEveryBufferedReading(t *testing.T) {
	for _, setup := range []string{"embedded broker into sqlite", "mosquitto into influx"} {
		t.Run(setup, func(t *testing.T) {
			cfg := testConfig(t)
			var m *testenv.Mosquitto
			if setup == "mosquitto into influx" {
				useInflux(t, &cfg)
				m = useMosquitto(t, &cfg)
			}
			a := startApp(t, cfg)
			start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
			sc, err := simulators.ParseScenario([]byte(fmt.Sprintf(`
start: %s
duration: 1h
seed: 21
patients:
  - id: patient-off
    profile: heart_failure
    devices: [watch]
    events:
      - {kind: offline, device: watch, at: 10m, for: 30m, order: shuffled}
`, start.Format(time.RFC3339))))
			require.NoError(t, err)
			secret, err := a.Devices.Add(context.Background(), "patient-off-watch", "watch")
			require.NoError(t, err)
			require.NoError(t, a.Devices.Bind(context.Background(), "patient-off-watch", "patient-off", start.Add(-time.Minute)))

			r := &simulators.Runner{Broker: brokerURL(a, m), QoS: 1, Sim: simulators.NewSimulation(sc, nil),
				Secrets: map[string]string{"patient-off-watch": secret}, Accel: 360} // an hour in ten seconds
			rep, err := r.Run(context.Background())
			require.NoError(t, err)
			require.Empty(t, rep.Errors)
			require.Equal(t, rep.Sent, rep.Acked)
			require.Greater(t, rep.SentReadings, int64(600))

			var stored int64
			count := func() int64 {
				stored = 0
				for _, typ := range []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.Steps} {
					n, _ := stats(t, a.Store, "patient-off", typ, start, start.Add(2*time.Hour))
					stored += n
				}
				return stored
			}
			require.Eventually(t, func() bool { return count() == rep.SentReadings }, 30*time.Second, 100*time.Millisecond,
				"stored %d of %d sent", stored, rep.SentReadings)
			// The half hour offline is there too, uploaded late.
			n, _ := stats(t, a.Store, "patient-off", vitals.HeartRate, start.Add(10*time.Minute), start.Add(40*time.Minute))
			require.EqualValues(t, 30*60/5, n)
		})
	}
}
