// Command coldstart measures a function binary's cold start: the time from
// exec to the first 200 response on a URL, polled every 200 µs. It runs the
// binary several times with the environment it inherits and prints one
// JSON line with every run and the median, in milliseconds.
//
//	coldstart -runs 10 -url http://127.0.0.1:18600/zones?channel=wechat bin/zones
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"time"
)

func main() {
	runs := flag.Int("runs", 10, "number of starts")
	url := flag.String("url", "", "URL polled until it answers 200")
	limit := flag.Duration("timeout", 10*time.Second, "how long one start may take")
	flag.Parse()
	if flag.NArg() != 1 || *url == "" || *runs < 1 {
		log.Fatal("usage: coldstart -url URL [-runs N] BINARY")
	}

	client := &http.Client{Timeout: time.Second}
	var ms []float64
	for range *runs {
		d, err := startOnce(flag.Arg(0), *url, client, *limit)
		if err != nil {
			log.Fatalf("coldstart: %v", err)
		}
		ms = append(ms, float64(d.Microseconds())/1000)
	}
	sorted := slices.Clone(ms)
	slices.Sort(sorted)
	out, err := json.Marshal(map[string]any{"runs_ms": ms, "median_ms": sorted[len(sorted)/2], "max_ms": sorted[len(sorted)-1]})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
}

// startOnce starts binary, waits for the first 200 from url, and stops it.
func startOnce(binary, url string, client *http.Client, limit time.Duration) (time.Duration, error) {
	cmd := exec.Command(binary)
	cmd.Env = os.Environ()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	for time.Since(start) < limit {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("%s returned no 200 on %s within %s", binary, url, limit)
}
