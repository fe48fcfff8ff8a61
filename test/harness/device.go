package harness

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

// Device is a test MQTT device: a paho client with a persistent session
// that reconnects on its own, as a wearable's firmware does.
type Device struct {
	ID     string
	Client mqtt.Client
	t      testing.TB
}

// Connect connects a device to a broker (tcp://, ssl:// or ws://) with its
// credentials, until the test ends.
func Connect(t testing.TB, broker, id, secret string) *Device {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetUsername(id).SetPassword(secret).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetWriteTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "connect timeout")
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return &Device{ID: id, Client: c, t: t}
}

// Publish sends a readings message with QoS 1 and retries until the
// broker acknowledges it, as a device does.
func (d *Device) Publish(payload string) {
	d.t.Helper()
	d.PublishTo("vitalwire/v1/devices/"+d.ID+"/readings", payload)
}

// PublishTo publishes to a topic of the device's own (status, readings).
func (d *Device) PublishTo(topic, payload string) {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		tok := d.Client.Publish(topic, 1, false, payload)
		if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("publish not acknowledged within 60 s: %v", tok.Error())
		}
		time.Sleep(100 * time.Millisecond) // a device's retry interval
	}
}

// PublishAll sends many messages with up to window of them in flight.
func (d *Device) PublishAll(payloads []string, window int) {
	d.t.Helper()
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	for _, p := range payloads {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.Publish(p)
		})
	}
	wg.Wait()
}

// Reading renders one reading of the MQTT contract.
func Reading(typ vitals.Type, value float64, unit string, at time.Time) string {
	return fmt.Sprintf(`{"type":%q,"value":%v,"unit":%q,"time":%q}`, typ, value, unit, at.UTC().Format(time.RFC3339Nano))
}

// Batch renders a message of several readings.
func Batch(seq int, readings ...string) string {
	return fmt.Sprintf(`{"seq":%d,"readings":[%s]}`, seq, strings.Join(readings, ","))
}
