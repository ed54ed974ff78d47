#!/usr/bin/env bash
# Benchmarks for `make bench`: Go benchmarks, then a loopback load test of
# public cached page reads through localdev's /api route beside a bare Go
# handler serving the same bytes, measured in the same run with wrk
# (2 threads, 64 connections). Writes docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${BENCH_DURATION:-10s}"
THREADS=2
CONNECTIONS=64
OUT=localdev/bench/out
LOCALDEV_ADDR=127.0.0.1:18080
BARE_ADDR=127.0.0.1:18081
PAGE_PATH="/api/zones/zones/life-marriage/page?channel=wechat"
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
	echo "bench: wrk is missing; install it with: apt-get install -y wrk" >&2
	exit 1
fi

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

wait_for() {
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: $1 did not respond within 10s" >&2
	return 1
}

echo "== go benchmarks"
GO_BENCH_PKGS="./functions/zones/... ./localdev/ ./shared/httpx/ ./shared/ratelimit/"
go test -run='^$' -bench=. -benchmem -count=1 $GO_BENCH_PKGS | tee "$OUT/go-bench.txt"

echo "== building"
CGO_ENABLED=0 go build -trimpath -o "$OUT/localdev" ./localdev/cmd/localdev
CGO_ENABLED=0 go build -trimpath -o "$OUT/bare" ./localdev/bench/bare

data_dir="$(mktemp -d)"
# The gateway sits on /api with its limits on, so the benchmark measures
# their cost. The limits are raised because one loopback client would
# otherwise be throttled.
python3 - "$OUT/routes.json" <<'PY'
import json, sys
with open("functions/gateway/route/default.json") as f:
    table = json.load(f)
for route in table["routes"]:
    for limit in route.get("rate_limits", []):
        limit["rate"] = 10_000_000
        limit["burst"] = 10_000_000
with open(sys.argv[1], "w") as f:
    json.dump(table, f)
PY
JT_ADDR=$LOCALDEV_ADDR JT_DATA_DIR="$data_dir" JT_LOG_LEVEL=warn \
	JT_GATEWAY_RATE_LIMITS=true JT_GATEWAY_ROUTES="$OUT/routes.json" \
	JT_GATEWAY_IP_RATE="10000000/1s burst 10000000" \
	JT_GATEWAY_MAX_CONCURRENT=100000 \
	"$OUT/localdev" 2>"$OUT/localdev.log" &
pids+=($!)
wait_for "http://$LOCALDEV_ADDR/readyz"

curl -fsS -o "$OUT/page.json" "http://$LOCALDEV_ADDR$PAGE_PATH"
"$OUT/bare" -addr "$BARE_ADDR" -body "$OUT/page.json" &
pids+=($!)
wait_for "http://$BARE_ADDR/"

# run_wrk URL NAME prints "requests_per_second p99_ms" for one run.
run_wrk() {
	wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$1" >/dev/null # warm-up
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1" >"$OUT/wrk-$2.txt"
	local rps p99
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-$2.txt")
	p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' "$OUT/wrk-$2.txt")
	echo "$rps $p99"
}

echo "== load: bare handler"
read -r bare_rps bare_p99 < <(run_wrk "http://$BARE_ADDR$PAGE_PATH" bare)
echo "== load: localdev /api route"
read -r api_rps api_p99 < <(run_wrk "http://$LOCALDEV_ADDR$PAGE_PATH" api)

ratio=$(awk -v a="$api_rps" -v b="$bare_rps" 'BEGIN {printf "%.2f", a/b}')
verdict=$(awk -v r="$ratio" -v p="$api_p99" 'BEGIN {print (r >= 0.5 && p < 10) ? "met" : "NOT met"}')
page_bytes=$(wc -c <"$OUT/page.json")

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)

cat >docs/benchmarks.md <<MD
# Benchmarks

Written by \`make bench\` (localdev/bench/run.sh); rerun it to refresh this page.

- Date: $(date -u +%Y-%m-%d)
- Machine: $(nproc) cores ($cpu), $mem, $(uname -sr)
- Go: $(go env GOVERSION)

## Public cached page reads through localdev

Command: \`make bench\`, which runs \`wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency\` on loopback
against \`$PAGE_PATH\` on localdev (SQLite, demo data, log level warn), where the
gateway function sits on the /api route with its per-IP, per-route and per-zone limits
on but raised so one client is not throttled, and against a
bare \`net/http\` handler (localdev/bench/bare) serving the same $page_bytes bytes, one
after the other in the same run. wrk shares the two cores with the server.

| target | requests/s | p99 latency |
| --- | ---: | ---: |
| bare Go handler | $bare_rps | ${bare_p99} ms |
| localdev /api/zones route | $api_rps | ${api_p99} ms |

Ratio to the bare handler: **$ratio** (target at least 0.5 with p99 under 10 ms: $verdict).

## Go benchmarks

Command: \`go test -run='^\$' -bench=. -benchmem $GO_BENCH_PKGS\`

\`\`\`
$(grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$OUT/go-bench.txt")
\`\`\`
MD

echo "== done: api $api_rps req/s (p99 $api_p99 ms), bare $bare_rps req/s (p99 $bare_p99 ms), ratio $ratio ($verdict)"
