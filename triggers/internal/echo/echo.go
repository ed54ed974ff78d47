// Package echo provides an http.Handler for adapter tests. It reports the
// request it received as JSON and builds the rest of its response from
// X-Echo-* request headers, so one table of events can check both directions
// of an adapter.
package echo

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Request headers that control the response. Each value may hold several
// items separated by "|", because some event formats fold repeated headers
// into one comma-joined value.
const (
	// StatusHeader sets the response status code. Values outside 100-999
	// are ignored.
	StatusHeader = "X-Echo-Status"
	// SetCookieHeader items become one Set-Cookie response header each.
	SetCookieHeader = "X-Echo-Set-Cookie"
	// HeaderHeader items of the form "Name: value" are added to the response
	// header in order.
	HeaderHeader = "X-Echo-Header"
	// BodyHeader is a base64 body to send in place of the JSON report.
	BodyHeader = "X-Echo-Body"
	// ContentTypeHeader sets the response Content-Type. An empty value
	// removes it. The default is application/json.
	ContentTypeHeader = "X-Echo-Content-Type"
)

// Request is the report the handler sends back.
type Request struct {
	Method        string              `json:"method"`
	Proto         string              `json:"proto"`
	Host          string              `json:"host"`
	RemoteAddr    string              `json:"remote_addr"`
	RequestURI    string              `json:"request_uri"`
	Path          string              `json:"path"`
	RawPath       string              `json:"raw_path"`
	EscapedPath   string              `json:"escaped_path"`
	RawQuery      string              `json:"raw_query"`
	Query         map[string][]string `json:"query"`
	Header        map[string][]string `json:"header"`
	Cookies       map[string]string   `json:"cookies"`
	ContentLength int64               `json:"content_length"`
	Body          []byte              `json:"body"`
	Deadline      time.Time           `json:"deadline"`
	HasDeadline   bool                `json:"has_deadline"`
}

// Handler serves the echo report.
var Handler http.Handler = http.HandlerFunc(serve)

func serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	report := Request{
		Method:        r.Method,
		Proto:         r.Proto,
		Host:          r.Host,
		RemoteAddr:    r.RemoteAddr,
		RequestURI:    r.RequestURI,
		Path:          r.URL.Path,
		RawPath:       r.URL.RawPath,
		EscapedPath:   r.URL.EscapedPath(),
		RawQuery:      r.URL.RawQuery,
		Query:         parseQuery(r.URL.RawQuery),
		Header:        r.Header,
		Cookies:       map[string]string{},
		ContentLength: r.ContentLength,
		Body:          body,
	}
	for _, c := range r.Cookies() {
		report.Cookies[c.Name] = c.Value
	}
	report.Deadline, report.HasDeadline = r.Context().Deadline()

	writeResponse(w, r, report)
}

func writeResponse(w http.ResponseWriter, r *http.Request, report Request) {
	w.Header().Set("Content-Type", "application/json")
	if values, ok := r.Header[ContentTypeHeader]; ok {
		w.Header()["Content-Type"] = nil
		if v := strings.Join(values, ""); v != "" {
			w.Header().Set("Content-Type", v)
		}
	}
	for _, c := range items(r, SetCookieHeader) {
		w.Header().Add("Set-Cookie", c)
	}
	for _, h := range items(r, HeaderHeader) {
		name, value, _ := strings.Cut(h, ":")
		w.Header().Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}

	body, _ := json.Marshal(report)
	if v := r.Header.Get(BodyHeader); v != "" {
		body, _ = base64.StdEncoding.DecodeString(v)
	}

	status := http.StatusOK
	if code, err := strconv.Atoi(r.Header.Get(StatusHeader)); err == nil && code >= 100 && code <= 999 {
		status = code
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func items(r *http.Request, header string) []string {
	var out []string
	for _, v := range r.Header.Values(header) {
		for item := range strings.SplitSeq(v, "|") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

func parseQuery(raw string) map[string][]string {
	values, _ := url.ParseQuery(raw)
	return values
}

// Decode parses the report in a response body.
func Decode(body []byte) (Request, error) {
	var report Request
	err := json.Unmarshal(body, &report)
	return report, err
}
