package localdev

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAPIPageCached measures a cached page read through localdev's
// public /api route in process: routing, prefix stripping, request ids,
// metrics and the zones cache hit, without the network.
func BenchmarkAPIPageCached(b *testing.B) {
	srv := newTestServer(b)
	h := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones/life-marriage/page?channel=wechat", nil)

	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, req)
	if warm.Code != http.StatusOK {
		b.Fatalf("warm-up status = %d, want 200", warm.Code)
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{header: http.Header{}}
		for pb.Next() {
			clear(w.header)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Errorf("status = %d, want 200", w.status)
				return
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, so the benchmark measures the server side, not a recorder's copy.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
