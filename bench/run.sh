#!/usr/bin/env bash
# Benchmark harness (issues 7 and 13): baselines (pgbench, bare HTTP ceiling),
# phases P1–P6, the P3 curve (128 and 256 in flight) and P7 scale-out (two
# webhook-api and two reconcilers vs one of each) in one run on this machine,
# then BENCHMARKS.md + bench/results.json, with CPU-ms per event per process and
# the before/after table against bench/baseline-issue13.json.
#
#   bench/run.sh            full run (~13 min): writes BENCHMARKS.md and bench/results.json
#   bench/run.sh --quick    1–3 min on a warm build; tiny sizes, meaningless numbers, proves
#                           the harness runs; writes only under target/bench-quick/
#   BENCH_SKIP_BUILD=1      use the binaries already built
#   BENCH_RELEASE=1         --quick with release binaries (by default --quick uses the debug
#                           build the tests already made: its numbers are meaningless anyway)
#
# Needs PostgreSQL and RabbitMQ (scripts/services.sh starts them), pgbench, psql
# and /usr/bin/time. Uses its own database (BENCH_DATABASE, default pse_bench,
# dropped and created per phase) and broker names (prefix bench., or
# BENCH_AMQP_NAME_PREFIX); removes both and stops every process it started when
# it exits, however it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=full
case "${1:-}" in
  "") ;;
  --quick) MODE=quick ;;
  -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

if [ "$MODE" = quick ]; then OUT=$ROOT/target/bench-quick; else OUT=$ROOT/target/bench-full; fi
export BENCH_WORK_DIR=$OUT BENCH_LOG_DIR=$OUT/logs BENCH_PID_DIR=$OUT/pids
# The broker prefix: BENCH_AMQP_NAME_PREFIX, or an AMQP_NAME_PREFIX that starts with
# "bench" (so parallel runs can use benchX.), never a product prefix: the bench
# deletes every queue and exchange under it.
case "${AMQP_NAME_PREFIX:-}" in bench*) ;; *) AMQP_NAME_PREFIX=bench. ;; esac
export AMQP_NAME_PREFIX=${BENCH_AMQP_NAME_PREFIX:-$AMQP_NAME_PREFIX} BENCH_DATABASE=${BENCH_DATABASE:-pse_bench}
PROFILE=release
if [ "$MODE" = quick ] && [ "${BENCH_RELEASE:-0}" != 1 ]; then PROFILE=debug; fi
BIN=$ROOT/target/$PROFILE/pse-bench
RESULTS=$OUT/results.jsonl
START=$SECONDS

step() { printf '\033[1m[%s/%s]\033[0m %s \033[2m(+%ss)\033[0m\n' "$1" "$TOTAL" "$2" $((SECONDS - START)) >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  # Every process pse-bench started left a pid file <name>.<pid> while it ran.
  if [ -d "$BENCH_PID_DIR" ]; then
    for f in "$BENCH_PID_DIR"/*; do
      [ -e "$f" ] || continue
      pid=${f##*.}
      if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
      rm -f "$f"
    done
  fi
  if [ -x "$BIN" ]; then "$BIN" cleanup >/dev/null 2>&1 || true; fi
  exit $code
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in pgbench psql /usr/bin/time cargo; do
  command -v "$tool" >/dev/null || die "$tool is not installed (pgbench/psql: apt-get install postgresql-client; time: apt-get install time)"
done

TOTAL=11
rm -rf "$OUT"
mkdir -p "$OUT/logs" "$OUT/pids"
: > "$RESULTS"

step 1 "services (scripts/services.sh)"
bash scripts/services.sh > "$OUT/logs/services.log" 2>&1 || { cat "$OUT/logs/services.log" >&2; die "services did not start"; }

if [ -n "${BENCH_SKIP_BUILD:-}" ]; then
  step 2 "build skipped (BENCH_SKIP_BUILD set): using the binaries in target/$PROFILE"
elif [ "$PROFILE" = release ]; then
  step 2 "release build (cargo build --release --bins)"
  cargo build --release --bins
else
  step 2 "debug build (cargo build --bins; quick mode)"
  cargo build --bins
fi
for b in pse-bench webhook-api reconciler pse-sandbox; do
  [ -x "$ROOT/target/$PROFILE/$b" ] || die "target/$PROFILE/$b is missing; run cargo build --bins (--release for a full run)"
done

phase() { # step-number, title, subcommand args...
  local n=$1 title=$2; shift 2
  step "$n" "$title"
  "$BIN" "$@" >> "$RESULTS" || die "phase '$title' failed (logs in $OUT/logs)"
}

if [ "$MODE" = quick ]; then
  CEIL=(--concurrency 8,32 --warmup 0 --secs 1)
  INGRESS=(--concurrency 8,32 --warmup 0 --secs 1)
  LAT=(--secs 2)
  REC=(--events 500 --concurrency 64 --latency-ms 50 --curve 128,256 --curve-events 300)
  SCALE=(--concurrency 8 --warmup 0 --secs 1 --events 300 --rec-concurrency 16 --latency-ms 50)
  E2E=(--rate 100 --secs 2 --baseline-rate 20 --baseline-secs 1 --latency-ms 50)
  REPORT=(--rows 10000 --small-rows 1000)
else
  CEIL=(--concurrency 4,8,16,32,64 --warmup 1 --secs 5)
  INGRESS=(--concurrency 4,8,16,32,64 --warmup 1 --secs 8)
  LAT=(--secs 20)
  REC=(--events 20000 --concurrency 64 --latency-ms 50 --curve 128,256 --curve-events 10000)
  SCALE=(--concurrency 64 --warmup 1 --secs 5 --events 10000 --rec-concurrency 64 --latency-ms 50)
  E2E=(--rate 1000 --secs 20 --baseline-rate 50 --baseline-secs 5 --latency-ms 50)
  REPORT=(--rows 1000000 --small-rows 100000)
fi

step 3 "machine description"
"$BIN" machine > "$OUT/machine.json"
phase 4 "baseline: bare HTTP ceiling (echo server, same generator)" ceiling "${CEIL[@]}"
phase 5 "P1 ingress throughput (pgbench baseline interleaved at each concurrency)" ingress "${INGRESS[@]}"
phase 6 "P2 ingress latency (open loop at 50 % of the P1 peak)" latency --results "$RESULTS" --fraction 0.5 "${LAT[@]}"
phase 7 "P3 reconciler throughput + P6 reconciler memory, then the curve at 128 and 256 in flight" reconciler "${REC[@]}"
phase 8 "P4 end to end" e2e "${E2E[@]}"
phase 9 "P5 CSV report" report "${REPORT[@]}"
phase 10 "P7 scale-out (two webhook-api, two reconcilers vs one of each)" scale-out "${SCALE[@]}"

step 11 "report"
if [ "$MODE" = quick ]; then
  MD=$OUT/BENCHMARKS.md; JSON=$OUT/results.json
else
  MD=$ROOT/BENCHMARKS.md; JSON=$ROOT/bench/results.json
fi
BASELINE=(); [ -f bench/baseline-issue13.json ] && BASELINE=(--baseline bench/baseline-issue13.json)
"$BIN" render --results "$RESULTS" --machine "$OUT/machine.json" --md "$MD" --json "$JSON" --mode "$MODE" "${BASELINE[@]}" > /dev/null
printf '\033[32mdone\033[0m in %ss: %s and %s\n' $((SECONDS - START)) "${MD#"$ROOT"/}" "${JSON#"$ROOT"/}" >&2
