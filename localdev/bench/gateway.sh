#!/usr/bin/env bash
# Gateway benchmarks for `make bench`, which run.sh calls after it writes
# docs/benchmarks.md. On loopback, with one upstream process
# (localdev/bench/upstream) that responds with 1 KB of JSON, it measures:
#
#   - protected requests per second through the gateway binary (software
#     SM2 key, memory sessions, limits on but raised) beside a plain
#     httputil.ReverseProxy (localdev/bench/httputilproxy) and Debian's
#     nginx proxying the same requests in plaintext, with 1 KB bodies each
#     way, once on shared cores and once pinned;
#   - session opens per second, with memory sessions and with Redis;
#   - the rate limiter's Go benchmarks, memory and Redis.
#
# One load generator (localdev/bench/load) drives every side, with its
# requests built before the clock starts. The script appends a "## Gateway"
# section to docs/benchmarks.md, replacing an earlier one.
#
# BENCH_DURATION sets each measured run (default 10s), and BENCH_REDIS_URL
# the Redis server (default redis://127.0.0.1:6379/0); without a reachable
# Redis the Redis runs are skipped with the reason printed.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${BENCH_DURATION:-10s}"
WARMUP=2s
CONNECTIONS=64
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/0}"
OUT=localdev/bench/out/gateway
DOC=docs/benchmarks.md
UPSTREAM_ADDR=127.0.0.1:18091
GATEWAY_ADDR=127.0.0.1:18090
HTTPUTIL_ADDR=127.0.0.1:18092
NGINX_ADDR=127.0.0.1:18093
REDIS_GATEWAY_ADDR=127.0.0.1:18094
ECHO_PATH=/api/bench/echo
OPEN_PATH=/api/gateway/session
KID=gw-1
BODY_SIZE=1024
# Targets, each reported on the page as met or NOT met.
TARGET_RATIO=0.8
TARGET_OPENS=5000
TARGET_LIMITER_NS=300

rm -rf "$OUT"
mkdir -p "$OUT"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "${tmp:-}"
}
trap cleanup EXIT
tmp="$(mktemp -d)"

