package dashboard_test

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

// deviceAuthenticates tells whether the service's broker lets a device in
// with a secret: one connection attempt, no retries.
func deviceAuthenticates(t *testing.T, s *harness.Service, id, secret string) bool {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(s.BrokerURL()).SetClientID(id).
		SetUsername(id).SetPassword(secret).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "connect timeout")
	if tok.Error() != nil {
		t.Logf("%s: %v", id, tok.Error())
		return false
	}
	c.Disconnect(100)
	return true
}
