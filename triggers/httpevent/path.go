package httpevent

import (
	"net/url"
	"path"
	"strings"
)

// SetPath sets u.Path and u.RawPath from a request path as an event carries
// it. Some sources deliver the path still percent-encoded and others decoded,
// so escaped reports whether p is percent-encoded.
//
// An escaped p that decodes cleanly becomes Path, and RawPath keeps p when its
// encoding differs from the default one (an encoded slash, say). An escaped p
// that does not decode, such as one with a bare "%", is taken as decoded. A
// path without a leading slash gets one.
func SetPath(u *url.URL, p string, escaped bool) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u.Path, u.RawPath = p, ""
	if !escaped {
		return
	}

	decoded, err := url.PathUnescape(p)
	if err != nil {
		return
	}
	u.Path = decoded
	if (&url.URL{Path: decoded}).EscapedPath() != p {
		u.RawPath = p
	}
}

// StripPrefix removes prefix from the start of u's path when the path is
// prefix itself or continues with "/" after it, and reports whether it did.
// What remains keeps its leading slash, and a path that was only the prefix
// becomes "/". RawPath is trimmed the same way, or cleared when it does not
// start with the escaped prefix. A prefix of "" or "/" never matches.
func StripPrefix(u *url.URL, prefix string) bool {
	prefix = cleanPrefix(prefix)
	if prefix == "" {
		return false
	}

	rest, ok := trimSegmentPrefix(u.Path, prefix)
	if !ok {
		return false
	}
	u.Path = rest

	if u.RawPath != "" {
		escapedPrefix := (&url.URL{Path: prefix}).EscapedPath()
		rawRest, rawOK := trimSegmentPrefix(u.RawPath, escapedPrefix)
		u.RawPath = ""
		if rawOK {
			u.RawPath = rawRest
		}
	}
	return true
}

// cleanPrefix returns prefix with one leading slash and no trailing slash, or
// "" when it names the root.
func cleanPrefix(prefix string) string {
	prefix = strings.TrimSpace(prefix)
	if prefix == "" {
		return ""
	}
	prefix = path.Clean("/" + prefix)
	if prefix == "/" {
		return ""
	}
	return prefix
}

func trimSegmentPrefix(p, prefix string) (string, bool) {
	if p == prefix {
		return "/", true
	}
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok || !strings.HasPrefix(rest, "/") {
		return p, false
	}
	return rest, true
}
