package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/shared/smcrypto"
)

// benchBody is the 1 KB JSON body of the benchmarks.
var benchBody = func() []byte {
	body := kilobyteJSON()
	return body[:1024:1024]
}()

// benchChunk is how many protected requests the micro benchmarks build at
// a time, with the timer stopped.
const benchChunk = 4096

func BenchmarkUnwrap1KB(b *testing.B) {
	for _, mode := range modes {
		b.Run(string(mode), func(b *testing.B) {
			g := newGateway(b, memoryStores(), nil)
			sess := g.openRaw(b, mode)
			b.ReportAllocs()
			b.SetBytes(int64(len(benchBody)))

			var reqs []*http.Request
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%benchChunk == 0 {
					b.StopTimer()
					reqs = buildRequests(b, g, sess, min(benchChunk, b.N-i))
					b.StartTimer()
				}
				if _, _, err := g.server.Unwrap(reqs[i%benchChunk]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func buildRequests(b *testing.B, g *gateway, sess rawSession, n int) []*http.Request {
	b.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		p := g.newProtected(sess, benchBody)
		p.target = "/api/zones/items"
		reqs[i] = p.build(b, sess.keys)
	}
	return reqs
}

// discardWriter is a ResponseWriter that keeps nothing but its headers.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkWrapResponse1KB(b *testing.B) {
	for _, mode := range modes {
		b.Run(string(mode), func(b *testing.B) {
			g := newGateway(b, memoryStores(), nil)
			sess := g.openRaw(b, mode)
			plain, session, err := g.server.Unwrap(buildRequests(b, g, sess, 1)[0])
			if err != nil {
				b.Fatal(err)
			}
			w := &discardWriter{header: make(http.Header)}
			b.ReportAllocs()
			b.SetBytes(int64(len(benchBody)))

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(w.header)
				rw, finish := g.server.WrapResponse(w, plain, session)
				rw.Header().Set("Content-Type", "application/json")
				_, _ = rw.Write(benchBody)
				if err := finish(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenSession(b *testing.B) {
	for _, mode := range modes {
		b.Run(string(mode), func(b *testing.B) {
			g := newGateway(b, memoryStores(), nil)
			secret := make([]byte, envelope.SecretSize)
			_, _ = rand.Read(secret)
			ct, err := smcrypto.Encrypt(rand.Reader, g.pub, secret, &smcrypto.EncrypterOpts{OmitPrefix: true})
			if err != nil {
				b.Fatal(err)
			}
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i], _ = json.Marshal(envelope.OpenRequest{
					KID: gatewayKID, Key: hex.EncodeToString(ct), Modes: []envelope.Mode{mode},
					TS: g.clock.Now().UnixMilli(), Nonce: randomNonce(),
				})
			}
			w := &discardWriter{header: make(http.Header)}
			b.ReportAllocs()

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, openPath, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				clear(w.header)
				g.server.OpenSession(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// BenchmarkProxy1KB compares a plain net/http/httputil reverse proxy with
// the same proxy behind the envelope, over loopback HTTP with 1 KB bodies
// each way. The load generator sends requests built before the timer
// starts and reads each response body without verifying it; client,
// proxy and upstream share the machine.
func BenchmarkProxy1KB(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256}

	b.Run("plain", func(b *testing.B) {
		front := httptest.NewServer(proxy)
		defer front.Close()
		reqs := make([]*preparedPlain, b.N)
		for i := range reqs {
			reqs[i] = &preparedPlain{url: front.URL + "/api/zones/items", body: benchBody}
		}
		runProxyLoad(b, func(ctx context.Context, i int) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, reqs[i].url, bytes.NewReader(reqs[i].body))
			req.Header.Set("Content-Type", "application/json")
			return req, err
		})
	})

	for _, mode := range modes {
		b.Run(string(mode), func(b *testing.B) {
			g := newGateway(b, memoryStores(), nil)
			front := httptest.NewServer(g.server.Middleware(proxy))
			defer front.Close()
			c, err := client.New(client.Config{
				OpenURL: g.http.URL + openPath, KeyID: gatewayKID,
				PublicKeys: map[string]*smcrypto.PublicKey{gatewayKID: g.pub},
				Modes:      []envelope.Mode{mode}, Now: g.clock.Now,
			})
			if err != nil {
				b.Fatal(err)
			}
			header := http.Header{"Content-Type": {"application/json"}}
			prepared, err := c.PrecomputeRequests(context.Background(), b.N, http.MethodPost, front.URL+"/api/zones/items", header, benchBody)
			if err != nil {
				b.Fatal(err)
			}
			runProxyLoad(b, func(ctx context.Context, i int) (*http.Request, error) {
				return prepared[i].NewRequest(ctx)
			})
		})
	}
}

type preparedPlain struct {
	url  string
	body []byte
}

// runProxyLoad sends b.N requests from 16 goroutines per CPU over
// keep-alive connections and checks each status.
func runProxyLoad(b *testing.B, request func(ctx context.Context, i int) (*http.Request, error)) {
	b.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var next atomic.Int64
	b.SetBytes(int64(2 * len(benchBody)))
	b.SetParallelism(16)
	b.ReportAllocs()
	cpuBefore := processCPU()
	b.ResetTimer()
	defer func() {
		// CPU time of this process, which runs client, proxy and upstream,
		// per request. Unlike ns/op it does not depend on other processes
		// that share the machine.
		b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := int(next.Add(1) - 1)
			req, err := request(ctx, i)
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