# nginx_can_install reports whether installing the nginx package here
# leaves the system nginx service stopped: policy-rc.d must deny its start
# (exit status 101), as it does in Debian containers.
nginx_can_install() {
	[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null && [ -x /usr/sbin/policy-rc.d ] || return 1
	local status=0
	/usr/sbin/policy-rc.d nginx start >/dev/null 2>&1 || status=$?
	[ "$status" -eq 101 ]
}

if ! command -v nginx >/dev/null; then
	if nginx_can_install; then
		echo "bench: nginx is missing; installing Debian's nginx-light (policy-rc.d keeps its service stopped)" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >&2
	else
		echo "bench: nginx is missing; install it with: apt-get install -y nginx-light" >&2
		exit 1
	fi
fi

# redis_problem prints why REDIS_URL cannot be used, or nothing when a
# PING gets PONG.
redis_problem() {
	local hostport host port reply=""
	hostport=$(python3 -c 'import sys, urllib.parse; u = urllib.parse.urlsplit(sys.argv[1]); print(u.hostname or "127.0.0.1", u.port or 6379)' "$REDIS_URL")
	read -r host port <<<"$hostport"
	if ! { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
		echo "nothing listens on $host:$port"
		return
	fi
	printf 'PING\r\n' >&3
	read -r -t 2 reply <&3 || true
	exec 3>&-
	reply=${reply%$'\r'}
	[ "$reply" = "+PONG" ] || echo "PING to $host:$port got \"$reply\" instead of +PONG"
}
redis_skip=$(redis_problem)
if [ -n "$redis_skip" ]; then
	echo "bench: skipping the Redis runs: $redis_skip" >&2
fi

wait_for() {
	for _ in $(seq 1 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true)
		[ "$code" != "000" ] && return 0
		sleep 0.1
	done
	echo "bench: $1 did not respond within 10s" >&2
	return 1
}

echo "== building the gateway benchmark programs"
CGO_ENABLED=0 go build -trimpath -o "$OUT/gateway" ./functions/gateway/cmd/gateway
for prog in load upstream httputilproxy; do
	CGO_ENABLED=0 go build -trimpath -o "$OUT/$prog" "./localdev/bench/$prog"
done

# The gateway: a software key, secrets and a route table whose bench route
# sends POSTs to the upstream. The route is public, so a request in a
# session (X-JT-Session) is unwrapped and its response protected, without
# a user token. Its per-IP limit, the route's own per-IP limit and the
# concurrency limit are on, raised so that one loopback client is not
# throttled.
keys="$tmp/keys"
"$OUT/load" -keygen "$keys" -kid "$KID"
identity_secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
audit_key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
cat >"$OUT/routes.json" <<JSON
{
  "routes": [
    {
      "name": "bench-echo",
      "prefix": "$ECHO_PATH",
      "class": "public",
      "methods": ["POST"],
      "target": {"upstreams": [{"url": "http://$UPSTREAM_ADDR"}]},
      "timeout": "10s",
      "rate_limits": [{"name": "bench-ip", "rate": 10000000, "period": "1s", "burst": 10000000, "by": ["ip"]}]
    },
    {
      "name": "gateway-session",
      "prefix": "$OPEN_PATH",
      "class": "public",
      "methods": ["POST", "DELETE"],
      "target": {"function": "gateway"},
      "rewrite": {"replace_prefix": "/session"},
      "timeout": "5s",
      "max_body_bytes": 4096
    }
  ]
}
JSON

# start NAME CMD... starts CMD in the background with its output in
# $OUT/NAME.log, for cleanup and stop_all to stop.
start() {
	local name=$1
	shift
	"$@" >"$OUT/$name.log" 2>&1 &
	last_pid=$!
	pids+=("$last_pid")
}

# commands lists what ran, for the page. note CMD... adds CMD, quoted
# for the shell.
commands=()
note() {
	commands+=("$(printf '%q ' "$@")")
}

# stop_all stops every server started so far.
stop_all() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
}

# start_gateway NAME ADDR [VAR=VALUE...] migrates a fresh SQLite database
# and starts the gateway on ADDR under PROXY_CPU, with a clean environment
# plus the variables given.
start_gateway() {
	local name=$1 addr=$2
	shift 2
	local data="$tmp/data-$name"
	mkdir -p "$data"
	local vars=(JT_PLATFORM=http JT_LOG_LEVEL=warn JT_HTTP_ADDR="$addr" JT_DATA_DIR="$data"
		JT_GATEWAY_KEY_DIR="$keys" JT_GATEWAY_SIGNING_KID="$KID"
		JT_GATEWAY_ROUTES="$OUT/routes.json" JT_GATEWAY_RATE_LIMITS=true
		JT_GATEWAY_IP_RATE="10000000/1s burst 10000000" JT_GATEWAY_MAX_CONCURRENT=100000 "$@")
	local secrets=(JT_IDENTITY_SECRET="$identity_secret" JT_AUDIT_KEY="$audit_key")
	env -i PATH="$PATH" "${secrets[@]}" "${vars[@]}" "$OUT/gateway" migrate >"$OUT/$name-migrate.log" 2>&1
	start "$name" "${PROXY_CPU[@]}" env -i PATH="$PATH" "${secrets[@]}" "${vars[@]}" "$OUT/gateway"
	gateway_pid=$last_pid
	# The page shows every variable but the two secrets.
	commands+=("$(printf '%q ' "${PROXY_CPU[@]}" env -i "${vars[@]}")JT_IDENTITY_SECRET=<random> JT_AUDIT_KEY=<random> $OUT/gateway, after the same with the argument migrate")
	wait_for "http://$addr/readyz"
}

# start_nginx WORKERS starts nginx under PROXY_CPU on NGINX_ADDR, as the
# current user, with everything it writes under $tmp/nginx. It proxies
# every path to the upstream over keep-alive connections.
start_nginx() {
	local dir="$tmp/nginx" user_line=""
	mkdir -p "$dir/logs"
	if [ "$(id -u)" -eq 0 ]; then
		# Without it, nginx started as root runs its workers as the user nobody.
		user_line="user $(id -un);"
	fi
	cat >"$dir/nginx.conf" <<NGINX
$user_line
worker_processes $1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000;
    upstream bench_upstream {
        server $UPSTREAM_ADDR;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen $NGINX_ADDR;
        location / {
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
NGINX
	cp "$dir/nginx.conf" "$OUT/nginx.conf"
	start nginx "${PROXY_CPU[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
	nginx_pid=$last_pid
	commands+=("$(printf '%q ' "${PROXY_CPU[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log")with the configuration in $OUT/nginx.conf")
	wait_for "http://$NGINX_ADDR/"
}

# start_proxies WORKERS starts the upstream under UPSTREAM_CPU and the three
# proxies under PROXY_CPU, nginx with WORKERS worker processes.
start_proxies() {
	local upstream=("${UPSTREAM_CPU[@]}" "$OUT/upstream" -addr "$UPSTREAM_ADDR" -size "$BODY_SIZE" -expect-body "$BODY_SIZE")
	start upstream "${upstream[@]}"
	note "${upstream[@]}"
	wait_for "http://$UPSTREAM_ADDR/"
	local httputil=("${PROXY_CPU[@]}" "$OUT/httputilproxy" -addr "$HTTPUTIL_ADDR" -upstream "http://$UPSTREAM_ADDR")
	start httputilproxy "${httputil[@]}"
	httputil_pid=$last_pid
	note "${httputil[@]}"
	wait_for "http://$HTTPUTIL_ADDR/"
	start_nginx "$1"
	start_gateway gateway "$GATEWAY_ADDR"
}

# cpu_ticks PID prints the CPU time, user and system, that PID and its
# child processes (nginx's workers) have used, in clock ticks.
cpu_ticks() {
	local total=0 pid
	for pid in "$1" $(ps -o pid= --ppid "$1"); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
	done
	echo "$total"
}
clock_tick=$(getconf CLK_TCK)

# run_load NAME PID ARGS... runs the load generator under LOAD_CPU and saves
# its JSON line in $OUT/NAME.json, and in $OUT/NAME.cpu the CPU time per
# request in microseconds of the server PID and its child processes,
# warm-up included. The generator exits with an error, and so does this
# script, when more than 0.1% of the requests fail.
run_load() {
	local name=$1 pid=$2
	shift 2
	local cmd=("${LOAD_CPU[@]}" "$OUT/load" -name "$name" -c "$CONNECTIONS" -d "$DURATION" -warmup "$WARMUP" "$@")
	note "${cmd[@]}"
	echo "== load: $name"
	local before after
	before=$(cpu_ticks "$pid")
	"${cmd[@]}" >"$OUT/$name.json"
	after=$(cpu_ticks "$pid")
	cat "$OUT/$name.json"
	local served=$(($(field "$name" requests) + $(field "$name" warmup_requests) + 1))
	awk -v t=$((after - before)) -v hz="$clock_tick" -v n="$served" 'BEGIN {printf "%.1f\n", t * 1e6 / hz / n}' >"$OUT/$name.cpu"
}

# field NAME KEY prints KEY of the JSON line of run NAME.
field() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OUT/$1.json" "$2"
}

# run_proxies CORES runs the three sides, one after the other.
run_proxies() {
	local cores=$1
	run_load "httputil-$cores" "$httputil_pid" -mode plain -url "http://$HTTPUTIL_ADDR$ECHO_PATH" -body-size "$BODY_SIZE"
	run_load "nginx-$cores" "$nginx_pid" -mode plain -url "http://$NGINX_ADDR$ECHO_PATH" -body-size "$BODY_SIZE"
	run_load "gateway-$cores" "$gateway_pid" -mode envelope -url "http://$GATEWAY_ADDR$ECHO_PATH" \
		-open-url "http://$GATEWAY_ADDR$OPEN_PATH" -key "$keys/$KID.pem" -kid "$KID" -body-size "$BODY_SIZE"
}

# Shared cores: every process runs wherever the kernel puts it.
PROXY_CPU=()
UPSTREAM_CPU=()
LOAD_CPU=()
echo "== protected requests (shared cores)"
start_proxies "$(nproc)"
run_proxies shared
stop_all

# Pinned: each proxy alone on CPU 0, and the upstream and the load
# generator on CPU 1. Every server restarts, so that the gateway starts
# with empty session and nonce stores.
pinned=false
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	pinned=true
	PROXY_CPU=(taskset -c 0)
	UPSTREAM_CPU=(taskset -c 1)
	LOAD_CPU=(taskset -c 1)
	echo "== protected requests (pinned)"
	start_proxies 1
	run_proxies pinned
	stop_all
fi

# Session opens on shared cores, each gateway started fresh.
PROXY_CPU=()
UPSTREAM_CPU=()
LOAD_CPU=()
echo "== session opens"
start_gateway gateway-open "$GATEWAY_ADDR"
run_load open-memory "$gateway_pid" -mode open -url "http://$GATEWAY_ADDR$OPEN_PATH" -key "$keys/$KID.pem" -kid "$KID"
stop_all
if [ -z "$redis_skip" ]; then
	# A session lasts 1 minute and a nonce 2 (twice the skew), so the keys
	# the run leaves in Redis expire soon after it.
	start_gateway gateway-redis "$REDIS_GATEWAY_ADDR" JT_REDIS_URL="$REDIS_URL" \
		JT_GATEWAY_SESSION_TTL=1m JT_GATEWAY_SKEW=1m
	run_load open-redis "$gateway_pid" -mode open -url "http://$REDIS_GATEWAY_ADDR$OPEN_PATH" -key "$keys/$KID.pem" -kid "$KID"
	stop_all
fi

echo "== rate limiter benchmarks"
LIMITER_RE='^Benchmark(Memory|Redis)Allow'
limiter_redis="The Redis benchmarks were skipped: $redis_skip."
redis_env=(-u JT_TEST_REDIS_URL)
if [ -z "$redis_skip" ]; then
	limiter_redis="The Redis benchmarks ran with \`JT_TEST_REDIS_URL=$REDIS_URL\`."
	redis_env=(JT_TEST_REDIS_URL="$REDIS_URL")
fi
env "${redis_env[@]}" go test -run='^$' -bench="$LIMITER_RE" -benchmem -count=1 ./shared/ratelimit/ | tee "$OUT/limiter-bench.txt"

# bench_metric NAME UNIT prints the value before UNIT on the line of
# benchmark NAME, such as bench_metric MemoryAllow ns/op.
bench_metric() {
	awk -v name="Benchmark$1-" -v unit="$2" 'index($1, name) == 1 {for (i = 2; i <= NF; i++) if ($i == unit) print $(i - 1)}' "$OUT/limiter-bench.txt"
}

# --- results ---

# ratio A B prints A/B with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f\n", a / b}'
}
# verdict_at_least VALUE TARGET and verdict_below VALUE TARGET print met or
# NOT met.
verdict_at_least() {
	awk -v v="$1" -v t="$2" 'BEGIN {print (v >= t) ? "met" : "NOT met"}'
}
verdict_below() {
	awk -v v="$1" -v t="$2" 'BEGIN {print (v < t) ? "met" : "NOT met"}'
}

# proxy_rows CORES appends the table rows of one run to proxy_table and
# sets ratio_CORES, ratio_nginx_CORES, verdict_CORES and cpu_ratio_CORES.
proxy_table=""
proxy_rows() {
	local cores=$1 gw_rps ratio_http ratio_nginx
	gw_rps=$(field "gateway-$cores" requests_per_second)
	ratio_http=$(ratio "$gw_rps" "$(field "httputil-$cores" requests_per_second)")
	ratio_nginx=$(ratio "$gw_rps" "$(field "nginx-$cores" requests_per_second)")
	printf -v "ratio_$cores" '%s' "$ratio_http"
	printf -v "ratio_nginx_$cores" '%s' "$ratio_nginx"
	printf -v "verdict_$cores" '%s' "$(verdict_at_least "$ratio_http" "$TARGET_RATIO")"
	printf -v "cpu_ratio_$cores" '%s' "$(ratio "$(cat "$OUT/httputil-$cores.cpu")" "$(cat "$OUT/gateway-$cores.cpu")")"
	for side in httputil nginx gateway; do
		local run="$side-$cores" label ratio_cell=""
		case $side in
		httputil) label="httputil.ReverseProxy, plaintext" ratio_cell="**$ratio_http**" ;;
		nginx) label="nginx, plaintext" ratio_cell="$ratio_nginx" ;;
		gateway) label="gateway, protected" ;;
		esac
		[ -z "$proxy_table" ] || proxy_table+=$'\n'
		local rps cpu busy
		rps=$(field "$run" requests_per_second)
		cpu=$(cat "$OUT/$run.cpu")
		busy=$(awk -v rps="$rps" -v cpu="$cpu" 'BEGIN {printf "%.2f", rps * cpu / 1e6}')
		proxy_table+="| $cores | $label | $rps | $(field "$run" p50_ms) ms | $(field "$run" p99_ms) ms | $(field "$run" errors) of $(field "$run" requests) | $cpu µs | $busy | $ratio_cell |"
	done
}

