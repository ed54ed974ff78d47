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
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status = %d, want 200", rec.Code)
				return
			}
		}
	})
}
