package route

import (
	"regexp"
	"strings"
)

// rewriter changes a request path before forwarding.
type rewriter struct {
	prefix      string
	strip       bool
	replace     string
	re          *regexp.Regexp
	replacement string
}

func newRewriter(prefix string, c *RewriteConfig) *rewriter {
	if c == nil {
		return nil
	}
	rw := &rewriter{prefix: prefix, strip: c.StripPrefix, replace: c.ReplacePrefix}
	if c.Regexp != nil {
		rw.re = regexp.MustCompile(c.Regexp.Pattern)
		rw.replacement = c.Regexp.Replacement
	}
	if prefix == "/" {
		// Stripping "/" keeps the path. Replacing it joins the
		// replacement and the whole path.
		rw.prefix = ""
	}
	return rw
}

// apply returns the rewritten path and raw path. rawPath is the request's
// URL.RawPath, which is "" unless the path has escapes that Path cannot
// show (such as %2F). A regexp rewrite drops rawPath.
func (rw *rewriter) apply(path, rawPath string) (string, string) {
	if rw == nil {
		return path, rawPath
	}
	if rw.re != nil {
		loc := rw.re.FindStringSubmatchIndex(path)
		if loc == nil {
			return path, rawPath
		}
		out := rw.re.ExpandString(nil, rw.replacement, path, loc)
		return path[:loc[0]] + string(out) + path[loc[1]:], ""
	}

	path = rw.prefixOp(path)
	if rawPath != "" {
		if strings.HasPrefix(rawPath, rw.prefix) {
			rawPath = rw.prefixOp(rawPath)
		} else {
			rawPath = ""
		}
	}
	return path, rawPath
}

// prefixOp strips or replaces the route prefix of p, which Match has
// checked starts with it.
func (rw *rewriter) prefixOp(p string) string {
	rest := p[len(rw.prefix):]
	base := rw.replace
	if base != "" && strings.HasSuffix(base, "/") && strings.HasPrefix(rest, "/") {
		base = base[:len(base)-1]
	}
	var out string
	if strings.HasSuffix(rw.prefix, base) {
		// p ends with base+rest (as /api/zones/zones/x ends with /zones/x),
		// so slicing p avoids building a new string.
		out = p[len(rw.prefix)-len(base):]
	} else {
		out = base + rest
	}
	if out == "" {
		return "/"
	}
	if out[0] != '/' {
		return "/" + out
	}
	return out
}
