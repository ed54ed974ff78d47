package route

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORS header names.
const (
	hdrOrigin           = "Origin"
	hdrVary             = "Vary"
	hdrRequestMethod    = "Access-Control-Request-Method"
	hdrRequestHeaders   = "Access-Control-Request-Headers"
	hdrAllowOrigin      = "Access-Control-Allow-Origin"
	hdrAllowMethods     = "Access-Control-Allow-Methods"
	hdrAllowHeaders     = "Access-Control-Allow-Headers"
	hdrAllowCredentials = "Access-Control-Allow-Credentials"
	hdrExposeHeaders    = "Access-Control-Expose-Headers"
	hdrMaxAge           = "Access-Control-Max-Age"
)

// cors is a compiled CORSConfig.
type cors struct {
	any         bool
	exact       map[string]bool
	wildcards   []originWildcard
	methods     string
	headers     string
	expose      string
	credentials bool
	maxAge      string
}

// originWildcard matches scheme://<labels>.suffix.
type originWildcard struct {
	scheme string // "https://"
	suffix string // ".example.cn" or ".example.cn:8443"
}

func newCORS(c *CORSConfig, routeMethods []string) *cors {
	if c == nil {
		return nil
	}
	out := &cors{
		exact:       map[string]bool{},
		headers:     strings.Join(c.AllowHeaders, ", "),
		expose:      strings.Join(c.ExposeHeaders, ", "),
		credentials: c.AllowCredentials,
	}
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			out.any = true
		case strings.Contains(o, "://*."):
			scheme, host, _ := strings.Cut(o, "://*")
			out.wildcards = append(out.wildcards, originWildcard{scheme: scheme + "://", suffix: host})
		default:
			out.exact[o] = true
		}
	}
	methods := c.AllowMethods
	if len(methods) == 0 {
		methods = slices.DeleteFunc(slices.Clone(routeMethods), func(m string) bool { return m == http.MethodOptions })
	}
	out.methods = strings.Join(methods, ", ")
	maxAge := time.Duration(c.MaxAge)
	if maxAge == 0 {
		maxAge = DefaultCORSMaxAge
	}
	out.maxAge = strconv.Itoa(int(maxAge / time.Second))
	return out
}

// allows reports whether origin may call the route.
func (c *cors) allows(origin string) bool {
	if c.any || c.exact[origin] {
		return true
	}
	for _, w := range c.wildcards {
		labels, ok := strings.CutPrefix(origin, w.scheme)
		if !ok {
			continue
		}
		labels, ok = strings.CutSuffix(labels, w.suffix)
		if ok && labels != "" && !strings.ContainsAny(labels, ":/@?#") {
			return true
		}
	}
	return false
}

// echoesOrigin reports whether allowed responses name the caller's origin
// rather than "*", so that they vary with Origin.
func (c *cors) echoesOrigin() bool {
	return !c.any || c.credentials
}

// setAllowOrigin sets the headers every allowed cross-origin response
// carries. Router.admit adds Vary: Origin for every request on the route.
func (c *cors) setAllowOrigin(h http.Header, origin string) {
	if c.echoesOrigin() {
		h.Set(hdrAllowOrigin, origin)
	} else {
		h.Set(hdrAllowOrigin, "*")
	}
	if c.credentials {
		h.Set(hdrAllowCredentials, "true")
	}
}

// writePreflight writes the 204 response to an allowed preflight request.
func (c *cors) writePreflight(w http.ResponseWriter, origin string) {
	h := w.Header()
	c.setAllowOrigin(h, origin)
	h.Add(hdrVary, hdrRequestMethod)
	h.Add(hdrVary, hdrRequestHeaders)
	h.Set(hdrAllowMethods, c.methods)
	if c.headers != "" {
		h.Set(hdrAllowHeaders, c.headers)
	}
	h.Set(hdrMaxAge, c.maxAge)
	w.WriteHeader(http.StatusNoContent)
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get(hdrOrigin) != "" && r.Header.Get(hdrRequestMethod) != ""
}

// sameOrigin reports whether origin names the host the request was sent
// to, whatever the scheme, as browsers send Origin on same-origin POSTs.
func sameOrigin(r *http.Request, origin string) bool {
	_, host, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(host, r.Host)
}
