package ratelimit_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/ratelimit"
)

func TestKey_String(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  ratelimit.Key
		want string
	}{
		{name: "empty", key: ratelimit.Key{}, want: ""},
		{
			name: "all parts",
			key:  ratelimit.Key{Route: "GET /api/zones", Channel: "wechat", User: "o1", IP: "203.0.113.7", App: "wx01"},
			want: "route=GET /api/zones|channel=wechat|user=o1|ip=203.0.113.7|app=wx01",
		},
		{name: "empty parts left out", key: ratelimit.Key{User: "o1", App: "wx01"}, want: "user=o1|app=wx01"},
		{name: "separator escaped", key: ratelimit.Key{User: "a|ip=1.2.3.4"}, want: `user=a\|ip=1.2.3.4`},
		{name: "backslash escaped", key: ratelimit.Key{User: `a\`, IP: "b"}, want: `user=a\\|ip=b`},
		{name: "equals sign kept", key: ratelimit.Key{Route: "GET /x?a=b"}, want: "route=GET /x?a=b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.key.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzKey checks that Key.String is injective: every encoding decodes back
// to the Key it came from, so two different Keys never share a string.
func FuzzKey(f *testing.F) {
	f.Add("GET /a", "wechat", "o1", "203.0.113.7", "wx01", "GET /a", "wechat", "o1", "203.0.113.7", "wx02")
	f.Add("a|user=b", "", "", "", "", "a", "", "b", "", "")
	f.Add(`a\`, "", "b", "", "", `a\|user=b`, "", "", "", "")
	f.Add("", "", `\|`, "", "", "", "", `\`, "|", "")
	f.Add("route=x", "", "", "", "", "", "", "", "", "")

	f.Fuzz(func(t *testing.T, r1, c1, u1, i1, a1, r2, c2, u2, i2, a2 string) {
		k1 := ratelimit.Key{Route: r1, Channel: c1, User: u1, IP: i1, App: a1}
		k2 := ratelimit.Key{Route: r2, Channel: c2, User: u2, IP: i2, App: a2}
		s1, s2 := k1.String(), k2.String()

		if got, err := decodeKey(s1); err != nil || got != k1 {
			t.Fatalf("decode(%q) = %#v, %v, want %#v", s1, got, err, k1)
		}
		if k1 != k2 && s1 == s2 {
			t.Fatalf("%#v and %#v both encode to %q", k1, k2, s1)
		}
	})
}

// decodeKey parses the output of Key.String, independently of the encoder.
func decodeKey(s string) (ratelimit.Key, error) {
	var k ratelimit.Key
	if s == "" {
		return k, nil
	}
	var (
		fields []string
		cur    strings.Builder
	)
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == '\\':
			return k, errors.New("trailing backslash")
		case s[i] == '|':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	fields = append(fields, cur.String())

	order := []string{"route", "channel", "user", "ip", "app"}
	next := 0
	for _, field := range fields {
		name, value, ok := strings.Cut(field, "=")
		if !ok || value == "" {
			return k, errors.New("field without a value: " + field)
		}
		for next < len(order) && order[next] != name {
			next++
		}
		if next == len(order) {
			return k, errors.New("unknown or out-of-order field: " + name)
		}
		switch name {
		case "route":
			k.Route = value
		case "channel":
			k.Channel = value
		case "user":
			k.User = value
		case "ip":
			k.IP = value
		case "app":
			k.App = value
		}
		next++
	}
	return k, nil
}

func TestPolicy_Key(t *testing.T) {
	t.Parallel()
	full := ratelimit.Key{Route: "GET /a", Channel: "alipay", User: "o1", IP: "203.0.113.7", App: "wx01"}
	tests := []struct {
		name   string
		policy ratelimit.Policy
		key    ratelimit.Key
		want   string
		ok     bool
	}{
		{name: "global", policy: ratelimit.Policy{Name: "all"}, key: full, want: "all", ok: true},
		{name: "per route", policy: ratelimit.Policy{Name: "route", Parts: ratelimit.PartRoute}, key: full, want: "route|route=GET /a", ok: true},
		{name: "per channel", policy: ratelimit.Policy{Name: "ch", Parts: ratelimit.PartChannel}, key: full, want: "ch|channel=alipay", ok: true},
		{name: "per IP", policy: ratelimit.Policy{Name: "ip", Parts: ratelimit.PartIP}, key: full, want: "ip|ip=203.0.113.7", ok: true},
		{name: "per app", policy: ratelimit.Policy{Name: "app", Parts: ratelimit.PartApp}, key: full, want: "app|app=wx01", ok: true},
		{
			name:   "per user and route",
			policy: ratelimit.Policy{Name: "user-route", Parts: ratelimit.PartUser | ratelimit.PartRoute},
			key:    full, want: "user-route|route=GET /a|user=o1", ok: true,
		},
		{name: "anonymous caller skips per-user", policy: ratelimit.Policy{Name: "user", Parts: ratelimit.PartUser}, key: ratelimit.Key{IP: "203.0.113.7"}},
		{name: "name escaped", policy: ratelimit.Policy{Name: "a|b"}, key: full, want: `a\|b`, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tt.policy.Key(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Key() = %q, %v, want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPolicy_Validate(t *testing.T) {
	t.Parallel()
	limit := ratelimit.PerMinute(60)
	tests := []struct {
		name    string
		policy  ratelimit.Policy
		wantErr string
	}{
		{name: "valid", policy: ratelimit.Policy{Name: "per-user.v2_1", Limit: limit, Parts: ratelimit.PartUser}},
		{name: "empty name", policy: ratelimit.Policy{Limit: limit}, wantErr: "1 to 64 characters"},
		{name: "long name", policy: ratelimit.Policy{Name: strings.Repeat("a", 65), Limit: limit}, wantErr: "1 to 64 characters"},
		{name: "quote in name", policy: ratelimit.Policy{Name: `a"b`, Limit: limit}, wantErr: `policy name "a\"b"`},
		{name: "non-ASCII name", policy: ratelimit.Policy{Name: "限流", Limit: limit}, wantErr: "use only"},
		{name: "unknown part", policy: ratelimit.Policy{Name: "p", Limit: limit, Parts: 1 << 7}, wantErr: "unknown key parts 0x80"},
		{name: "invalid limit", policy: ratelimit.Policy{Name: "p", Limit: ratelimit.Limit{Rate: 1, Period: time.Second}}, wantErr: `policy "p": ratelimit: invalid limit: burst 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPart_text(t *testing.T) {
	t.Parallel()
	all := ratelimit.PartRoute | ratelimit.PartChannel | ratelimit.PartUser | ratelimit.PartIP | ratelimit.PartApp
	if got, want := all.String(), "route,channel,user,ip,app"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	tests := []struct {
		text string
		want ratelimit.Part
	}{
		{"", 0},
		{"user", ratelimit.PartUser},
		{" ip , route ", ratelimit.PartIP | ratelimit.PartRoute},
		{"app,app", ratelimit.PartApp},
		{"route,channel,user,ip,app", all},
	}
	for _, tt := range tests {
		var p ratelimit.Part
		if err := p.UnmarshalText([]byte(tt.text)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.text, err)
			continue
		}
		if p != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tt.text, p, tt.want)
		}
		text, _ := p.MarshalText()
		var back ratelimit.Part
		if err := back.UnmarshalText(text); err != nil || back != p {
			t.Errorf("round trip of %v through %q = %v, %v", p, text, back, err)
		}
	}

	var p ratelimit.Part
	if err := p.UnmarshalText([]byte("user,openid")); err == nil || !strings.Contains(err.Error(), `"openid"`) {
		t.Errorf("UnmarshalText(user,openid) = %v, want an error naming \"openid\"", err)
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want string
	}{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		if got := ratelimit.IPKey(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("IPKey(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := ratelimit.IPKey(netip.Addr{}); got != "" {
		t.Errorf("IPKey(zero Addr) = %q, want \"\"", got)
	}
}
