package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops is how many X-Forwarded-For entries are looked at,
// from the right: enough for any chain of proxies a hospital runs.
const maxForwardedHops = 16

// behindProxies makes the client's address, for the per-source limits,
// the audit log and the logs, the one the trusted proxies say they
// received the request from: the rightmost X-Forwarded-For entry that is
// not itself a trusted proxy. A request whose peer is not a trusted proxy
// keeps its peer's address, whatever it claims, so nobody can choose the
// address they are counted and audited under by sending the header.
func behindProxies(h http.Handler, trusted []netip.Prefix) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err == nil && isTrusted(peer.Addr()) {
			if client, ok := forwardedClient(r.Header.Values("X-Forwarded-For"), isTrusted); ok {
				r2 := r.Clone(r.Context())
				r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
				r = r2
			}
		}
		h.ServeHTTP(w, r)
	})
}

// forwardedClient walks the X-Forwarded-For entries from the right past
// the trusted proxies; false when there is no usable entry (then the
// request is counted as the proxy's own).
func forwardedClient(headers []string, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	var hops []string
	for _, h := range headers {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i, seen := len(hops)-1, 0; i >= 0 && seen < maxForwardedHops; i, seen = i-1, seen+1 {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		if !trusted(a) {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
