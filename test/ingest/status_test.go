package ingest_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// rawConnect opens an MQTT 3.1.1 session by hand, with a retained QoS 1
// last will, so that the test can drop the TCP connection without a
// DISCONNECT, as a device whose battery dies does.
func rawConnect(t *testing.T, addr, id, secret, willTopic, will string) net.Conn {
	t.Helper()
	str := func(s string) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(len(s)))
		return append(b, s...)
	}
	var body []byte
	body = append(body, str("MQTT")...)
	body = append(body, 4)                        // protocol level 3.1.1
	body = append(body, 0x80|0x40|0x20|0x08|0x04) // username, password, will retain, will QoS 1, will
	body = binary.BigEndian.AppendUint16(body, 30)
	for _, s := range []string{id, willTopic, will, id, secret} {
		body = append(body, str(s)...)
	}
	pkt := []byte{0x10}
	for n := len(body); ; {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	pkt = append(pkt, body...)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = c.Write(pkt)
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	ack := make([]byte, 4)
	_, err = bufio.NewReader(c).Read(ack)
	require.NoError(t, err)
	require.Equal(t, []byte{0x20, 2}, ack[:2], "a CONNACK")
	require.Zero(t, ack[3], "CONNACK accepted") // ack[2]: session present or not
	return c
}

func TestDeviceStatusComesFromTheRetainedTopicAndTheLastWill(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	secret := svc.AddDevice(t, "ring-1", "patient-1")
	status := "vitalwire/v1/devices/ring-1/status"

	d := harness.Connect(t, svc.BrokerURL(), "ring-1", secret)
	d.PublishTo(status, `{"online":true,"battery":0.42,"firmware":"2.1.0"}`)
	require.Eventually(t, func() bool {
		dev := svc.Device(t, "ring-1")
		return dev.Status.Online && dev.Status.Battery != nil && *dev.Status.Battery == 0.42 && dev.Status.Firmware == "2.1.0"
	}, 10*time.Second, 20*time.Millisecond, "online with battery and firmware")
	// A device has one session (its client id is its id): the connection
	// with the last will replaces the first.
	d.Client.Disconnect(100)
	conn := rawConnect(t, svc.BrokerAddr(), "ring-1", secret, status, `{"online":false}`)
	require.Eventually(t, func() bool { return svc.Metrics(t)["vitalwire_devices_connected"] == 1.0 }, 10*time.Second, 20*time.Millisecond)
	require.True(t, svc.Device(t, "ring-1").Status.Online)

	conn.Close() // gone without a DISCONNECT: the broker sends the will
	require.Eventually(t, func() bool {
		return !svc.Device(t, "ring-1").Status.Online
	}, 10*time.Second, 20*time.Millisecond, "offline after the last will")
	dev := svc.Device(t, "ring-1")
	require.NotNil(t, dev.Status.Battery)
	require.Equal(t, 0.42, *dev.Status.Battery, "the last battery level is kept")
	require.False(t, dev.Status.LastSeen.IsZero())
}

func TestTheEmbeddedBrokerTakesReadingsOverWebSocket(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	wsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg.Broker.WebSocketAddr = wsAddr
	svc := harness.Start(t, cfg)
	secret := svc.AddDevice(t, "phone-1", "patient-1")
	d := harness.Connect(t, "ws://"+wsAddr, "phone-1", secret)
	now := time.Now().UTC()
	d.Publish(harness.Reading(vitals.SpO2, 96, "%", now))
	from, to := now.Add(-time.Minute), now.Add(time.Minute)
	n, _ := svc.Stats(t, "patient-1", vitals.SpO2, from, to)
	require.EqualValues(t, 1, n, "durable when the broker acknowledged")
}

func TestRevokingADeviceDisconnectsItFromTheEmbeddedBroker(t *testing.T) {
	t.Parallel()
	svc := harness.Start(t, harness.Config(t))
	secret := svc.AddDevice(t, "patch-9", "patient-1")
	d := harness.Connect(t, svc.BrokerURL(), "patch-9", secret)
	require.True(t, d.Client.IsConnectionOpen())
	svc.RevokeDevice(t, "patch-9") // as an admin, through the API
	require.Eventually(t, func() bool { return !d.Client.IsConnectionOpen() }, 10*time.Second, 20*time.Millisecond)
}
