package gateway

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := &trustedProxies{prefixes: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:1::/48"),
	}}
	none := &trustedProxies{}

	tests := []struct {
		name      string
		proxies   *trustedProxies
		remote    string
		forwarded []string
		want      string
	}{
		{"peer without proxies", none, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer ignores header", proxies, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer", proxies, "10.0.0.2:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client cannot forge left entries", proxies, "10.0.0.2:80", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"skips trusted hops", proxies, "10.0.0.2:80", []string{"198.51.100.1, 10.9.9.9", "10.0.0.7"}, "198.51.100.1"},
		{"all trusted gives leftmost", proxies, "10.0.0.2:80", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"no header gives peer", proxies, "10.0.0.2:80", nil, "10.0.0.2"},
		{"garbage stops at last trusted hop", proxies, "10.0.0.2:80", []string{"198.51.100.1, unknown"}, "10.0.0.2"},
		{"entry with port", proxies, "10.0.0.2:80", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv6 peer and entry", proxies, "[2001:db8:1::5]:443", []string{"[2001:db8:2::9]:1"}, "2001:db8:2::9"},
		{"IPv4-mapped peer", none, "[::ffff:203.0.113.9]:5000", nil, "203.0.113.9"},
		{"RemoteAddr without port", none, "203.0.113.9", nil, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.proxies.clientIP(tt.remote, tt.forwarded)
			if got.String() != tt.want {
				t.Errorf("clientIP(%q, %q) = %s, want %s", tt.remote, tt.forwarded, got, tt.want)
			}
		})
	}

	if got := none.clientIP("pipe", nil); got.IsValid() {
		t.Errorf("clientIP(pipe) = %s, want the zero address", got)
	}
}

// FuzzClientIP checks that any X-Forwarded-For value yields the peer, or,
// for a trusted peer, an address that the value contains.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:80", "198.51.100.1, 10.9.9.9")
	f.Add("10.0.0.2:80", "[2001:db8::1]:443,unknown,,")
	f.Add("203.0.113.9:1", "1.2.3.4")
	f.Add("[::ffff:10.0.0.1]:9", "::ffff:192.0.2.1 , fe80::1%eth0")
	proxies := &trustedProxies{prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}

	f.Fuzz(func(t *testing.T, remote, forwarded string) {
		got := proxies.clientIP(remote, []string{forwarded})
		peer, ok := parseHost(remote)
		if !ok {
			if got.IsValid() {
				t.Fatalf("clientIP(%q, %q) = %s for a peer without an address", remote, forwarded, got)
			}
			return
		}
		if got == peer {
			return
		}
		if !proxies.trusted(peer) {
			t.Fatalf("clientIP(%q, %q) = %s, want the untrusted peer %s", remote, forwarded, got, peer)
		}
		found := false
		for _, entry := range strings.Split(forwarded, ",") {
			if addr, ok := parseHost(strings.TrimSpace(entry)); ok && addr == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("clientIP(%q, %q) = %s, which the header does not contain", remote, forwarded, got)
		}
	})
}
