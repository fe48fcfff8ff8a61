package security

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// Threat: an unauthenticated client makes the embedded broker hold memory
// or connections: a CONNECT declaring a huge length, a CONNECT that never
// finishes, many connections from one address; and an authenticated
// device makes it keep large retained messages.

// mqttString is an MQTT UTF-8 string: two bytes of length, then the bytes.
func mqttString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// remainingLength encodes n as MQTT's variable-length integer.
func remainingLength(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// connectPacket is an MQTT 3.1.1 CONNECT with a client id, username and
// password.
func connectPacket(clientID, user, pass string) []byte {
	body := append(mqttString("MQTT"), 4, 0xC2, 0, 30) // level 4; username, password, clean session; keep-alive 30 s
	body = append(body, mqttString(clientID)...)
	body = append(body, mqttString(user)...)
	body = append(body, mqttString(pass)...)
	return append(append([]byte{0x10}, remainingLength(len(body))...), body...)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Not parallel: the heap it measures is the test process's, which runs the
// service.
func TestAConnectDeclaringAHugeLengthIsRefusedBeforeTheBrokerAllocatesIt(t *testing.T) {
	s := harness.Start(t, harness.Config(t))
	before := heapInUse()
	const attackers = 4
	var conns []net.Conn
	for i := 0; i < attackers; i++ {
		c := harness.DialFrom(t, "127.0.0.1", s.BrokerAddr())
		// A CONNECT of 256 MiB - 1, the largest MQTT allows.
		_, err := c.Write([]byte{0x10, 0xFF, 0xFF, 0xFF, 0x7F})
		require.NoError(t, err)
		conns = append(conns, c)
	}
	zeros := make([]byte, 32<<10)
	for i, c := range conns {
		// Stream up to 1 MiB of the declared body, as the attack did.
		sent := 0
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for sent < 1<<20 {
			n, err := c.Write(zeros)
			sent += n
			if err != nil {
				break
			}
		}
		require.True(t, harness.ClosedWithin(c, 2*time.Second),
			"connection %d: the broker still reads a CONNECT declared at 256 MiB after %d bytes of it", i, sent)
	}
	grown := int64(heapInUse()) - int64(before)
	require.Less(t, grown, int64(64<<20), "the broker's heap grew by %d MiB for %d unauthenticated connections", grown>>20, attackers)
}

func TestAConnectThatNeverFinishesIsCutOffAfterTheConnectTimeout(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Broker.Limits.ConnectTimeout = time.Second
	s := harness.Start(t, cfg)
	c := harness.DialFrom(t, "127.0.0.1", s.BrokerAddr())
	full := connectPacket("x", "x", "x")
	_, err := c.Write(full[:4]) // a CONNECT that stops after its first bytes
	require.NoError(t, err)
	require.True(t, harness.ClosedWithin(c, 5*time.Second), "a CONNECT stalled after 4 bytes is still held after 5 s (connect_timeout 1 s)")

	idle := harness.DialFrom(t, "127.0.0.1", s.BrokerAddr())
	require.True(t, harness.ClosedWithin(idle, 5*time.Second), "a connection that sends nothing is still held after 5 s")
}

func TestOneAddressCannotHoldMoreThanItsShareOfTheBrokersConnections(t *testing.T) {
	t.Parallel()
	second := harness.SecondSource(t)
	cfg := harness.Config(t)
	cfg.Broker.WebSocketAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg.Broker.Limits.MaxConnectionsPerSource = 3
	s := harness.Start(t, cfg)
	secret := s.AddDevice(t, "watch-a", "patient-a")

	for _, l := range []struct{ name, addr string }{{"tcp", s.BrokerAddr()}, {"websocket", cfg.Broker.WebSocketAddr}} {
		t.Run("on the "+l.name+" listener", func(t *testing.T) {
			var held []net.Conn
			for i := 0; i < 3; i++ {
				held = append(held, harness.DialFrom(t, "127.0.0.1", l.addr))
			}
			extra := harness.DialFrom(t, "127.0.0.1", l.addr)
			require.True(t, harness.ClosedWithin(extra, time.Second), "the 4th connection from one address is held")
			listener := map[string]string{"tcp": "mqtt-tcp", "websocket": "mqtt-ws"}[l.name]
			require.GreaterOrEqual(t, s.Metrics(t)[`vitalwire_connections_refused_total{limit="max_connections_per_source",listener="`+listener+`"}`], 1.0,
				"an operator sees the refusal")
			for i, c := range held {
				require.False(t, harness.ClosedWithin(c, 10*time.Millisecond), "connection %d within the limit was closed", i)
			}
			if l.name == "tcp" {
				// A device on another address still gets in and publishes.
				c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + l.addr).SetClientID("watch-a").
					SetUsername("watch-a").SetPassword(secret).SetConnectRetry(false).SetAutoReconnect(false).
					SetDialer(&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(second)}, Timeout: 5 * time.Second}))
				tok := c.Connect()
				require.True(t, tok.WaitTimeout(10*time.Second))
				require.NoError(t, tok.Error())
				defer c.Disconnect(0)
				now := time.Now().UTC()
				p := c.Publish("vitalwire/v1/devices/watch-a/readings", 1, false, harness.Reading(vitals.HeartRate, 70, "/min", now))
				require.True(t, p.WaitTimeout(10*time.Second))
				require.NoError(t, p.Error())
			}
		})
	}
}

