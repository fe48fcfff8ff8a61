package app

import (
	"bytes"
	"testing"

	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	pahopackets "github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func TestPahosLogCarriesNoPayload(t *testing.T) {
	var out bytes.Buffer
	routePahoLogs(zerolog.New(&out))
	t.Cleanup(func() {
		pahomqtt.ERROR, pahomqtt.CRITICAL, pahomqtt.WARN = pahomqtt.NOOPLogger{}, pahomqtt.NOOPLogger{}, pahomqtt.NOOPLogger{}
	})
	pk := pahopackets.NewControlPacket(pahopackets.Publish).(*pahopackets.PublishPacket)
	pk.TopicName = "vitalwire/v1/devices/w/readings"
	pk.Payload = []byte(`{"type":"heart_rate","value":187.123}`)
	pahomqtt.ERROR.Println("[store]", "could not persist", pk)
	pahomqtt.CRITICAL.Printf("%s: %v %s", "[net]", pk, []byte("187.123"))
	require.NotContains(t, out.String(), "187.123")
	require.Contains(t, out.String(), "*packets.PublishPacket")
}
