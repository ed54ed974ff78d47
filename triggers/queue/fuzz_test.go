package queue_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/queue"
)

func FuzzCloudEvent(f *testing.F) {
	const structured = `{"specversion":"1.0","id":"e1","source":"/jingtong/zones","type":"jt.zones.published","datacontenttype":"application/json","data":{"zone":"z1"}}`
	f.Add("application/json", "1.0", "e1", "/jingtong/zones", "jt.zones.published", []byte(`{"zone":"z1"}`))
	f.Add("application/cloudevents+json", "", "", "", "", []byte(structured))
	f.Add("application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"1.0","id":"e1","source":"/s","type":"jt.zones.published","data_base64":"cA=="}`))
	f.Add("application/cloudevents-batch+json", "", "", "", "", []byte(`[`+structured+`]`))
	f.Add("text/plain", "0.3", "e\x00", "::", "jt.zones.published", []byte("p"))
	f.Add("", "1.0", "e2", "/s", "jt.zones.published", []byte("e"))

	// The consumer fails permanently for data starting with 'p' and
	// transiently for data starting with 'e', so every status is reachable.
	handle := func(_ context.Context, msg fn.Message) error {
		switch {
		case bytes.HasPrefix(msg.Data, []byte("p")):
			return queue.Permanent(errTransient)
		case bytes.HasPrefix(msg.Data, []byte("e")):
			return errTransient
		}
		return nil
	}
	h, err := queue.CloudEventsHandler(function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
		queue.CloudEventsOptions{MaxEventSize: 4096})
	if err != nil {
		f.Fatalf("CloudEventsHandler: %v", err)
	}
	allowed := map[int]bool{
		http.StatusAccepted:              true,
		http.StatusBadRequest:            true,
		http.StatusRequestEntityTooLarge: true,
		http.StatusUnprocessableEntity:   true,
		http.StatusServiceUnavailable:    true,
	}

	f.Fuzz(func(t *testing.T, contentType, specVersion, id, source, eventType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		for name, value := range map[string]string{
			"Content-Type":   contentType,
			"Ce-Specversion": specVersion,
			"Ce-Id":          id,
			"Ce-Source":      source,
			"Ce-Type":        eventType,
		} {
			if value != "" {
				req.Header[name] = []string{value}
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Errorf("status = %d, want one of 202, 400, 413, 422 and 503", rec.Code)
		}
	})
}
