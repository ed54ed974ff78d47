#!/usr/bin/env bash
# Benchmarks for `make bench`: Go benchmarks, then a loopback load test of
# public cached page reads through localdev's /api route beside a bare Go
# handler serving the same bytes, measured in the same run with wrk
# (2 threads, 64 connections). Writes docs/benchmarks.md. BENCH_DURATION
# sets each measured run (default 10s) and BENCH_ROUNDS the runs of each
# configuration (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${BENCH_DURATION:-10s}"
# Each configuration runs ROUNDS times and reports the median, because one
# run on a 2-core machine varies by more than a millisecond of p99.
ROUNDS="${BENCH_ROUNDS:-3}"
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then
	echo "bench: BENCH_ROUNDS must be a positive whole number, not '$ROUNDS'" >&2
	exit 1
fi
THREADS=2
CONNECTIONS=64
OUT=localdev/bench/out
PORT_BASE="${BENCH_PORT_BASE:-18080}"
LOCALDEV_ADDR=127.0.0.1:$PORT_BASE
BARE_ADDR=127.0.0.1:$((PORT_BASE + 1))
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

# require_free ADDR stops the run when a server already listens on ADDR,
# which the load test would otherwise measure instead of its own server.
require_free() {
	if (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; then
		echo "bench: $1 is already in use; stop what listens there (or set BENCH_PORT_BASE) and rerun" >&2
		exit 1
	fi
}

# require_running PID NAME stops the run when the server it started has
# exited, for example because it could not bind its port.
require_running() {
	if ! kill -0 "$1" 2>/dev/null; then
		echo "bench: $2 exited; see $OUT/localdev.log" >&2
		exit 1
	fi
}

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
require_free "$LOCALDEV_ADDR"
require_free "$BARE_ADDR"
# Tracing is off (OTEL_TRACES_EXPORTER=none), as in a function binary
# without a collector: localdev's default console exporter would write
# every span of the load test to stdout and measure the terminal. The
# cost of tracing itself is in the Go benchmarks (BenchmarkAPIPageTracedUnsampled).
OTEL_TRACES_EXPORTER=none JT_ADDR=$LOCALDEV_ADDR JT_DATA_DIR="$data_dir" JT_LOG_LEVEL=warn \
	JT_GATEWAY_RATE_LIMITS=true JT_GATEWAY_ROUTES="$OUT/routes.json" \
	JT_GATEWAY_IP_RATE="10000000/1s burst 10000000" \
	JT_GATEWAY_MAX_CONCURRENT=100000 \
	"$OUT/localdev" 2>"$OUT/localdev.log" &
pids+=($!)
wait_for "http://$LOCALDEV_ADDR/readyz"
require_running "${pids[-1]}" localdev

curl -fsS -o "$OUT/page.json" "http://$LOCALDEV_ADDR$PAGE_PATH"
"$OUT/bare" -addr "$BARE_ADDR" -body "$OUT/page.json" &
pids+=($!)
wait_for "http://$BARE_ADDR/"
require_running "${pids[-1]}" "the bare handler"

# to_ms VALUE prints a wrk latency (such as 812.5us, 9.1ms, 1.2s or 2.00m)
# in ms, or nothing when VALUE is not one.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /^[0-9.]+us$/) { sub(/us$/, "", v); v = v / 1000 }
		else if (v ~ /^[0-9.]+ms$/) { sub(/ms$/, "", v) }
		else if (v ~ /^[0-9.]+s$/) { sub(/s$/, "", v); v = v * 1000 }
		else if (v ~ /^[0-9.]+m$/) { sub(/m$/, "", v); v = v * 60000 }
		else exit
		printf "%.2f\n", v
	}'
}

# require_figures NAME RPS P99 stops the run when wrk's report of the run
# NAME lacks its throughput or p99, or shows no requests served.
require_figures() {
	if [ -z "$3" ] || ! awk -v r="$2" 'BEGIN {exit !(r > 0)}'; then
		echo "bench: wrk's report of the $1 run has no throughput or p99, or no requests served; see $OUT/wrk-$1.txt" >&2
		exit 1
	fi
}