nginx_version=$(nginx -v 2>&1 | sed 's|^nginx version: nginx/||')
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
redis_goroutines=$(($(nproc) * 16))
redis_pool=$(($(nproc) * 10))
proxy_rows shared
pinned_line=""
if $pinned; then
	proxy_rows pinned
	pinned_line="Pinned: gateway ÷ httputil **$ratio_pinned** (target at least $TARGET_RATIO: $verdict_pinned); gateway ÷ nginx $ratio_nginx_pinned; httputil's CPU per request ÷ the gateway's $cpu_ratio_pinned."
fi

# max_nonces copies envelope.DefaultMaxNonces, the memory nonce store's
# capacity. nonce_fill_s is how long the shared run's rate would take to
# fill it.
max_nonces=1048576
nonce_fill_s=$(awk -v n="$max_nonces" -v rps="$(field gateway-shared requests_per_second)" 'BEGIN {printf "%.0f", n / rps}')
nonces_sent=$(($(field gateway-shared requests) + $(field gateway-shared warmup_requests)))

open_rps=$(field open-memory requests_per_second)
open_verdict=$(verdict_at_least "$open_rps" "$TARGET_OPENS")
open_rows="| memory | $open_rps | $(field open-memory p50_ms) ms | $(field open-memory p99_ms) ms | $(field open-memory errors) of $(field open-memory requests) | $(cat "$OUT/open-memory.cpu") µs |"
if [ -z "$redis_skip" ]; then
	open_rows+=$'\n'"| Redis | $(field open-redis requests_per_second) | $(field open-redis p50_ms) ms | $(field open-redis p99_ms) ms | $(field open-redis errors) of $(field open-redis requests) | $(cat "$OUT/open-redis.cpu") µs |"
