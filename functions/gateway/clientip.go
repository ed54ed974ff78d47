package gateway

import (
	"net/netip"
	"strings"
)

// trustedProxies decides which address a request comes from.
type trustedProxies struct {
	prefixes []netip.Prefix
}

func (t *trustedProxies) trusted(addr netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientIP returns the client address of a request with RemoteAddr remote
// and the given X-Forwarded-For header values. Without trusted proxies it
// is the TCP peer. With them, and a trusted peer, it walks X-Forwarded-For
// from right to left, past every trusted address, and returns the first
// untrusted one. Each proxy appends the address it received from, so the
// client itself could have written everything to the left of that hop. An
// entry that is not an address stops the walk at the last trusted hop. It
// returns the zero Addr when remote has no IP address.
func (t *trustedProxies) clientIP(remote string, forwarded []string) netip.Addr {
	peer, ok := parseHost(remote)
	if !ok {
		return netip.Addr{}
	}
	if len(t.prefixes) == 0 || !t.trusted(peer) {
		return peer
	}

	addr := peer
	for i := len(forwarded) - 1; i >= 0; i-- {
		entries := forwarded[i]
		for entries != "" {
			var entry string
			if j := strings.LastIndexByte(entries, ','); j >= 0 {
				entries, entry = entries[:j], entries[j+1:]
			} else {
				entries, entry = "", entries
			}
			next, ok := parseHost(strings.TrimSpace(entry))
			if !ok {
				return addr
			}
			addr = next
			if !t.trusted(addr) {
				return addr
			}
		}
	}
	return addr
}

// parseHost parses "ip", "ip:port" or "[ipv6]:port" and unmaps
// IPv4-mapped IPv6 addresses.
func parseHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	addr, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}
