package envelope

import (
	"cmp"
	"slices"
	"strings"
)

type queryPair struct {
	key, value string
}

// CanonicalQuery returns the canonical form of a raw query string (without
// the "?") that request signatures cover:
//
//  1. Split the query on "&" and drop empty parts. Split each part at its
//     first "=" into a name and a value; a part without "=" has an empty
//     value.
//  2. Decode names and values as application/x-www-form-urlencoded: "+" is
//     a space and %XX is the byte XX (either case of hex). Any other "%" is
//     an error.
//  3. Encode each byte again: A–Z, a–z, 0–9, "-", ".", "_" and "~" stay as
//     they are, and every other byte becomes %XX with uppercase hex.
//  4. Sort the pairs by encoded name, then by encoded value, comparing
//     bytes, and join them as name=value with "&". Repeated names are kept.
//
// For example "b=2&a=%e4%ba%ac&a=x+y&c" becomes
// "a=%E4%BA%AC&a=x%20y&b=2&c=".
func CanonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}

	pairs := make([]queryPair, 0, strings.Count(raw, "&")+1)
	size := 0
	offset := 0
	for part := range strings.SplitSeq(raw, "&") {
		if part != "" {
			name, value, _ := strings.Cut(part, "=")
			encodedName, err := canonicalComponent(name, offset)
			if err != nil {
				return "", err
			}
			encodedValue, err := canonicalComponent(value, offset+len(name)+1)
			if err != nil {
				return "", err
			}
			pairs = append(pairs, queryPair{key: encodedName, value: encodedValue})
			size += len(encodedName) + len(encodedValue) + 2
		}
		offset += len(part) + 1
	}
	if len(pairs) == 0 {
		return "", nil
	}

	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.value, b.value)
	})

	var b strings.Builder
	b.Grow(size)
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String(), nil
}

// canonicalComponent decodes s as a form-encoded name or value and encodes
// it again in canonical form. offset is the position of s in the query, for
// errors.
func canonicalComponent(s string, offset int) (string, error) {
	if isCanonicalComponent(s) {
		return s, nil
	}

	const upperHex = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)+len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(s) {
				return "", &QueryError{Offset: offset + i}
			}
			hi, okHi := unhex(s[i+1])
			lo, okLo := unhex(s[i+2])
			if !okHi || !okLo {
				return "", &QueryError{Offset: offset + i}
			}
			c = hi<<4 | lo
			i += 2
		}
		if isUnreserved(c) {
			out = append(out, c)
			continue
		}
		out = append(out, '%', upperHex[c>>4], upperHex[c&0x0f])
	}
	return string(out), nil
}

// isCanonicalComponent reports whether s contains only unreserved
// characters, so that its canonical form is s itself.
func isCanonicalComponent(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			return false
		}
	}
	return true
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