else
	open_rows+=$'\n'"| Redis | skipped: $redis_skip | | | | |"
fi

memory_ns=$(bench_metric MemoryAllow ns/op)
limiter_verdict=$(verdict_below "$memory_ns" "$TARGET_LIMITER_NS")
limiter_rows="| memory, 1 goroutine | $memory_ns ns | $(bench_metric MemoryAllowLatency p50-ns) ns | $(bench_metric MemoryAllowLatency p99-ns) ns | |
| memory, 2 goroutines, distinct keys | $(bench_metric MemoryAllowParallel ns/op) ns | | | |
| memory, 2 goroutines, one key | $(bench_metric MemoryAllowContended ns/op) ns | | | |"
if [ -z "$redis_skip" ]; then
	limiter_rows+="
| Redis, 1 goroutine | $(awk -v ns="$(bench_metric RedisAllow ns/op)" 'BEGIN {printf "%.1f", ns / 1000}') µs | | | |
| Redis, $redis_goroutines goroutines | $(awk -v ns="$(bench_metric RedisAllowParallel ns/op)" 'BEGIN {printf "%.1f", ns / 1000}') µs | $(bench_metric RedisAllowParallel p50-µs) µs | $(bench_metric RedisAllowParallel p99-µs) µs | $(bench_metric RedisAllowParallel decisions/s) |"
else
	limiter_rows+=$'\n'"| Redis | skipped: $redis_skip | | | |"
