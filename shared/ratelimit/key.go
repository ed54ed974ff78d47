package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Key holds the request attributes a policy can limit by.
type Key struct {
	Route   string // route pattern, such as "GET /api/zones/services"
	Channel string // client channel: wechat, alipay, baidu, app or h5
	User    string // authenticated user id, empty for anonymous callers
	IP      string // client address, normally built with IPKey
	App     string // consumer app id
}

// String encodes the non-empty parts as "route=…|channel=…|user=…|ip=…|app=…",
// in that order. A backslash or "|" inside a value is escaped with a
// backslash, so the encoding is injective: two different Keys never produce
// the same string.
func (k Key) String() string {
	return k.encode(PartRoute | PartChannel | PartUser | PartIP | PartApp)
}

// encode returns the parts of k that parts selects, in String's format.
func (k Key) encode(parts Part) string {
	var b strings.Builder
	b.Grow(k.encodedLen(parts))
	k.encodeTo(&b, parts)
	return b.String()
}

// encodedLen returns the length of encode's result when no value needs
// escaping, which is the usual case.
func (k *Key) encodedLen(parts Part) int {
	n := 0
	for _, f := range keyFields {
		if v := k.value(f.part); parts&f.part != 0 && v != "" {
			n += len(f.name) + len(v) + 2 // "=" and the "|" before the next part
		}
	}
	return n
}

// encodeTo writes encode's result to b.
func (k *Key) encodeTo(b *strings.Builder, parts Part) {
	first := true
	for _, f := range keyFields {
		v := k.value(f.part)
		if parts&f.part == 0 || v == "" {
			continue
		}
		if !first {
			b.WriteByte('|')
		}
		first = false
		b.WriteString(f.name)
		b.WriteByte('=')
		writeEscaped(b, v)
	}
}

// writeEscaped writes v with each backslash and "|" preceded by a backslash.
func writeEscaped(b *strings.Builder, v string) {
	// Most values need no escaping, and IndexByte is vectorized.
	if strings.IndexByte(v, '|') < 0 && strings.IndexByte(v, '\\') < 0 {
		b.WriteString(v)
		return
	}
	start := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' || v[i] == '|' {
			b.WriteString(v[start:i])
			b.WriteByte('\\')
			start = i
		}
	}
	b.WriteString(v[start:])
}

// IPKey returns the Key.IP value for a client address. For IPv4, including
// IPv4-mapped IPv6, that is the address itself. For IPv6 it is the /64
// prefix, because one IPv6 subscriber usually holds a whole /64 and could
// otherwise rotate addresses to escape a per-IP limit. It returns "" for the
// zero Addr.
func IPKey(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	prefix, _ := addr.WithZone("").Prefix(64)
	return prefix.String()
}

// Part selects key parts, and so what a policy counts separately: a policy
// with Parts PartUser|PartRoute gives each user a separate quota on each
// route, and one with Parts 0 shares one quota among all callers.
type Part uint8

// Key parts, combinable with |.
const (
	PartRoute Part = 1 << iota
	PartChannel
	PartUser
	PartIP
	PartApp
)

// keyFields lists the parts in encoding order with their names.
var keyFields = [...]struct {
	part Part
	name string
}{
	{PartRoute, "route"},
	{PartChannel, "channel"},
	{PartUser, "user"},
	{PartIP, "ip"},
	{PartApp, "app"},
}

// value returns the value of the single part p.
func (k *Key) value(p Part) string {
	switch p {
	case PartRoute:
		return k.Route
	case PartChannel:
		return k.Channel
	case PartUser:
		return k.User
	case PartIP:
		return k.IP
	case PartApp:
		return k.App
	}
	return ""
}

// String returns the part names joined by commas, such as "route,user", or
// "" for no parts.
func (p Part) String() string {
	var names []string
	for _, f := range keyFields {
		if p&f.part != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ",")
}

// MarshalText encodes p as String does.
func (p Part) MarshalText() ([]byte, error) {
	return []byte(p.String()), nil
}

// UnmarshalText parses comma-separated part names (route, channel, user, ip,
// app) as written by MarshalText, ignoring spaces around names. An empty
// text selects no parts.
func (p *Part) UnmarshalText(text []byte) error {
	var parsed Part
	for name := range strings.SplitSeq(string(text), ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		part, ok := partByName(name)
		if !ok {
			return fmt.Errorf("ratelimit: unknown key part %q; use route, channel, user, ip or app", name)
		}
		parsed |= part
	}
	*p = parsed
	return nil
}

func partByName(name string) (Part, bool) {
	for _, f := range keyFields {
		if f.name == name {
			return f.part, true
		}
	}
	return 0, false
}

// Policy is a named limit applied per combination of key parts, such as
// 100 requests per minute per user and route.
type Policy struct {
	// Name identifies the policy in keys and in the RateLimit and
	// RateLimit-Policy headers: 1 to 64 characters of A-Z, a-z, 0-9, ".",
	// "_" and "-". Renaming a policy starts every caller with a full bucket.
	Name string

	// Limit is the rate each partition gets.
	Limit Limit

	// Parts selects the key parts that partition the quota. Every selected
	// part must be present in a request's Key for the policy to apply.
	Parts Part
}

// Validate returns an error naming the first problem with p.
func (p Policy) Validate() error {
	if err := validatePolicyName(p.Name); err != nil {
		return err
	}
	if p.Parts&^(PartRoute|PartChannel|PartUser|PartIP|PartApp) != 0 {
		return fmt.Errorf("ratelimit: policy %q: unknown key parts %#x", p.Name, uint8(p.Parts))
	}
	if err := p.Limit.Validate(); err != nil {
		return fmt.Errorf("ratelimit: policy %q: %w", p.Name, err)
	}
	return nil
}

func validatePolicyName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("ratelimit: policy name must have 1 to 64 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("ratelimit: policy name %q: use only A-Z, a-z, 0-9, '.', '_' and '-'", name)
		}
	}
	return nil
}

// Key returns the limiter key for k under p: the policy name (escaped like
// a part value) followed by the parts p selects, encoded as Key.String
// does. It returns false when a selected part is empty, for example for a
// per-user policy and an anonymous caller, because all such callers would
// otherwise share one quota. Cover such callers with another policy, such
// as a per-IP one.
func (p Policy) Key(k Key) (string, bool) {
	for _, f := range keyFields {
		if p.Parts&f.part != 0 && k.value(f.part) == "" {
			return "", false
		}
	}
	partsLen := k.encodedLen(p.Parts)
	var b strings.Builder
	b.Grow(len(p.Name) + 1 + partsLen)
	writeEscaped(&b, p.Name)
	if partsLen > 0 {
		b.WriteByte('|')
		k.encodeTo(&b, p.Parts)
	}
	return b.String(), true
}
