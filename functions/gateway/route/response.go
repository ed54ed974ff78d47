package route

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/jingtong/backend/shared/httpx"
)

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeResponse copies resp to w: the status, the end-to-end headers and
// the body, streamed. Trailers are dropped. The route's upstream_5xx
// template replaces a 5xx response, and response conversion turns XML and
// form bodies into JSON.
func (rt *Router) writeResponse(w http.ResponseWriter, r *http.Request, route *Route, resp *http.Response) {
	defer resp.Body.Close()

	if resp.StatusCode >= 500 {
		if t, ok := route.errors[ErrorUpstream5xx]; ok {
			drain(resp.Body)
			httpx.WriteError(w, r, rt.logger, httpx.Wrap(t, &upstreamStatusError{status: resp.StatusCode}))
			return
		}
	}
	if route.convert != nil && route.convert.response {
		if format := responseFormat(resp.Header.Get("Content-Type")); format != "" {
			rt.writeConverted(w, r, route, resp, format)
			return
		}
	}

	copyResponseHeader(w.Header(), resp.Header, route.cors != nil)
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}

	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	var err error
	if resp.ContentLength == -1 {
		err = copyFlushing(w, resp.Body, *bufp)
	} else {
		_, err = io.CopyBuffer(w, resp.Body, *bufp)
	}
	if err != nil && r.Context().Err() == nil {
		rt.logger.WarnContext(r.Context(), "copying the upstream response failed", "route", route.Name, "request_id", httpx.RequestID(r.Context()), "err", err)
		// Abort the connection so that the client cannot take a cut
		// chunked body for a whole one. The server recovers this panic.
		panic(http.ErrAbortHandler)
	}
}

type upstreamStatusError struct{ status int }

func (e *upstreamStatusError) Error() string {
	return "upstream answered " + http.StatusText(e.status)
}

// copyResponseHeader copies the end-to-end fields of src into dst. A field
// from the upstream replaces one the gateway set, except that Vary values
// are merged and, on CORS routes, the gateway's Access-Control fields win.
func copyResponseHeader(dst, src http.Header, corsRoute bool) {
	removeHopHeaders(src)
	for k, vv := range src {
		switch {
		case corsRoute && strings.HasPrefix(k, "Access-Control-"):
		case k == hdrVary && len(dst[k]) > 0:
			dst[k] = append(dst[k], vv...)
		default:
			dst[k] = vv
		}
	}
}

// copyFlushing copies a body of unknown length, flushing after each write
// so that streamed responses reach the client as they come.
func copyFlushing(w http.ResponseWriter, src io.Reader, buf []byte) error {
	rc := http.NewResponseController(w)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// responseFormat returns FormatXML or FormatForm for a convertible
// response content type, or "".
func responseFormat(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	switch {
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return FormatXML
	case mt == "application/x-www-form-urlencoded":
		return FormatForm
	}
	return ""
}

// writeConverted reads a bounded XML or form response, converts it to JSON
// and writes it with the upstream's status.
func (rt *Router) writeConverted(w http.ResponseWriter, r *http.Request, route *Route, resp *http.Response, format string) {
	c := route.convert
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err == nil && int64(len(data)) > c.maxBytes {
		err = errors.New("upstream response exceeds the conversion limit")
	}
	if err != nil {
		rt.writeFailure(w, r, route, ErrorUpstream, CodeUpstreamError, err)
		return
	}
	var out []byte
	if format == FormatXML {
		out, err = XMLToJSON(data, c.arrays, c.maxDepth)
	} else {
		out, err = FormToJSON(data, c.arrays, c.maxDepth)
	}
	if err != nil {
		rt.writeFailure(w, r, route, ErrorUpstream, CodeUpstreamError, err)
		return
	}

	h := w.Header()
	copyResponseHeader(h, resp.Header, route.cors != nil)
	for _, k := range []string{"Content-Encoding", "Content-Md5", "Etag", "Digest", "Content-Range"} {
		delete(h, k)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}