fi

# Replace an earlier gateway section and the blank lines before it. The
# sections after it, such as the one platform.sh appends, are kept and
# written back after the new section.
after=""
if [ -f "$DOC" ]; then
	after=$(awk '/^## Gateway$/ {skip = 1; next} skip && /^## / {keep = 1} keep' "$DOC")
	sed -i '/^## Gateway$/,$d' "$DOC"
	sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$DOC"
fi

cat >>"$DOC" <<MD

## Gateway

Written by localdev/bench/gateway.sh, which \`make bench\` runs after the page benchmark;
\`bash localdev/bench/gateway.sh\` runs it alone and replaces this section.
Machine: $(nproc) cores ($cpu), $mem, $(uname -sr), $(go env GOVERSION), nginx $nginx_version.
Load average before the run: $load_before. Other processes on the machine, such as a test
run, share its cores and add noise to every number here.

### Protected requests

On loopback, one upstream process (localdev/bench/upstream) reads each request body and
responds with 1 KB of JSON. In front of it, one after the other, run:

- the gateway binary (functions/gateway/cmd/gateway) with a software SM2 key, memory
  sessions and nonces, its audit chain in a fresh SQLite file, and its per-IP, per-route
  and concurrency limits on but raised so that one client is not throttled. Each request is
  verified (HMAC-SM3), decrypted (SM4-GCM), rate-limited, forwarded and audited, and each
  response is encrypted and signed;
- a plain \`net/http/httputil.ReverseProxy\` (localdev/bench/httputilproxy), with the
  \`http.Transport\` settings of route.NewTransport. The gateway's router sends cleartext
  requests through its own LeanTransport instead, which writes each request and reads its
  response in the handler's goroutine, and uses that \`http.Transport\` only for https;
- nginx from Debian, with $(nproc) workers (1 when pinned) and 128 keep-alive connections to
  the upstream.

The load generator (localdev/bench/load) keeps $CONNECTIONS keep-alive connections busy
for $DURATION after a $WARMUP warm-up. For the gateway it opens one session and builds
unique protected requests (fresh nonce, timestamp and signature, with the $BODY_SIZE-byte body
sealed) before the clock starts, enough for 1.5 times the warm-up rate. It checks one
response end to end by verifying and decrypting it. For the plaintext sides it repeats
the same POST with the same $BODY_SIZE-byte body. Non-2xx responses count as errors, and the
run fails above 0.1%.

In the shared run all processes share both cores. In the pinned run (\`taskset\`), each
proxy has CPU 0 to itself (Go sees GOMAXPROCS 1, nginx runs 1 worker), and the upstream
and the load generator share CPU 1.

Proxy CPU per request is the user and system CPU time of the proxy process (nginx: master
and workers) during the warm-up and the measured run, divided by the requests it served.
It depends less than requests/s on what else runs on the machine, and the ratio of two
proxies' values is the throughput ratio they would reach if the proxy alone limited it.
Cores busy is that CPU time per request times requests/s: a proxy well below one core in
the pinned run was limited by CPU 1, where the upstream and the load generator run.

| cores | proxy | requests/s | p50 latency | p99 latency | errors | proxy CPU per request | cores busy | gateway ÷ this |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$proxy_table

Target: the gateway at least $TARGET_RATIO of the plain httputil proxy's requests per second.
Shared: gateway ÷ httputil **$ratio_shared** (target at least $TARGET_RATIO: $verdict_shared); gateway ÷ nginx $ratio_nginx_shared; httputil's CPU per request ÷ the gateway's $cpu_ratio_shared.
$pinned_line

The memory nonce store keeps each nonce for twice the skew (10 minutes by default) and
holds at most $max_nonces by default (\`JT_GATEWAY_MAX_NONCES\` raises it), so one gateway
with memory stores and the default sustains about
$((max_nonces / 600)) protected requests a second. At the shared rate above it would be full after about
${nonce_fill_s} s, and further requests would get 503 NOT_READY until nonces expire. Each run here
starts a fresh gateway, and the shared run sent $nonces_sent protected requests. With
\`JT_REDIS_URL\` the nonces are in Redis, which has no such bound.

### Session opens

The load generator sends session-open requests to $OPEN_PATH on shared cores,
each with fresh key material SM2-encrypted to the gateway key, a nonce and a timestamp,
all built before the clock starts. The gateway decrypts the key material, stores the
session and signs the response with SM2. The Redis run uses \`JT_REDIS_URL\` ($REDIS_URL)
for sessions and nonces, with a 1-minute session TTL and skew so that its keys expire soon.

| sessions | opens/s | p50 latency | p99 latency | errors | gateway CPU per open |
| --- | ---: | ---: | ---: | ---: | ---: |
$open_rows

Target: at least $TARGET_OPENS opens/s with memory sessions: $open_rps, $open_verdict.

### Rate limiter

Command: \`go test -run='^\$' -bench='$LIMITER_RE' -benchmem -count=1 ./shared/ratelimit/\`.
$limiter_redis
Decision time is ns/op of one decision on a limiter holding 10,000 keys (Redis: 1,000).
The percentiles time each decision separately, so they include two clock reads.
The $redis_goroutines Redis goroutines share the client's default pool of $redis_pool connections (10 per CPU), as the gateway's requests do.

| limiter | decision time | p50 | p99 | decisions/s |
| --- | ---: | ---: | ---: | ---: |
$limiter_rows

Target: a memory decision under $TARGET_LIMITER_NS ns: $memory_ns ns, $limiter_verdict.

### Commands

The servers and load runs, in the order they ran. \`<tmp>\` is the run's temporary
directory, which the script deletes at the end.

\`\`\`
$(printf '%s\n' "${commands[@]}" | sed -e "s|$tmp|<tmp>|g" -e 's/ *$//')
\`\`\`

\`\`\`
$(grep -E '^(Benchmark|cpu)' "$OUT/limiter-bench.txt")
\`\`\`
MD
if [ -n "$after" ]; then
	printf '\n%s\n' "$after" >>"$DOC"
fi

echo "== done: gateway ÷ httputil $ratio_shared shared ($verdict_shared)$($pinned && echo ", $ratio_pinned pinned ($verdict_pinned)"); opens $open_rps/s ($open_verdict); memory limiter $memory_ns ns ($limiter_verdict)"
