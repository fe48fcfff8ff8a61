package access

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// checkDeviceIsolation asserts the MQTT contract's access rules on a running
// broker: watch-a and watch-b are devices of patient-a and patient-b. What
// was stored is read from s's API as the patient.
func checkDeviceIsolation(t *testing.T, broker string, s *harness.Service, secretA, secretB string) {
	t.Run("a wrong password is refused", func(t *testing.T) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("intruder").
			SetUsername("watch-a").SetPassword(secretA + "x").SetConnectRetry(false).SetAutoReconnect(false))
		tok := c.Connect()
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.Error(t, tok.Error())
		require.False(t, c.IsConnected())
	})
	t.Run("an unknown device is refused", func(t *testing.T) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("ghost").
			SetUsername("ghost").SetPassword(secretA).SetConnectRetry(false).SetAutoReconnect(false))
		tok := c.Connect()
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.Error(t, tok.Error())
	})
	t.Run("device A cannot publish under device B's id", func(t *testing.T) {
		a := harness.Connect(t, broker, "watch-a", secretA)
		now := time.Now().UTC().Truncate(time.Millisecond)
		// The broker accepts the packet (MQTT 3.1.1 has no way to say no to
		// a QoS 1 publish) but must not deliver it.
		tok := a.Client.Publish("vitalwire/v1/devices/watch-b/readings", 1, false, harness.Reading(vitals.HeartRate, 150, "/min", now.Add(-2*time.Second)))
		tok.WaitTimeout(5 * time.Second)
		// A's own reading, published after, is stored: once it is there,
		// the forged one would have been too.
		b := harness.Connect(t, broker, "watch-b", secretB)
		b.Publish(harness.Reading(vitals.HeartRate, 61, "/min", now.Add(-time.Second)))
		from, to := now.Add(-time.Minute), now.Add(time.Minute)
		s.WaitCount(t, "patient-b", vitals.HeartRate, from, to, 1, 15*time.Second)
		rs := s.Readings(t, "patient-b", vitals.HeartRate, from, to)
		require.Len(t, rs, 1)
		require.Equal(t, 61.0, rs[0].Value, "only B's own reading")
		require.Equal(t, "watch-b", rs[0].Device)
	})
	t.Run("device A cannot read device B's rejects but gets its own", func(t *testing.T) {
		a := harness.Connect(t, broker, "watch-a", secretA)
		b := harness.Connect(t, broker, "watch-b", secretB)
		gotA := make(chan string, 8)
		gotB := make(chan string, 8)
		// Mosquitto grants the subscription and filters each message by the
		// ACL; mochi refuses it in the SUBACK. Either way nothing may arrive.
		tok := a.Client.Subscribe("vitalwire/v1/devices/watch-b/rejects", 1, func(_ mqtt.Client, m mqtt.Message) { gotA <- "b:" + string(m.Payload()) })
		require.True(t, tok.WaitTimeout(10*time.Second))
		tok = a.Client.Subscribe("vitalwire/v1/devices/watch-a/rejects", 1, func(_ mqtt.Client, m mqtt.Message) { gotA <- "a:" + string(m.Payload()) })
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
		tok = b.Client.Subscribe("vitalwire/v1/devices/watch-b/rejects", 1, func(_ mqtt.Client, m mqtt.Message) { gotB <- string(m.Payload()) })
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())

		// B's refusal reaches B first; only then does A send its own bad
		// reading, so had B's report been routed to A it would come first.
		b.Publish(harness.Reading(vitals.SpO2, 140, "%", time.Now()))
		select {
		case msg := <-gotB:
			require.Contains(t, msg, `"reason":"implausible"`)
		case <-time.After(15 * time.Second):
			t.Fatal("no report on B's own rejects topic")
		}
		a.Publish(harness.Reading(vitals.HeartRate, 60, "Hz", time.Now()))
		select {
		case msg := <-gotA:
			require.True(t, strings.HasPrefix(msg, "a:"), "A received B's report: %s", msg)
			require.Contains(t, msg, `"reason":"wrong_unit"`)
		case <-time.After(15 * time.Second):
			t.Fatal("no report on A's own rejects topic")
		}
	})
}

func TestTheEmbeddedBrokerEnforcesDeviceCredentialsAndTopics(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	secretA := s.AddDevice(t, "watch-a", "patient-a")
	secretB := s.AddDevice(t, "watch-b", "patient-b")
	checkDeviceIsolation(t, s.BrokerURL(), s, secretA, secretB)
}

func TestMosquittoWithTheGeneratedFilesEnforcesDeviceCredentialsAndTopics(t *testing.T) {
	t.Parallel()
	if testenv.MosquittoBinary() == "" {
		testenv.Missing(t, "mosquitto not found")
	}
	bin := harness.Binary(t)
	cfg := harness.Config(t)
	// The devices are registered as an admin does, on a first run of the
	// service with its embedded broker; then the operator generates the
	// broker's files from the data folder and moves to Mosquitto.
	first := harness.Start(t, cfg)
	secret := map[string]string{}
	for _, d := range []struct{ id, patient string }{{"watch-a", "patient-a"}, {"watch-b", "patient-b"}, {"watch-c", "patient-c"}} {
		secret[d.id] = first.AddDeviceFrom(t, d.id, "watch", d.patient, time.Now().Add(-time.Hour))
	}
	// A revoked device is left out of the password file.
	first.RevokeDevice(t, "watch-c")
	first.Stop()

	out := filepath.Join(t.TempDir(), "mosquitto")
	cmd := exec.Command(bin, "mosquitto-config", "--data-dir", cfg.DataDir, "--out", out)
	cmd.Env = append(harness.RecordsEnv(cfg), "VITALWIRE_MQTT_PASSWORD=service-secret-for-test")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{
		PasswordFile: filepath.Join(out, "passwd"), ACLFile: filepath.Join(out, "acl"),
	})

	cfg.Broker.Embedded = false
	cfg.MQTT = app.MQTTConfig{Broker: m.URL(), Username: "vitalwire-ingest", Password: "service-secret-for-test", ClientID: "vitalwire-acl-test"}
	s := harness.Start(t, cfg)
	checkDeviceIsolation(t, m.URL(), s, secret["watch-a"], secret["watch-b"])

	t.Run("a revoked device is not in the password file", func(t *testing.T) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL()).SetClientID("c").
			SetUsername("watch-c").SetPassword(secret["watch-c"]).SetConnectRetry(false).SetAutoReconnect(false))
		tok := c.Connect()
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.Error(t, tok.Error())
	})
}
