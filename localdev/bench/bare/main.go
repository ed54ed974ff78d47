// Command bare serves one fixed response body on every path, as fast as
// net/http allows. The benchmark runs it beside localdev to measure how much
// of a bare handler's throughput the real route keeps.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	bodyFile := flag.String("body", "", "file with the response body")
	contentType := flag.String("content-type", "application/json; charset=utf-8", "Content-Type of the response")
	flag.Parse()

	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		log.Fatalf("bare: reading the body file: %v", err)
	}
	length := strconv.Itoa(len(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", *contentType)
		h.Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, handler))
}
