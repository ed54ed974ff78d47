package zones

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

// discardWriter is a ResponseWriter that keeps only the status, so the
// benchmarks measure the handler rather than a recorder.
type discardWriter struct {
	header http.Header
	status int
	bytes  int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(status int) { d.status = status }

func (d *discardWriter) Write(p []byte) (int, error) {
	d.bytes += len(p)
	return len(p), nil
}

func (d *discardWriter) reset() {
	clear(d.header)
	d.status, d.bytes = 0, 0
}

// BenchmarkPageCached measures the cache-hit path of GET /zones/{id}/page
// through the whole handler (request id, recovery, authentication, routing).
// The clock is fixed, so the entry never expires.
func BenchmarkPageCached(b *testing.B) {
	e := newSeededEnv(b, storetest.OpenSQLite(b))
	const path = "/zones/life-marriage/page?channel=wechat"
	if w := e.get(path); w.Code != http.StatusOK {
		b.Fatalf("warm-up status %d: %s", w.Code, w.Body.String())
	}

	b.Run("serial", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Accept-Language", "zh-CN")
		w := &discardWriter{header: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			e.handler.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})

	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			w := &discardWriter{header: http.Header{}}
			for pb.Next() {
				w.reset()
				e.handler.ServeHTTP(w, r)
				if w.status != http.StatusOK {
					b.Errorf("status %d", w.status)
					return
				}
			}
		})
	})

	b.Run("not-modified", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		w := &discardWriter{header: http.Header{}}
		e.handler.ServeHTTP(w, r)
		r.Header.Set("If-None-Match", w.header.Get("ETag"))
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			e.handler.ServeHTTP(w, r)
			if w.status != http.StatusNotModified {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

// BenchmarkPageCachedHTTP serves the cache-hit path from a loopback
// httptest server to keep-alive clients in the same process. Client and
// server share the machine's cores, so the reported req/s is a lower bound
// for a server that has the cores to itself.
func BenchmarkPageCachedHTTP(b *testing.B) {
	e := newSeededEnv(b, storetest.OpenSQLite(b))
	ts := httptest.NewServer(e.handler)
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	target := ts.URL + "/zones/life-marriage/page?channel=wechat"

	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkSearch measures GET /services/search through the handler over
// the seeded catalogue, on SQLite and, when JT_TEST_POSTGRES_URL is set,
// PostgreSQL.
func BenchmarkSearch(b *testing.B) {
	dbs := map[string]func(testing.TB) *bun.DB{"sqlite": storetest.OpenSQLite}
	if os.Getenv(storetest.PostgresURLVar) != "" {
		dbs["postgres"] = storetest.OpenPostgres
	}
	queries := []string{"hy", "hunyu", "jjz", "进京证", "marriage"}

	for name, open := range dbs {
		b.Run(name, func(b *testing.B) {
			e := newSeededEnv(b, open(b))
			for _, q := range queries {
				b.Run(q, func(b *testing.B) {
					r := httptest.NewRequest(http.MethodGet, "/services/search?q="+url.QueryEscape(q), nil)
					w := &discardWriter{header: http.Header{}}
					b.ReportAllocs()
					for b.Loop() {
						w.reset()
						e.handler.ServeHTTP(w, r)
						if w.status != http.StatusOK {
							b.Fatalf("status %d", w.status)
						}
					}
				})
			}
		})
	}
}