# run_wrk URL NAME [taskset -c CPU] prints "requests_per_second p99_ms" for
# one run, with wrk started under the optional taskset prefix.
run_wrk() {
	local url=$1 name=$2
	shift 2
	"$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$url" >/dev/null # warm-up
	"$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$OUT/wrk-$name.txt"
	local rps
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk-$name.txt")
	echo "${rps:-0} $(to_ms "$(awk '$1 == "99%" {print $2}' "$OUT/wrk-$name.txt")")"
}

# median prints the middle of its numeric arguments (the lower middle for
# an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

# measure CONFIG [taskset -c CPU] runs the bare handler and the route one
# after the other, ROUNDS times, and sets CONFIG_{bare,api}_{rps,p99} to
# the medians and CONFIG_runs to every run's figures.
measure() {
	local config=$1 round rps p99
	shift
	local -a bare_rps=() bare_p99=() api_rps=() api_p99=()
	local runs=""
	for round in $(seq 1 "$ROUNDS"); do
		echo "== load ($config cores, round $round of $ROUNDS): bare handler"
		read -r rps p99 < <(run_wrk "http://$BARE_ADDR$PAGE_PATH" "bare-$config-$round" "$@")
		require_figures "bare-$config-$round" "$rps" "$p99"
		bare_rps+=("$rps") bare_p99+=("$p99")
		runs+="bare $rps req/s, p99 $p99 ms; "
		echo "== load ($config cores, round $round of $ROUNDS): localdev /api route"
		read -r rps p99 < <(run_wrk "http://$LOCALDEV_ADDR$PAGE_PATH" "api-$config-$round" "$@")
		require_figures "api-$config-$round" "$rps" "$p99"
		api_rps+=("$rps") api_p99+=("$p99")
		runs+="route $rps req/s, p99 $p99 ms; "
	done
	printf -v "${config}_bare_rps" '%s' "$(median "${bare_rps[@]}")"
	printf -v "${config}_bare_p99" '%s' "$(median "${bare_p99[@]}")"
	printf -v "${config}_api_rps" '%s' "$(median "${api_rps[@]}")"
	printf -v "${config}_api_p99" '%s' "$(median "${api_p99[@]}")"
	printf -v "${config}_runs" '%s' "${runs%; }"
}

# pin PID CPUS moves every thread of PID onto CPUS.
pin() {
	taskset -a -p -c "$2" "$1" >/dev/null
}

# Shared cores: wrk and the server run wherever the kernel puts them, so
# they preempt each other.
measure shared

# Pinned: each server on CPU 0 and wrk on CPU 1, so that neither takes the
# other's core and both servers get the same single core.
pinned=false
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	pinned=true
	for pid in "${pids[@]}"; do pin "$pid" 0; done
	measure pinned taskset -c 1
fi

# verdict RPS BARE_RPS P99 prints the ratio and whether the target is met.
verdict() {
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN {r = a / b; printf "%.2f %s\n", r, (r >= 0.5 && p < 10) ? "met" : "NOT_met"}'
}

# tail_factor RPS P99 BARE_RPS prints the tail factor k, the throughput at which
# a server with that k reaches a p99 of 10 ms, that throughput as a share
# of BARE_RPS, and the bare throughput of which it is half. wrk keeps
# CONNECTIONS requests in flight, so a server that serves RPS requests a
# second keeps each for CONNECTIONS/RPS on average (Little's law), and k is
# the p99 over that time: p99 = k x CONNECTIONS / RPS.
tail_factor() {
	awk -v rps="$1" -v p99="$2" -v bare="$3" -v c="$CONNECTIONS" 'BEGIN {
		k = p99 / 1000 * rps / c; need = k * c / 0.010
		printf "%.1f %.0f %.2f %.0f\n", k, need, need / bare, 2 * need
	}'
}

read -r ratio shared_verdict < <(verdict "$shared_api_rps" "$shared_bare_rps" "$shared_api_p99")
read -r bare_k _ _ _ < <(tail_factor "$shared_bare_rps" "$shared_bare_p99" "$shared_bare_rps")
read -r api_k api_need api_share api_bare_need < <(tail_factor "$shared_api_rps" "$shared_api_p99" "$shared_bare_rps")
page_bytes=$(wc -c <"$OUT/page.json")

