package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Signed webhooks received from a vendor's cloud, verified as the
// Standard Webhooks specification (standardwebhooks.com) says: the
// sender puts webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature ("v1,<base64 HMAC-SHA256>", space-separated when
// several) on the request; the HMAC is over "id.timestamp.body" under the
// secret's bytes (the secret is written "whsec_<base64>"). An HMAC needs
// the raw secret, so it cannot be stored hashed: it lives in a 0600 file
// the configuration names, like the service's other keys.

// Errors of VerifyWebhook. Each means the request is refused.
var (
	// ErrWebhookHeaders: a webhook header is missing or malformed.
	ErrWebhookHeaders = errors.New("webhook: missing or malformed webhook-id, webhook-timestamp or webhook-signature")
	// ErrWebhookTimestamp: the timestamp is outside the tolerance (a
	// replay of an old request, or a clock far off).
	ErrWebhookTimestamp = errors.New("webhook: timestamp outside the tolerance")
	// ErrWebhookSignature: no signature matches.
	ErrWebhookSignature = errors.New("webhook: no matching signature")
	// ErrWebhookSecret: the secret is not of the form whsec_<base64>.
	ErrWebhookSecret = errors.New("webhook secret: want whsec_ followed by base64 of at least 16 bytes")
)

// WebhookTolerance is the specification's default: a timestamp more than
// this far from the receiver's clock, either way, is refused.
const WebhookTolerance = 5 * time.Minute

// webhookIDRE bounds a webhook-id: what senders use (msg_<ksuid>, UUIDs)
// and nothing a log or audit trail should not hold.
var webhookIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// maxSignatures bounds the signatures one header may list (a sender
// rotating secrets sends two or three).
const maxSignatures = 8

// ValidWebhookID reports whether s has the form of a webhook-id.
func ValidWebhookID(s string) bool { return webhookIDRE.MatchString(s) }

// ParseWebhookSecret decodes a Standard Webhooks secret, whsec_<base64>.
func ParseWebhookSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, ErrWebhookSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 16 {
		return nil, ErrWebhookSecret
	}
	return key, nil
}

// LoadWebhookSecret reads a secret file (whsec_<base64>). A file group or
// others may read is refused, as for the signing key: the vendor's secret
// lets anyone who holds it post readings for the vendor's devices.
func LoadWebhookSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %q is %v; chmod 600 it, and ask the vendor for a new secret if anyone else may have read it",
			ErrKeyExposed, path, fi.Mode().Perm())
	}
	key, err := ParseWebhookSecret(string(b))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return key, nil
}

// SignWebhook returns the webhook-signature value for a message: what a
// sender (and a test playing one) puts on the request.
func SignWebhook(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(webhookMAC(key, id, strconv.FormatInt(timestamp, 10), body))
}

func webhookMAC(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks a request's webhook headers and body against key at
// now: the id's form, the timestamp within tolerance of now (either way),
// and one v1 signature matching, compared in constant time. Signatures of
// other versions are ignored, as the specification says.
func VerifyWebhook(key []byte, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if !ValidWebhookID(id) || len(timestamp) == 0 || len(timestamp) > 12 || signatures == "" || len(signatures) > 1024 {
		return ErrWebhookHeaders
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts < 0 {
		return ErrWebhookHeaders
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookTimestamp
	}
	want := webhookMAC(key, id, timestamp, body)
	match := false
	for i, s := range strings.Fields(signatures) {
		if i >= maxSignatures {
			break
		}
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		// Every listed signature is compared, so the time taken does not
		// say which one (or how much of one) matched.
		if hmac.Equal(got, want) {
			match = true
		}
	}
	if !match {
		return ErrWebhookSignature
	}
	return nil
}
