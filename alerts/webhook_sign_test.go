package alerts

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A delivery signed by the reference implementation of Standard Webhooks,
// npm standardwebhooks 1.1.1 (auth/webhook_test.go has the same vector):
//
//	new Webhook(secret).sign(id, new Date(1700000000*1000), body)
func TestDeliveriesAreSignedAsStandardWebhooksSays(t *testing.T) {
	const (
		secret = "whsec_dml0YWx3aXJlLXRlc3QtdmVuZG9yLXNlY3JldC0zMmI="
		id     = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
		body   = `{"type":"readings","data":[{"device":"acme-1","message":{"type":"heart_rate","value":72,"unit":"/min","time":"2023-11-14T22:10:00Z"}}]}`
	)
	require.Equal(t, "v1,d/2/TrFi2RZVOvaWUzJY0mcx9No+hHRCVQNwUnHt3g4=", StandardSignature(secret, id, 1700000000, []byte(body)))
	require.NotEqual(t, StandardSignature(secret, id, 1700000001, []byte(body)), StandardSignature(secret, id, 1700000000, []byte(body)))
}
