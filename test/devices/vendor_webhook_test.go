package devices_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// acmeEvent is a vendor's readings event: one message per vendor device.
func acmeEvent(msgs map[string]string) string {
	var parts []string
	for device, msg := range msgs {
		parts = append(parts, fmt.Sprintf(`{"device":%q,"message":%s}`, device, msg))
	}
	return `{"type":"readings","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","data":[` + strings.Join(parts, ",") + `]}`
}

func TestAVendorCloudsSignedWebhookStoresReadingsForItsMappedDevices(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	secretFile, key := harness.NewWebhookSecret(t)
	cfg.HTTPIngest.Vendors = []httpapi.VendorConfig{{Name: "acme", SecretFile: secretFile,
		Devices: map[string]string{"acme-A1": "scale-1", "acme-B2": "oxi-2"}}}
	svc := harness.Start(t, cfg)
	svc.AddDevice(t, "scale-1", "p1")
	svc.AddDevice(t, "oxi-2", "p2")
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	from, to := base.Add(-time.Minute), base.Add(time.Hour)
	stored := func(patient string, typ vitals.Type) int64 {
		n, _ := svc.Stats(t, patient, typ, from, to)
		return n
	}
	event := acmeEvent(map[string]string{
		"acme-A1": harness.Reading(vitals.BodyWeight, 72.5, "kg", base),
		"acme-B2": harness.Batch(4, harness.Reading(vitals.SpO2, 97, "%", base), harness.Reading(vitals.SpO2, 96, "%", base.Add(time.Minute))),
	})

	t.Run("a webhook with a good signature stores the readings under the mapped devices' patients", func(t *testing.T) {
		status, ans := svc.PostWebhook(t, "acme", key, "msg_1", time.Now(), event)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, ans.Results, 2)
		for _, r := range ans.Results {
			require.Empty(t, r.Rejects, r.Device)
		}
		require.EqualValues(t, 1, stored("p1", vitals.BodyWeight))
		require.EqualValues(t, 2, stored("p2", vitals.SpO2))
	})
	t.Run("a replay of the same webhook within the tolerance is acknowledged and stores nothing again", func(t *testing.T) {
		status, ans := svc.PostWebhook(t, "acme", key, "msg_1", time.Now(), event)
		require.Equal(t, http.StatusOK, status)
		require.True(t, ans.Duplicate)
		require.EqualValues(t, 1, stored("p1", vitals.BodyWeight))
		require.EqualValues(t, 2, stored("p2", vitals.SpO2))
	})
	t.Run("the same readings under a new webhook-id are stored once", func(t *testing.T) {
		status, ans := svc.PostWebhook(t, "acme", key, "msg_1-resent", time.Now(), event)
		require.Equal(t, http.StatusOK, status)
		require.False(t, ans.Duplicate)
		require.EqualValues(t, 2, stored("p2", vitals.SpO2))
	})
	t.Run("a vendor device that is not mapped is refused by name, the others stored", func(t *testing.T) {
		status, ans := svc.PostWebhook(t, "acme", key, "msg_2", time.Now(), acmeEvent(map[string]string{
			"acme-ZZ": harness.Reading(vitals.BodyWeight, 80, "kg", base.Add(time.Minute)),
			"acme-A1": harness.Reading(vitals.BodyWeight, 72.4, "kg", base.Add(2*time.Minute)),
		}))
		require.Equal(t, http.StatusOK, status)
		for _, r := range ans.Results {
			if r.Device == "acme-ZZ" {
				require.Equal(t, "unknown_device", r.Rejects[0].Reason)
			} else {
				require.Equal(t, 1, r.Accepted)
			}
		}
		require.EqualValues(t, 2, stored("p1", vitals.BodyWeight))
	})
	t.Run("another event type is acknowledged and ignored", func(t *testing.T) {
		status, ans := svc.PostWebhook(t, "acme", key, "msg_3", time.Now(), `{"type":"device.paired","data":{"device":"acme-C3"}}`)
		require.Equal(t, http.StatusOK, status)
		require.True(t, ans.Ignored)
	})

	forged := acmeEvent(map[string]string{"acme-A1": harness.Reading(vitals.BodyWeight, 120, "kg", base.Add(3*time.Minute))})
	_, otherKey := harness.NewWebhookSecret(t)
	refusals := []struct {
		name, id, why string
		status        int
		post          func(id string) int
	}{
		{"signed with another secret", "msg_forged", "bad signature", http.StatusUnauthorized, func(id string) int {
			s, _ := svc.PostWebhook(t, "acme", otherKey, id, time.Now(), forged)
			return s
		}},
		{"a good signature over another body", "msg_swapped", "bad signature", http.StatusUnauthorized, func(id string) int {
			s, _ := svc.PostWebhookSigned(t, "acme", id, time.Now(), auth.SignWebhook(key, id, time.Now().Unix(), []byte(event)), forged)
			return s
		}},
		{"signed six minutes ago", "msg_stale", "timestamp outside 5 min", http.StatusUnauthorized, func(id string) int {
			s, _ := svc.PostWebhook(t, "acme", key, id, time.Now().Add(-6*time.Minute), forged)
			return s
		}},
		{"without a signature", "msg_bare", "missing or malformed webhook headers", http.StatusUnauthorized, func(id string) int {
			s, _ := svc.PostWebhookSigned(t, "acme", id, time.Now(), "", forged)
			return s
		}},
	}
	for _, c := range refusals {
		t.Run("a webhook "+c.name+" is refused and audited with the vendor and source", func(t *testing.T) {
			require.Equal(t, c.status, c.post(c.id))
			require.EqualValues(t, 2, stored("p1", vitals.BodyWeight), "nothing of it is stored")
			found := false
			for _, e := range svc.Audit(t, "") {
				if e.Actor == "vendor:acme" && e.Action == "POST /api/v1/vendors/{vendor}/webhook: "+c.why &&
					e.Resource == "/api/v1/vendors/acme/webhook" &&
					e.Outcome == auth.Refused && e.Source == "127.0.0.1" {
					found = true
				}
			}
			require.True(t, found, "an audit event of the refusal naming the vendor and the source")
		})
	}
	t.Run("a vendor that is not configured is not found", func(t *testing.T) {
		status, _ := svc.PostWebhook(t, "globex", key, "msg_4", time.Now(), event)
		require.Equal(t, http.StatusNotFound, status)
	})
}

func TestAVendorSecretOthersMayReadStopsTheService(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	secretFile, _ := harness.NewWebhookSecret(t)
	require.NoError(t, os.Chmod(secretFile, 0o644))
	cfg.HTTPIngest.Vendors = []httpapi.VendorConfig{{Name: "acme", SecretFile: secretFile, Devices: map[string]string{"acme-A1": "scale-1"}}}
	cfg.Finish()
	require.NoError(t, cfg.Validate())
	_, err := app.New(context.Background(), cfg, zerolog.Nop(), app.Options{})
	require.ErrorIs(t, err, auth.ErrKeyExposed)
	require.ErrorContains(t, err, "http_ingest.vendors[0].secret_file")

	t.Run("a vendor without a secret file is a configuration error naming the field", func(t *testing.T) {
		cfg.HTTPIngest.Vendors[0].SecretFile = ""
		require.ErrorContains(t, cfg.Validate(), "http_ingest.vendors[0].secret_file: is required")
	})
}