pinned_rows=""
pinned_line="The machine has fewer than two cores or no taskset, so the pinned run was skipped."
if $pinned; then
	read -r pratio pinned_verdict < <(verdict "$pinned_api_rps" "$pinned_bare_rps" "$pinned_api_p99")
	pinned_rows="| pinned | bare Go handler | $pinned_bare_rps | ${pinned_bare_p99} ms | |
| pinned | localdev /api/zones route | $pinned_api_rps | ${pinned_api_p99} ms | **$pratio** |"
	pinned_line="Pinned run: ratio **$pratio**, p99 ${pinned_api_p99} ms; target ${pinned_verdict/_/ }.

Pinned runs: $pinned_runs."
fi

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
against \`$PAGE_PATH\` on localdev (SQLite, demo data, log level warn, tracing off with
\`OTEL_TRACES_EXPORTER=none\`), where the
gateway function sits on the /api route with its per-IP, per-route and per-zone limits
on but raised so one client is not throttled, and against a
bare \`net/http\` handler (localdev/bench/bare) serving the same $page_bytes bytes, one
after the other in the same run.

It runs in two configurations, $ROUNDS rounds each, and the table shows the median of the
rounds; each round measures the bare handler and then the route. In the shared configuration,
wrk and the server share both cores and preempt each other, so the tail latency there measures
the kernel scheduler as much as the server. In the pinned configuration (\`taskset\`), both
servers run on CPU 0 and wrk on CPU 1, so each server has one whole core to itself, and the bare
handler is limited by what one wrk core can send.
The script starts the servers and wrk in one session, so the kernel schedules them in one
autogroup. In manual runs on a 2-core Xeon, servers started with \`setsid\` got an autogroup
each, and the bare handler's shared-run p99 rose from 7.5 to 8 ms to 13 to 19 ms. Compare a
manual run only with one started the same way.

| cores | target | requests/s | p99 latency | ratio |
| --- | --- | ---: | ---: | ---: |
| shared | bare Go handler | $shared_bare_rps | ${shared_bare_p99} ms | |
| shared | localdev /api/zones route | $shared_api_rps | ${shared_api_p99} ms | **$ratio** |
$pinned_rows

Target: at least half the bare handler's throughput with p99 under 10 ms.
Shared run: ratio **$ratio**, p99 ${shared_api_p99} ms; target ${shared_verdict/_/ }.
$pinned_line

Shared runs: $shared_runs.

### What the shared p99 depends on

wrk keeps $CONNECTIONS requests in flight, so a server that serves X requests a second keeps
each for $CONNECTIONS/X seconds on average (Little's law). The p99 is a multiple k of that
time: k = p99 × X / $CONNECTIONS. In the shared run k is $bare_k for the bare handler and $api_k
for the route. At that k, the route's p99 is under 10 ms only at $api_need requests/s or more,
which is $api_share of the bare handler's throughput. At half the bare throughput, the route would meet the p99 target only on a
machine where the bare handler reached $api_bare_need requests/s.

## Go benchmarks

Command: \`go test -run='^\$' -bench=. -benchmem $GO_BENCH_PKGS\`

\`\`\`
$(grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$OUT/go-bench.txt")
\`\`\`
MD

echo "== done (shared): api $shared_api_rps req/s (p99 $shared_api_p99 ms), bare $shared_bare_rps req/s (p99 $shared_bare_p99 ms), ratio $ratio (${shared_verdict/_/ }); route tail factor $api_k needs $api_need req/s for p99 < 10 ms"
if $pinned; then
	echo "== done (pinned): api $pinned_api_rps req/s (p99 $pinned_api_p99 ms), bare $pinned_bare_rps req/s (p99 $pinned_bare_p99 ms), ratio $pratio (${pinned_verdict/_/ })"
fi
cleanup && bash localdev/bench/gateway.sh # stop the servers above, then append the gateway section
bash localdev/bench/platform.sh # append the function binary and queue section
