package security

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// Threat: a device connects with another device's client id, and the
// broker hands it the other device's session: the victim is disconnected,
// its last will says it went offline, its queued messages go to the
// attacker. A device's client id is its own id, nothing else.

const offline = `{"online":false}`

// deviceWithWill connects a device under clientID with a last will that
// says it went offline; it returns the client and the connect error.
func deviceWithWill(t *testing.T, broker, clientID, id, secret string) (mqtt.Client, error) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(clientID).
		SetUsername(id).SetPassword(secret).SetCleanSession(false).
		SetWill("vitalwire/v1/devices/"+id+"/status", offline, 1, true).
		SetConnectRetry(false).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "connect timed out")
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(0) })
	}
	return c, tok.Error()
}

// watchWills subscribes as the service account to every device's status
// and returns the last wills that arrive.
func watchWills(t *testing.T, broker, user, pass string) <-chan string {
	t.Helper()
	wills := make(chan string, 16)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("will-watcher").
		SetUsername(user).SetPassword(pass).SetConnectRetry(false).SetAutoReconnect(false))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(0) })
	sub := c.Subscribe("vitalwire/v1/devices/+/status", 1, func(_ mqtt.Client, m mqtt.Message) {
		if !m.Retained() && string(m.Payload()) == offline {
			wills <- m.Topic()
		}
	})
	require.True(t, sub.WaitTimeout(10*time.Second))
	require.NoError(t, sub.Error())
	return wills
}

// checkNoTakeover: watch-a, with its own credentials, tries watch-b's
// client id while watch-b is connected. victimHolds says whether the
// broker kept watch-b's session.
func checkNoTakeover(t *testing.T, broker string, secretA, secretB string, wills <-chan string, refusesOtherIDs bool) {
	t.Helper()
	b, err := deviceWithWill(t, broker, "watch-b", "watch-b", secretB)
	require.NoError(t, err, "a device connects under its own id")

	_, err = deviceWithWill(t, broker, "watch-b", "watch-a", secretA)
	if refusesOtherIDs {
		require.Error(t, err, "watch-a was let in under watch-b's client id")
	}
	select {
	case topic := <-wills:
		t.Fatalf("a last will fired on %s: watch-a took over watch-b's session", topic)
	case <-time.After(time.Second):
	}
	require.True(t, b.IsConnectionOpen(), "watch-b was disconnected")
}

func TestADeviceCannotTakeOverAnotherDevicesSessionOnTheEmbeddedBroker(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.MQTT.Username, cfg.MQTT.Password = "monitor", "monitor-secret-for-test"
	s := harness.Start(t, cfg)
	secretA := s.AddDevice(t, "watch-a", "patient-a")
	secretB := s.AddDevice(t, "watch-b", "patient-b")
	wills := watchWills(t, s.BrokerURL(), "monitor", "monitor-secret-for-test")

	t.Run("another device's client id is refused and the device keeps its session", func(t *testing.T) {
		checkNoTakeover(t, s.BrokerURL(), secretA, secretB, wills, true)
	})
	for _, id := range []string{"", "watch-a-2", "watch-", "watch-a/phone", "watch-b"} {
		t.Run("watch-a is refused under the client id "+`"`+id+`"`, func(t *testing.T) {
			c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.BrokerURL()).SetClientID(id).
				SetUsername("watch-a").SetPassword(secretA).SetConnectRetry(false).SetAutoReconnect(false))
			tok := c.Connect()
			require.True(t, tok.WaitTimeout(10*time.Second))
			require.Error(t, tok.Error())
		})
	}
	t.Run("a device connects under its own id", func(t *testing.T) {
		_, err := deviceWithWill(t, s.BrokerURL(), "watch-a", "watch-a", secretA)
		require.NoError(t, err)
	})
}

// The ingester's password on the Mosquitto generatedMosquitto starts.
const password = "service-secret-for-test"

// generatedMosquitto starts a real Mosquitto with the files `vitalwire
// mosquitto-config` writes for the records in dataDir, and returns its
// device and service listeners.
func generatedMosquitto(t *testing.T, bin, dataDir string) (devices, service string, m *testenv.Mosquitto) {
	t.Helper()
	devices = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	service = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	out := filepath.Join(t.TempDir(), "mosquitto")
	cmd := exec.Command(bin, "mosquitto-config", "--data-dir", dataDir, "--out", out,
		"--device-listener", devices, "--service-listener", service)
	cmd.Env = append(os.Environ(), "VITALWIRE_MQTT_PASSWORD="+password)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	conf, err := os.ReadFile(filepath.Join(out, "vitalwire.conf"))
	require.NoError(t, err)
	m = testenv.StartMosquittoConf(t, string(conf), service)
	require.NoError(t, testenv.WaitTCP(devices, nil, 10*time.Second))
	return devices, service, m
}

func TestADeviceCannotTakeOverAnotherDevicesSessionOnMosquittoWithTheGeneratedConfig(t *testing.T) {
	t.Parallel()
	if testenv.MosquittoBinary() == "" {
		testenv.Missing(t, "mosquitto not found")
	}
	bin := harness.Binary(t)
	cfg := harness.Config(t)
	first := harness.Start(t, cfg)
	secret := map[string]string{}
	for _, d := range []struct{ id, patient string }{{"watch-a", "patient-a"}, {"watch-b", "patient-b"}} {
		secret[d.id] = first.AddDeviceFrom(t, d.id, "watch", d.patient, time.Now().Add(-time.Hour))
	}
	first.Stop()

	devices, service, m := generatedMosquitto(t, bin, cfg.DataDir)

	// The ingester as a scaled-out instance runs it: two connections in one
	// shared subscription, each with its own client id.
	cfg.Broker.Embedded = false
	cfg.MQTT = app.MQTTConfig{Broker: "tcp://" + service, Username: "vitalwire-ingest", Password: password,
		ClientID: "vitalwire-ingest", Connections: 2}
	s := harness.Start(t, cfg)
	wills := watchWills(t, "tcp://"+service, "vitalwire-ingest", password)

	t.Run("another device's client id takes nothing over", func(t *testing.T) {
		// Mosquitto does not refuse it: it replaces the client id with the
		// username, so watch-a connects as itself.
		checkNoTakeover(t, "tcp://"+devices, secret["watch-a"], secret["watch-b"], wills, false)
	})
	t.Run("the devices' readings reach the ingester's shared subscription", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		for i, id := range []string{"watch-a", "watch-b"} {
			d := harness.Connect(t, "tcp://"+devices, id, secret[id])
			d.Publish(harness.Reading(vitals.HeartRate, float64(60+i), "/min", now.Add(-time.Second)))
		}
		for _, p := range []string{"patient-a", "patient-b"} {
			s.WaitCount(t, p, vitals.HeartRate, now.Add(-time.Minute), now.Add(time.Minute), 1, 15*time.Second)
		}
	})
	t.Run("a device cannot use the ingester's listener", func(t *testing.T) {
		_, err := deviceWithWill(t, "tcp://"+service, "watch-b", "watch-a", secret["watch-a"])
		require.Error(t, err)
	})
	if t.Failed() {
		t.Log(m.Log())
	}
}
