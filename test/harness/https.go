package harness

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/vitals"
)

// Readings over HTTPS, as a device without MQTT and a vendor's cloud send
// them.

// TryPostReadings posts a reading message as device, with its id and
// secret as HTTP Basic credentials. err is a failure to get an answer at
// all (the server gone): a device then sends the message again.
func (s *Service) TryPostReadings(device, secret, payload string) (status int, ans httpapi.ReadingsAnswer, err error) {
	req, err := http.NewRequest("POST", s.URL()+"/api/v1/devices/"+device+"/readings", strings.NewReader(payload))
	if err != nil {
		return 0, ans, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(device, secret)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return 0, ans, err
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "application/json" && resp.StatusCode != http.StatusServiceUnavailable {
		_ = json.NewDecoder(resp.Body).Decode(&ans)
	}
	return resp.StatusCode, ans, nil
}

// PostReadings is TryPostReadings that requires an answer.
func (s *Service) PostReadings(t testing.TB, device, secret, payload string) (int, httpapi.ReadingsAnswer) {
	t.Helper()
	status, ans, err := s.TryPostReadings(device, secret, payload)
	require.NoError(t, err, "POST readings of %s", device)
	return status, ans
}

// NewWebhookSecret writes a new vendor webhook secret (whsec_...) to a
// 0600 file and returns the file and the key it holds.
func NewWebhookSecret(t testing.TB) (path string, key []byte) {
	t.Helper()
	key = make([]byte, 24)
	_, err := rand.Read(key)
	require.NoError(t, err)
	path = filepath.Join(t.TempDir(), "vendor.secret")
	require.NoError(t, os.WriteFile(path, []byte("whsec_"+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	return path, key
}

// PostWebhook posts body to a vendor's webhook, signed with key as the
// Standard Webhooks specification says, with id and timestamp at.
func (s *Service) PostWebhook(t testing.TB, vendor string, key []byte, id string, at time.Time, body string) (int, httpapi.WebhookAnswer) {
	t.Helper()
	return s.PostWebhookSigned(t, vendor, id, at, auth.SignWebhook(key, id, at.Unix(), []byte(body)), body)
}

// PostWebhookSigned posts body with the webhook headers given as they are
// (a forged or stale signature).
func (s *Service) PostWebhookSigned(t testing.TB, vendor, id string, at time.Time, signature, body string) (int, httpapi.WebhookAnswer) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL()+"/api/v1/vendors/"+vendor+"/webhook", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", signature)
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var ans httpapi.WebhookAnswer
	if resp.StatusCode < 300 {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans), "the webhook's answer")
	}
	return resp.StatusCode, ans
}

// AllReadings returns every reading of a patient of one type in
// [from, to), read as the patient a page after another.
func (s *Service) AllReadings(t testing.TB, patient string, typ vitals.Type, from, to time.Time) []StoredReading {
	t.Helper()
	var all []StoredReading
	path := "/api/v1/patients/" + patient + "/readings?" + window(typ, from, to) + "&limit=10000"
	for path != "" {
		var page httpapi.Readings
		s.MustCall(t, http.StatusOK, "GET", path, s.Patient(patient), nil, &page)
		all = append(all, page.Readings...)
		path = page.Next
	}
	return all
}