func TestOneAddressOpensConnectionsOnlyAsFastAsTheConnectRateAllows(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Broker.Limits.ConnectRatePerSource = 0.1
	cfg.Broker.Limits.ConnectBurstPerSource = 3
	s := harness.Start(t, cfg)
	for i := 0; i < 3; i++ {
		c := harness.DialFrom(t, "127.0.0.1", s.BrokerAddr())
		require.False(t, harness.ClosedWithin(c, 10*time.Millisecond), "connection %d of the burst", i)
		c.Close()
	}
	c := harness.DialFrom(t, "127.0.0.1", s.BrokerAddr())
	require.True(t, harness.ClosedWithin(c, time.Second), "a 4th new connection in the same second is let in")
}

// retained subscribes as the service account to topic and returns the
// retained message there, or "" if none comes.
func retained(t *testing.T, broker, user, pass, topic string) string {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("monitor-" + strings.ReplaceAll(topic, "/", "-")).
		SetUsername(user).SetPassword(pass).SetConnectRetry(false).SetAutoReconnect(false))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	defer c.Disconnect(0)
	got := make(chan string, 4)
	sub := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		if m.Retained() {
			got <- string(m.Payload())
		}
	})
	require.True(t, sub.WaitTimeout(10*time.Second))
	require.NoError(t, sub.Error())
	select {
	case p := <-got:
		return p
	case <-time.After(time.Second):
		return ""
	}
}

func TestTheBrokerKeepsNoLargeRetainedMessages(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.MQTT.Username, cfg.MQTT.Password = "monitor", "monitor-secret-for-test"
	s := harness.Start(t, cfg)
	const small = `{"online":true,"battery":0.5}`

	t.Run("a status larger than max_status_bytes is not retained", func(t *testing.T) {
		secret := s.AddDevice(t, "watch-s", "patient-s")
		d := harness.Connect(t, s.BrokerURL(), "watch-s", secret)
		status := "vitalwire/v1/devices/watch-s/status"
		tok := d.Client.Publish(status, 1, true, small)
		require.True(t, tok.WaitTimeout(10*time.Second))
		big := fmt.Sprintf(`{"online":true,"firmware":%q}`, strings.Repeat("x", 16<<10))
		tok = d.Client.Publish(status, 1, true, big)
		require.True(t, tok.WaitTimeout(10*time.Second))
		got := retained(t, s.BrokerURL(), "monitor", "monitor-secret-for-test", status)
		require.True(t, got == small, "the retained status is %d bytes, not the small one: the 16 KiB status replaced it", len(got))
	})
	t.Run("a status larger than a packet may be is refused with the connection", func(t *testing.T) {
		secret := s.AddDevice(t, "watch-m", "patient-m")
		d := harness.Connect(t, s.BrokerURL(), "watch-m", secret)
		status := "vitalwire/v1/devices/watch-m/status"
		tok := d.Client.Publish(status, 1, true, fmt.Sprintf(`{"online":true,"firmware":%q}`, strings.Repeat("x", 1<<20)))
		tok.WaitTimeout(5 * time.Second)
		got := retained(t, s.BrokerURL(), "monitor", "monitor-secret-for-test", status)
		require.True(t, got == "", "a status of %d bytes was retained", len(got))
	})
	t.Run("readings are never retained", func(t *testing.T) {
		secret := s.AddDevice(t, "watch-r", "patient-r")
		d := harness.Connect(t, s.BrokerURL(), "watch-r", secret)
		readings := "vitalwire/v1/devices/watch-r/readings"
		tok := d.Client.Publish(readings, 1, true, harness.Reading(vitals.HeartRate, 72, "/min", time.Now()))
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
		require.Empty(t, retained(t, s.BrokerURL(), "monitor", "monitor-secret-for-test", readings), "a readings message was retained")
	})
}

// The same attack on Mosquitto with the files `vitalwire mosquitto-config`
// writes: its max_packet_size refuses the declared length at once.
func TestAConnectDeclaringAHugeLengthIsRefusedByMosquittoWithTheGeneratedConfig(t *testing.T) {
	t.Parallel()
	if testenv.MosquittoBinary() == "" {
		testenv.Missing(t, "mosquitto not found")
	}
	bin := harness.Binary(t)
	cfg := harness.Config(t)
	first := harness.Start(t, cfg)
	secret := first.AddDevice(t, "watch-a", "patient-a")
	first.Stop()
	devices, _, m := generatedMosquitto(t, bin, cfg.DataDir)

	for i := 0; i < 4; i++ {
		c := harness.DialFrom(t, "127.0.0.1", devices)
		_, err := c.Write([]byte{0x10, 0xFF, 0xFF, 0xFF, 0x7F})
		require.NoError(t, err)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		zeros := make([]byte, 32<<10)
		for sent := 0; sent < 1<<20; sent += len(zeros) {
			if _, err := c.Write(zeros); err != nil {
				break
			}
		}
		require.True(t, harness.ClosedWithin(c, 2*time.Second), "connection %d: Mosquitto still reads a CONNECT declared at 256 MiB", i)
	}
	// A device still connects.
	d := harness.Connect(t, "tcp://"+devices, "watch-a", secret)
	require.True(t, d.Client.IsConnected())
	if t.Failed() {
		t.Log(m.Log())
	}
}
