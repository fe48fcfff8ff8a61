package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestADeviceOffline30SimulatedMinutesDeliversEveryBufferedReading(t *testing.T) {
	t.Parallel()
	for _, setup := range []string{"embedded broker into sqlite", "mosquitto into influx"} {
		t.Run(setup, func(t *testing.T) {
			t.Parallel()
			cfg := harness.Config(t)
			if setup == "mosquitto into influx" {
				harness.UseInflux(t, &cfg)
				harness.UseMosquitto(t, &cfg)
			}
			svc := harness.Start(t, cfg)
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
			secret := svc.AddDeviceFrom(t, "patient-off-watch", "watch", "patient-off", start.Add(-time.Minute))

			r := &simulators.Runner{Broker: svc.BrokerURL(), QoS: 1, Sim: simulators.NewSimulation(sc, nil),
				Secrets: map[string]string{"patient-off-watch": secret}, Accel: 360} // an hour in ten seconds
			rep, err := r.Run(context.Background())
			require.NoError(t, err)
			require.Empty(t, rep.Errors)
			require.Equal(t, rep.Sent, rep.Acked)
			require.Greater(t, rep.SentReadings, int64(600))

			count := func() (int64, error) {
				var stored int64
				for _, typ := range []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.Steps} {
					n, _, err := svc.Count("patient-off", typ, start, start.Add(2*time.Hour))
					if err != nil {
						return 0, err
					}
					stored += n
				}
				return stored, nil
			}
			require.EventuallyWithT(t, func(ct *assert.CollectT) {
				n, err := count()
				require.NoError(ct, err)
				require.Equal(ct, rep.SentReadings, n, "every reading sent is stored")
			}, 30*time.Second, 100*time.Millisecond)
			// The half hour offline is there too, uploaded late.
			n, _ := svc.Stats(t, "patient-off", vitals.HeartRate, start.Add(10*time.Minute), start.Add(40*time.Minute))
			require.EqualValues(t, 30*60/5, n)
		})
	}
}
