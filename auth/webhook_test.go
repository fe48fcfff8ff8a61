package auth

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A message signed by the reference implementation, npm standardwebhooks
// 1.1.1:
//
//	new Webhook(secret).sign(id, new Date(1700000000*1000), body)
var referenceVector = struct {
	secret, id, body, signature string
	timestamp                   int64
}{
	secret:    "whsec_dml0YWx3aXJlLXRlc3QtdmVuZG9yLXNlY3JldC0zMmI=",
	id:        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
	timestamp: 1700000000,
	body:      `{"type":"readings","data":[{"device":"acme-1","message":{"type":"heart_rate","value":72,"unit":"/min","time":"2023-11-14T22:10:00Z"}}]}`,
	signature: "v1,d/2/TrFi2RZVOvaWUzJY0mcx9No+hHRCVQNwUnHt3g4=",
}

func TestStandardWebhooksVerification(t *testing.T) {
	v := referenceVector
	key, err := ParseWebhookSecret(v.secret)
	require.NoError(t, err)
	at := time.Unix(v.timestamp, 0)
	ts := "1700000000"
	verify := func(id, ts, sig, body string, now time.Time) error {
		return VerifyWebhook(key, id, ts, sig, []byte(body), now, WebhookTolerance)
	}

	t.Run("the reference implementation's signature verifies", func(t *testing.T) {
		require.NoError(t, verify(v.id, ts, v.signature, v.body, at))
	})
	t.Run("our signature is the reference implementation's", func(t *testing.T) {
		require.Equal(t, v.signature, SignWebhook(key, v.id, v.timestamp, []byte(v.body)))
	})
	t.Run("one matching signature among several, of other versions too, is enough", func(t *testing.T) {
		require.NoError(t, verify(v.id, ts, "v1a,abcd v1,AAAA "+v.signature, v.body, at))
	})
	t.Run("a body changed by one byte is refused", func(t *testing.T) {
		require.ErrorIs(t, verify(v.id, ts, v.signature, v.body[:len(v.body)-1]+" ", at), ErrWebhookSignature)
	})
	t.Run("another id or timestamp under the same signature is refused", func(t *testing.T) {
		require.ErrorIs(t, verify("msg_other", ts, v.signature, v.body, at), ErrWebhookSignature)
		require.ErrorIs(t, verify(v.id, "1700000001", v.signature, v.body, at), ErrWebhookSignature)
	})
	t.Run("another secret's signature is refused", func(t *testing.T) {
		other, err := ParseWebhookSecret("whsec_" + "b3RoZXItdmVuZG9yLXNlY3JldC0xMjM0NTY=")
		require.NoError(t, err)
		require.ErrorIs(t, verify(v.id, ts, SignWebhook(other, v.id, v.timestamp, []byte(v.body)), v.body, at), ErrWebhookSignature)
	})
	t.Run("a timestamp more than five minutes off either way is refused", func(t *testing.T) {
		require.NoError(t, verify(v.id, ts, v.signature, v.body, at.Add(WebhookTolerance)))
		require.NoError(t, verify(v.id, ts, v.signature, v.body, at.Add(-WebhookTolerance)))
		require.ErrorIs(t, verify(v.id, ts, v.signature, v.body, at.Add(WebhookTolerance+time.Second)), ErrWebhookTimestamp)
		require.ErrorIs(t, verify(v.id, ts, v.signature, v.body, at.Add(-WebhookTolerance-time.Second)), ErrWebhookTimestamp)
	})
	t.Run("missing or malformed headers are refused", func(t *testing.T) {
		for name, h := range map[string][3]string{
			"no id":            {"", ts, v.signature},
			"an id with space": {"msg 1", ts, v.signature},
			"no timestamp":     {v.id, "", v.signature},
			"a date":           {v.id, "2023-11-14T22:13:20Z", v.signature},
			"no signature":     {v.id, ts, ""},
		} {
			require.ErrorIs(t, verify(h[0], h[1], h[2], v.body, at), ErrWebhookHeaders, name)
		}
	})
}

func TestWebhookSecrets(t *testing.T) {
	t.Run("a secret without its prefix or too short is refused", func(t *testing.T) {
		for _, s := range []string{"dml0YWx3aXJlLXRlc3QtdmVuZG9yLXNlY3JldC0zMmI=", "whsec_c2hvcnQ=", "whsec_%%%"} {
			_, err := ParseWebhookSecret(s)
			require.ErrorIs(t, err, ErrWebhookSecret, s)
		}
	})
	t.Run("a secret file others may read is refused", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "acme.secret")
		require.NoError(t, os.WriteFile(p, []byte(referenceVector.secret+"\n"), 0o644))
		_, err := LoadWebhookSecret(p)
		require.ErrorIs(t, err, ErrKeyExposed)
		require.NoError(t, os.Chmod(p, 0o600))
		key, err := LoadWebhookSecret(p)
		require.NoError(t, err)
		require.Equal(t, "vitalwire-test-vendor-secret-32b", string(key))
	})
}
