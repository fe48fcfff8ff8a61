package harness

import (
	"encoding/json"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/topic"
)

// RejectReport is what the server sends on a device's rejects topic.
type RejectReport struct {
	Seq      *int64 `json:"seq"`
	Accepted int    `json:"accepted"`
	Rejects  []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
		Detail string `json:"detail"`
	} `json:"rejects"`
}

// Rejects subscribes the device to its own rejects topic, as a device
// maker's firmware or debug tool does, and returns the reports as they
// arrive.
func (d *Device) Rejects(t testing.TB) <-chan RejectReport {
	t.Helper()
	out := make(chan RejectReport, 256)
	tok := d.Client.Subscribe(topic.Rejects(d.ID), 1, func(_ mqtt.Client, m mqtt.Message) {
		var r RejectReport
		if json.Unmarshal(m.Payload(), &r) == nil {
			select {
			case out <- r:
			default:
			}
		}
	})
	require.True(t, tok.WaitTimeout(10*time.Second), "subscribe to rejects")
	require.NoError(t, tok.Error())
	return out
}

// NextReject waits for the next report on a rejects channel.
func NextReject(t testing.TB, ch <-chan RejectReport, within time.Duration) RejectReport {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("no report on the rejects topic within %v", within)
		return RejectReport{}
	}
}
