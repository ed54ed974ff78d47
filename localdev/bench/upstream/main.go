// Command upstream is the function behind every proxy in the gateway
// benchmark (localdev/bench/gateway.sh). It reads each request body and
// responds with the same fixed 1 KB JSON document. With -expect-body it
// responds 400 to a request whose body has another length, so that a proxy
// that delivers the wrong plaintext shows up as errors in the load report.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18091", "listen address")
	size := flag.Int("size", 1024, "size of the JSON response body in bytes, at least 64")
	expectBody := flag.Int("expect-body", -1, "required request body length in bytes; -1 accepts any length")
	flag.Parse()
	if *size < 64 {
		log.Fatalf("upstream: -size %d is too small; use at least 64 bytes", *size)
	}

	body := responseBody(*size)
	length := strconv.Itoa(len(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil || (*expectBody >= 0 && n != int64(*expectBody)) {
			http.Error(w, "unexpected request body length "+strconv.FormatInt(n, 10), http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// responseBody returns a JSON object of exactly size bytes.
func responseBody(size int) []byte {
	const head, tail = `{"status":"ok","padding":"`, `"}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}
