package httpapi

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTheClientIsTheRightmostAddressNoTrustedProxyAdded(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"one proxy", []string{"203.0.113.7"}, "203.0.113.7"},
		{"a chain of trusted proxies", []string{"203.0.113.7, 10.1.2.3, 10.4.5.6"}, "203.0.113.7"},
		{"what the client claims left of it is ignored", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"over several header lines", []string{"198.51.100.1", "203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{"an IPv4-mapped address", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"IPv6", []string{"2001:db8::1"}, "2001:db8::1"},
		{"garbage nearest the proxy", []string{"203.0.113.7, not-an-address"}, ""},
		{"only trusted hops", []string{"10.1.2.3"}, ""},
		{"no header", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := forwardedClient(tc.headers, trusted)
			if tc.want == "" {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Equal(t, tc.want, got.String())
		})
	}
}
