// Command httputilproxy is the plain Go baseline of the gateway benchmark
// (localdev/bench/gateway.sh): a net/http/httputil.ReverseProxy in front of
// one upstream, with the transport the gateway's router uses, so that the
// benchmark compares the gateway with what the standard library offers.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/jingtong/backend/functions/gateway/route"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18092", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:18091", "base URL of the upstream")
	flag.Parse()

	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		log.Fatalf("httputilproxy: -upstream %q is not an absolute URL", *upstream)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: route.NewTransport(),
	}
	srv := &http.Server{Addr: *addr, Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
