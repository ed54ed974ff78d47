package localdev

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfaas/faas-provider/logs"

	"github.com/jingtong/backend/shared/httpx"
)

// maxLogLines is the number of log lines kept per function for
// /system/logs. Older lines are dropped.
const maxLogLines = 1000

// logInstance is the instance name in log messages: every function runs
// in the one localdev process.
const logInstance = "localdev"

// logRing keeps the recent log lines of one function: the records that
// the function logs at Info level or above, and one line per invocation
// through /function/ and /async-function/.
type logRing struct {
	name string

	mu   sync.Mutex
	msgs []logEntry // in order, at most maxLogLines
	seq  uint64     // sequence number of the newest line
	// changed is closed and replaced when a line is added.
	changed chan struct{}
}

type logEntry struct {
	seq uint64
	msg logs.Message
}

func newLogRing(name string) *logRing {
	return &logRing{name: name, changed: make(chan struct{})}
}

func (l *logRing) add(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	if len(l.msgs) == maxLogLines {
		copy(l.msgs, l.msgs[1:])
		l.msgs = l.msgs[:maxLogLines-1]
	}
	l.msgs = append(l.msgs, logEntry{seq: l.seq, msg: logs.Message{
		Name: l.name, Namespace: defaultNamespace, Instance: logInstance, Timestamp: time.Now().UTC(), Text: text,
	}})
	close(l.changed)
	l.changed = make(chan struct{})
}

// after returns the lines newer than seq, the newest sequence number, and
// a channel that is closed when the next line is added.
func (l *logRing) after(seq uint64) ([]logs.Message, uint64, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logs.Message
	for _, e := range l.msgs {
		if e.seq > seq {
			out = append(out, e.msg)
		}
	}
	return out, l.seq, l.changed
}

// handler returns a slog.Handler that adds Info and higher records to l as
// text lines, without the time, which the message carries, and without
// the function name.
func (l *logRing) handler() slog.Handler {
	return slog.NewTextHandler(ringWriter{l}, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == "function") {
				return slog.Attr{}
			}
			return a
		},
	})
}

// ringWriter adds each write, one record of slog.TextHandler, as a line.
type ringWriter struct{ ring *logRing }

func (w ringWriter) Write(p []byte) (int, error) {
	w.ring.add(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// functionLogs serves GET /system/logs with the query parameters of
// logs.Request: name (required), namespace, tail, since (RFC 3339) and
// follow. tail is the number of most recent lines, and 0 or less means all
// that are kept. follow keeps the stream open for new lines until the
// client disconnects, the server's write timeout ends it or localdev
// shuts down. The response is NDJSON, one logs.Message per line, as
// faas-cli logs reads it.
func (s *Server) functionLogs(w http.ResponseWriter, r *http.Request) {
	req, err := parseLogRequest(r.URL.Query())
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	h, err := s.deployedFunction(req.Name, req.Namespace)
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}

	msgs, seq, changed := h.logs.after(0)
	msgs = filterLogs(msgs, req)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := http.NewResponseController(w).Flush
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return
		}
	}
	if err := flush(); err != nil || !req.Follow || !instanceMatches(req) {
		return
	}

	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.faas.stopping:
			return
		case <-changed:
		}
		msgs, seq, changed = h.logs.after(seq)
		for _, m := range msgs {
			if err := enc.Encode(m); err != nil {
				return
			}
		}
		if err := flush(); err != nil {
			return
		}
	}
}

// parseLogRequest reads the query of /system/logs.
func parseLogRequest(q url.Values) (logs.Request, error) {
	req := logs.Request{Name: q.Get("name"), Namespace: q.Get("namespace"), Instance: q.Get("instance")}
	var details []httpx.Detail
	if req.Name == "" {
		details = append(details, required("name"))
	}
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			details = append(details, httpx.Detail{Path: "tail", Reason: "invalid_format", ZH: "应为整数", EN: "must be an integer"})
		}
		req.Tail = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			details = append(details, httpx.Detail{Path: "since", Reason: "invalid_format",
				ZH: "应为 RFC 3339 时间，如 2026-01-02T15:04:05Z", EN: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
		}
		req.Since = &t
	}
	if v := q.Get("follow"); v != "" {
		follow, err := strconv.ParseBool(v)
		if err != nil {
			details = append(details, httpx.Detail{Path: "follow", Reason: "invalid_format",
				ZH: "应为 true、false、1 或 0", EN: "must be true, false, 1 or 0"})
		}
		req.Follow = follow
	}
	if len(details) > 0 {
		return req, httpx.E(httpx.CodeInvalidRequest).WithDetails(details...)
	}
	return req, nil
}

// filterLogs keeps the lines of msgs that req selects by since and tail.
// Every line has the instance logInstance, so a request naming another
// instance gets none.
func filterLogs(msgs []logs.Message, req logs.Request) []logs.Message {
	if !instanceMatches(req) {
		return nil
	}
	if req.Since != nil {
		kept := msgs[:0]
		for _, m := range msgs {
			if !m.Timestamp.Before(*req.Since) {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	if req.Tail > 0 && len(msgs) > req.Tail {
		msgs = msgs[len(msgs)-req.Tail:]
	}
	return msgs
}

// instanceMatches reports whether req selects the lines of logInstance.
func instanceMatches(req logs.Request) bool {
	return req.Instance == "" || req.Instance == logInstance
}
