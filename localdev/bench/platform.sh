#!/usr/bin/env bash
# Function binary and queue benchmarks for `make bench`, run by run.sh after
# the page benchmark: the size of each release binary, the zones binary's
# cold start against an already-migrated PostgreSQL database, and NATS
# JetStream consumer throughput with acks. Appends a section to
# docs/benchmarks.md.
#
# The release binaries leave SQLite out (build tag jt_nosqlite), so the cold
# start runs against PostgreSQL, as a deployed function does: a fresh schema
# in BENCH_POSTGRES_URL's database (default JT_TEST_POSTGRES_URL, then the
# local test database), dropped at the end. It needs psql.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=localdev/bench/out/platform
SIZE_TARGET_MB=25
COLD_TARGET_MS=50
COLD_ADDR=127.0.0.1:18600
PG_URL="${BENCH_POSTGRES_URL:-${JT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}}"
mkdir -p "$OUT"

echo "== release binaries"
make build BIN="$OUT/bin" >/dev/null
CGO_ENABLED=0 go build -trimpath -o "$OUT/coldstart" ./localdev/bench/coldstart

size_rows=""
for f in functions/*/cmd/*; do
	name=$(basename "$f")
	bytes=$(stat -c %s "$OUT/bin/$name")
	mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}')
	verdict=$(awk -v b="$bytes" -v t="$SIZE_TARGET_MB" 'BEGIN {print (b <= t * 1048576) ? "met" : "NOT met"}')
	size_rows+="| $name | $mb MB | $verdict |"$'\n'
done

echo "== cold start: zones"
if (exec 3<>"/dev/tcp/${COLD_ADDR%:*}/${COLD_ADDR##*:}") 2>/dev/null; then
	echo "bench: $COLD_ADDR is already in use; stop what listens there and rerun" >&2
	exit 1
fi
data_dir=$(mktemp -d)
schema="jt_bench_coldstart_$$"
cleanup() {
	psql "$PG_URL" -q -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS $schema CASCADE" || true
	rm -rf "$data_dir"
}
trap cleanup EXIT
psql "$PG_URL" -v ON_ERROR_STOP=1 -qc "CREATE SCHEMA $schema" >/dev/null
pg_version=$(psql "$PG_URL" -tAc 'SHOW server_version')
pg_host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$PG_URL")
# pgx passes search_path to the server as a run-time parameter.
case "$PG_URL" in *\?*) dsn="$PG_URL&search_path=$schema" ;; *) dsn="$PG_URL?search_path=$schema" ;; esac
export JT_DATA_DIR="$data_dir" JT_DATABASE_URL="$dsn" JT_LOG_LEVEL=warn JT_PLATFORM=http
"$OUT/bin/zones" migrate >/dev/null
# One start seeds the demo catalogue, so the measured starts find it.
JT_ZONES_SEED=true JT_HTTP_ADDR=$COLD_ADDR \
	"$OUT/coldstart" -runs 1 -url "http://$COLD_ADDR/zones?channel=wechat" "$OUT/bin/zones" >/dev/null
cold=$(JT_HTTP_ADDR=$COLD_ADDR \
	"$OUT/coldstart" -runs 10 -url "http://$COLD_ADDR/zones?channel=wechat" "$OUT/bin/zones")
unset JT_DATA_DIR JT_DATABASE_URL JT_LOG_LEVEL JT_PLATFORM
cold_median=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["median_ms"])' "$cold")
cold_max=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["max_ms"])' "$cold")
cold_verdict=$(awk -v m="$cold_median" -v t="$COLD_TARGET_MS" 'BEGIN {print (m < t) ? "met" : "NOT met"}')

echo "== queue consumers"
nats_line="JT_TEST_NATS_URL is not set, so the NATS benchmark was skipped."
export JT_TEST_NATS_URL="${JT_TEST_NATS_URL:-nats://127.0.0.1:4222}"
if go test -run '^$' -bench 'Consume' -benchtime 20000x -count 1 ./triggers/queue/ >"$OUT/queue-bench.txt" 2>&1; then
	nats_line=$(grep -E '^Benchmark' "$OUT/queue-bench.txt" || true)
else
	nats_line="The queue benchmark failed; see $OUT/queue-bench.txt."
fi

# Replace an earlier section of this script, so that running it alone
# twice leaves one.
if grep -q '^## Function binaries and queue$' docs/benchmarks.md 2>/dev/null; then
	awk '/^## Function binaries and queue$/ {skip = 1; next} skip && /^## / {skip = 0} !skip' docs/benchmarks.md >"$OUT/benchmarks.md"
	cat "$OUT/benchmarks.md" >docs/benchmarks.md
	sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' docs/benchmarks.md
fi

cat >>docs/benchmarks.md <<MD

## Function binaries and queue

Release binaries as \`make build\` builds them (\`CGO_ENABLED=0\`, \`-trimpath\`,
\`-tags jt_nosqlite\`, \`-ldflags '-s -w'\`), target at most $SIZE_TARGET_MB MB each:

| function | size | target |
| --- | ---: | --- |
$size_rows
Most of the gap comes from the linker. Once any linked code looks methods up by
reflection, it keeps every exported method of every type stored in an interface. Three
libraries we need do so: net/rpc in scf-go-lib (the protocol of SCF's Go runtime, which the
same binary must serve), text/template in bun/migrate, and reflect2 in json-iterator,
which the CloudEvents SDK uses. A linker patched to drop those methods, built only to
measure this, made each binary about 10 MB smaller, 6.3 MB of it go-redis command methods.
The OpenTelemetry OTLP exporter adds about 3.5 MB, 2.35 MB of it gRPC.

Cold start is the time from exec of the release \`zones\` to its first 200 for
\`GET /zones?channel=wechat\`, polled every 200 µs by localdev/bench/coldstart. It runs on
PostgreSQL $pg_version at $pg_host, in a schema that \`zones migrate\` prepared with the demo
catalogue loaded. Over 10 starts: median **$cold_median ms**, max $cold_max ms
(target under $COLD_TARGET_MS ms: $cold_verdict).

Queue consumers with acks, 1 KB messages already stored, a no-op handler
(\`go test -run '^\$' -bench Consume -benchtime 20000x ./triggers/queue/\` with
\`JT_TEST_NATS_URL=$JT_TEST_NATS_URL\`):

\`\`\`
$nats_line
\`\`\`
MD
echo "== done: binaries, cold start $cold_median ms ($cold_verdict)"
