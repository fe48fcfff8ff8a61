package httpapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTheHTTPIngestSettingsAreCheckedByName(t *testing.T) {
	require.NoError(t, DefaultIngestConfig().Validate())
	for name, tt := range map[string]struct {
		change func(*IngestConfig)
		field  string
	}{
		"no posts allowed":               {func(c *IngestConfig) { c.PerMinute = 0 }, "per_minute"},
		"a wait too short to be durable": {func(c *IngestConfig) { c.Wait = time.Millisecond }, "wait"},
		"a vendor named like a path":     {func(c *IngestConfig) { c.Vendors[0].Name = "../acme" }, "vendors[0].name"},
		"a vendor without a secret":      {func(c *IngestConfig) { c.Vendors[0].SecretFile = "" }, "vendors[0].secret_file"},
		"a vendor listed twice":          {func(c *IngestConfig) { c.Vendors = append(c.Vendors, c.Vendors[0]) }, "vendors[1].name"},
		"a mapping to no device id":      {func(c *IngestConfig) { c.Vendors[0].Devices["acme-1"] = "a b" }, "vendors[0].devices[acme-1]"},
		"a vendor id with a newline":     {func(c *IngestConfig) { c.Vendors[0].Devices["acme\n1"] = "scale-1" }, "vendors[0].devices"},
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultIngestConfig()
			c.Vendors = []VendorConfig{{Name: "acme", SecretFile: "/etc/acme.secret", Devices: map[string]string{"acme-1": "scale-1"}}}
			require.NoError(t, c.Validate())
			tt.change(&c)
			require.ErrorContains(t, c.Validate(), tt.field+":")
		})
	}
}
