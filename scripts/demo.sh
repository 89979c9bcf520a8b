#!/usr/bin/env bash
# The one-command demo, without Docker: PostgreSQL and RabbitMQ (scripts/services.sh),
# the fake providers (pse-sandbox), webhook-api and the reconciler, all on this machine,
# then a scripted day of payments (`pse-sandbox scenario day`) checked against the
# reconciliation report.
#
#   scripts/demo.sh             a day: ~60 payments, about a minute once built
#   scripts/demo.sh --quick     16 payments covering every case, well under a minute (CI runs this)
#   scripts/demo.sh --keep      leave everything running afterwards (stop it with --stop)
#   scripts/demo.sh --release   build and run optimised binaries
#   scripts/demo.sh --stop      stop what a --keep run left running
#
# Everything it starts gets its own database (pse_demo, recreated each run), its own
# RabbitMQ names (prefix "demo.") and free ports, and is stopped on exit or Ctrl-C.
# Logs: target/demo/*.log. Exit status: the scenario's (0 only if the report matches).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0 KEEP=0 RELEASE=0 STOP_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    --release) RELEASE=1 ;;
    --stop) STOP_ONLY=1 ;;
    -h | --help)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      printf 'demo.sh: unknown option %s (try --help)\n' "$arg" >&2
      exit 2
      ;;
  esac
done

step() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok() { printf '    \033[32mok\033[0m %s\n' "$*"; }
warn() { printf '    \033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DEMO_DIR=$TARGET_DIR/demo
PIDS_FILE=$DEMO_DIR/pids
if [ "$RELEASE" -eq 1 ]; then BIN=$TARGET_DIR/release; else BIN=$TARGET_DIR/debug; fi

# --- stopping -----------------------------------------------------------------
# Each service runs in its own process group (setsid), recorded as "PID NAME" in
# $PIDS_FILE; stopping signals the whole group, then waits, then insists.
STARTED=()

is_ours() { # pid: alive, one of the three binaries, started by this script (not a recycled PID)
  local cmd
  kill -0 "$1" 2>/dev/null || return 1
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  case "$cmd" in
    *pse-sandbox* | *webhook-api* | *reconciler*) ;;
    *) return 1 ;;
  esac
  grep -qzx 'AMQP_NAME_PREFIX=demo\.' "/proc/$1/environ" 2>/dev/null
}

stop_pids() { # pid...
  local pid waited=0 alive
  for pid in "$@"; do
    if is_ours "$pid"; then kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; fi
  done
  while :; do
    alive=0
    for pid in "$@"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
    if [ "$alive" -eq 0 ]; then break; fi
    if [ "$waited" -ge 100 ]; then # 10 s
      for pid in "$@"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

stop_recorded() { # stops what a previous (--keep) run recorded
  local pids=() pid _name
  [ -f "$PIDS_FILE" ] || return 0
  while read -r pid _name; do
    if [ -n "$pid" ] && is_ours "$pid"; then pids+=("$pid"); fi
  done <"$PIDS_FILE"
  if [ "${#pids[@]}" -gt 0 ]; then
    step "stopping the demo left running earlier (PIDs ${pids[*]})"
    stop_pids "${pids[@]}"
  fi
  rm -f "$PIDS_FILE"
}

if [ "$STOP_ONLY" -eq 1 ]; then
  stop_recorded
  ok "nothing of the demo is running"
  exit 0
fi

FINISHED=0 # set once the scenario has run: --keep applies from then on
SCENARIO_PID=
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$SCENARIO_PID" ]; then
    kill -TERM "$SCENARIO_PID" 2>/dev/null || true
    wait "$SCENARIO_PID" 2>/dev/null || true
  fi
  if [ "${#STARTED[@]}" -gt 0 ]; then
    if [ "$KEEP" -eq 1 ] && [ "$FINISHED" -eq 1 ]; then
      printf '\n'
      step "still running (--keep): PIDs in ${PIDS_FILE#"$ROOT"/}"
      printf '    stop with: scripts/demo.sh --stop   (or: kill -TERM -- %s)\n' \
        "$(awk '{printf "-%s ", $1}' "$PIDS_FILE")"
    else
      printf '\n'
      step "stopping the sandbox, webhook-api and the reconciler"
      stop_pids "${STARTED[@]}"
      rm -f "$PIDS_FILE"
      ok "stopped"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- services, build, database ------------------------------------------------
step "PostgreSQL and RabbitMQ (scripts/services.sh)"
SERVICES_SKIP_CHROMIUM=1 bash scripts/services.sh

if [ "$RELEASE" -eq 1 ]; then
  step "building the binaries (cargo build --release --bins)"
  cargo build --release --bins
else
  step "building the binaries (cargo build --bins)"
  cargo build --bins
fi
for b in pse-sandbox webhook-api reconciler; do
  [ -x "$BIN/$b" ] || die "$BIN/$b was not built"
done

mkdir -p "$DEMO_DIR"
stop_recorded

DB=pse_demo
PSQL=(env PGOPTIONS='-c client_min_messages=warning' psql -w -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
step "recreating database $DB"
"${PSQL[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()" >/dev/null
"${PSQL[@]}" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
ok "database $DB is empty (migrations run when the services start)"

# RabbitMQ: names carry the prefix "demo."; a previous run's leftover messages
# (retries in flight, unconsumed order events) are purged so they cannot touch this run.
AMQP_PREFIX=demo.
rabbitmqctl_() {
  if [ "$(id -u)" -eq 0 ]; then
    rabbitmqctl "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n rabbitmqctl "$@"
  else
    return 1
  fi
}
if command -v rabbitmqctl >/dev/null && queues=$(rabbitmqctl_ list_queues -q --no-table-headers name messages 2>/dev/null); then
  purged=0
  while read -r name messages; do
    case "$name" in
      "$AMQP_PREFIX"*)
        if [ "${messages:-0}" != 0 ]; then
          rabbitmqctl_ purge_queue "$name" >/dev/null 2>&1 && purged=$((purged + 1))
        fi
        ;;
    esac
  done <<<"$queues"
  ok "RabbitMQ names prefixed $AMQP_PREFIX ($purged queue(s) with leftovers purged)"
else
  warn "cannot run rabbitmqctl here; leftovers of an earlier demo in $AMQP_PREFIX* queues are not purged"
fi

# --- ports --------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
TAKEN=" "
pick_port() { # variable, preferred port: the preferred one if free, else a free one
  local p=$2 tries=0
  while port_busy "$p" || [[ "$TAKEN" == *" $p "* ]]; do
    tries=$((tries + 1))
    [ "$tries" -lt 500 ] || die "no free port found for $1"
    p=$((20000 + RANDOM % 20000))
  done
  TAKEN="$TAKEN$p "
  printf -v "$1" '%s' "$p"
}
pick_port SANDBOX_PORT 9999
pick_port API_PORT 8080
pick_port RECONCILER_PORT 9100

SANDBOX_URL=http://127.0.0.1:$SANDBOX_PORT
API_URL=http://127.0.0.1:$API_PORT

# --- configuration (README's table; the sandbox's credentials) -----------------
MERCHANT_KEY=demo-merchant-key
FINANCE_KEY=demo-finance-key
ADMIN_KEY=demo-admin-key
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
export AMQP_URL=${DEMO_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export AMQP_NAME_PREFIX=$AMQP_PREFIX
export API_KEYS="merchant:$MERCHANT_KEY,finance:$FINANCE_KEY,admin:$ADMIN_KEY"
export HTTP_ADDR=127.0.0.1:$API_PORT
export RECONCILER_HTTP_ADDR=127.0.0.1:$RECONCILER_PORT
export SANDBOX_ADDR=127.0.0.1:$SANDBOX_PORT
export MONO_API_URL=$SANDBOX_URL MONO_API_KEY=sandbox-mono-key
export BELVO_API_URL=$SANDBOX_URL BELVO_SECRET_ID=sandbox-belvo-id BELVO_SECRET_PASSWORD=sandbox-belvo-password
export TPAGA_API_URL=$SANDBOX_URL TPAGA_CLIENT_ID=sandbox-tpaga-client TPAGA_CLIENT_SECRET=sandbox-tpaga-secret
export MONO_WEBHOOK_SECRETS=whsec_demo_signing_secret
export BELVO_WEBHOOK_AUTH="Bearer demo-belvo-webhook"
export TPAGA_WEBHOOK_TOKEN=demo-tpaga-token
# POST /v1/payments: the accounts payments are paid into (any well-formed ids suit the sandbox).
export MONO_ACCOUNT_ID=acc_5tgliBmzjZ6mpQPRbQjfKj BELVO_BENEFICIARY_ACCOUNT=a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc
# Demo-speed timings: seconds instead of minutes and hours.
export SWEEP_INTERVAL_SECS=2 PENDING_RECHECK_AFTER_SECS=3 RETRY_DELAYS_SECS=1,2,4
if [ "$QUICK" -eq 1 ]; then
  export ORDER_EXPIRY_SECS=8 STALE_AFTER_SECS=12
  SCENARIO=quick TIMEOUT=90
else
  export ORDER_EXPIRY_SECS=15 STALE_AFTER_SECS=30
  SCENARIO=day TIMEOUT=180
fi
export RUST_LOG=${DEMO_RUST_LOG:-info} LOG_FORMAT=text NO_COLOR=1

# --- start --------------------------------------------------------------------
: >"$PIDS_FILE"
start() { # name, command...
  local name=$1 pid
  shift
  setsid "$@" >"$DEMO_DIR/$name.log" 2>&1 </dev/null &
  pid=$!
  STARTED+=("$pid")
  echo "$pid $name" >>"$PIDS_FILE"
}

wait_ready() { # name, seconds, check command...
  local name=$1 secs=$2 pid log start=$SECONDS
  shift 2
  pid=$(awk -v n="$name" '$2 == n {print $1}' "$PIDS_FILE")
  log=${DEMO_DIR#"$ROOT"/}/$name.log
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf '\n'
      printf '\033[31merror:\033[0m %s exited during startup; the end of %s:\n' "$name" "$log" >&2
      tail -n 25 "$DEMO_DIR/$name.log" >&2 || true
      exit 1
    fi
    if ((SECONDS - start >= secs)); then
      printf '\n'
      printf '\033[31merror:\033[0m %s was not ready within %ss; the end of %s:\n' "$name" "$secs" "$log" >&2
      tail -n 25 "$DEMO_DIR/$name.log" >&2 || true
      exit 1
    fi
    printf '    waiting for %s (%ss)\r' "$name" $((SECONDS - start))
    sleep 0.5
  done
  printf '\r    \033[32mok\033[0m %-12s ready (log: %s)\033[K\n' "$name" "$log"
}

step "starting the sandbox, webhook-api and the reconciler (logs in ${DEMO_DIR#"$ROOT"/}/)"
start sandbox "$BIN/pse-sandbox" serve --addr "127.0.0.1:$SANDBOX_PORT"
start webhook-api "$BIN/webhook-api"
start reconciler "$BIN/reconciler"
wait_ready sandbox 30 "$BIN/pse-sandbox" healthcheck --url "$SANDBOX_URL"
wait_ready webhook-api 90 "$BIN/webhook-api" healthcheck
wait_ready reconciler 90 "$BIN/reconciler" healthcheck

# --- the scenario -------------------------------------------------------------
step "playing scenario '$SCENARIO' (pse-sandbox scenario $SCENARIO)"
status=0
scenario_start=$SECONDS
# In the background and waited for, so a signal to this script is handled at once.
MONO_WEBHOOK_SECRET=$MONO_WEBHOOK_SECRETS \
  "$BIN/pse-sandbox" scenario "$SCENARIO" --api "$API_URL" --sandbox "$SANDBOX_URL" \
  --merchant-key "$MERCHANT_KEY" --finance-key "$FINANCE_KEY" --timeout "$TIMEOUT" &
SCENARIO_PID=$!
wait "$SCENARIO_PID" || status=$?
SCENARIO_PID=
FINISHED=1
scenario_secs=$((SECONDS - scenario_start))

TODAY=$(date -u -d '-5 hours' +%F) # America/Bogota: UTC-5, no daylight saving
LOGS=${DEMO_DIR#"$ROOT"/}
printf '\n'
step "where to look"
cat <<EOF
    reconciliation report (HTML)  $API_URL/v1/reports/reconciliation?date=$TODAY&format=html
                                  (the browser asks for a login: any user name, password $FINANCE_KEY)
    the same as CSV               curl -sS -H 'Authorization: Bearer $FINANCE_KEY' '$API_URL/v1/reports/reconciliation?date=$TODAY&format=csv'
    orders                        curl -sS -H 'Authorization: Bearer $FINANCE_KEY' '$API_URL/v1/orders?limit=20'
    orders needing review         curl -sS -H 'Authorization: Bearer $FINANCE_KEY' '$API_URL/v1/orders?state=needs_review'
    open exceptions               curl -sS -H 'Authorization: Bearer $FINANCE_KEY' '$API_URL/v1/exceptions?status=open'
    dead letters (admin)          curl -sS -H 'Authorization: Bearer $ADMIN_KEY' '$API_URL/v1/admin/dead-letters'
    metrics                       $API_URL/metrics   http://127.0.0.1:$RECONCILER_PORT/metrics
    RabbitMQ (names demo.*)       rabbitmqctl list_queues name messages | grep '^demo\\.'
    database                      psql -h 127.0.0.1 -U postgres $DB
    logs                          $LOGS/sandbox.log  $LOGS/webhook-api.log  $LOGS/reconciler.log
EOF
if [ "$status" -eq 0 ]; then
  ok "scenario $SCENARIO: the report matches what the scenario expects (scenario ${scenario_secs}s, demo ${SECONDS}s)"
else
  printf '\033[31merror:\033[0m scenario %s exited with %s after %ss: see the differences above and the logs\n' \
    "$SCENARIO" "$status" "$scenario_secs" >&2
fi
if [ "$KEEP" -eq 0 ]; then
  printf '    (the services stop now; run with --keep to leave them running)\n'
fi
printf '    run the tests with: scripts/test.sh   (it also installs Chromium, which the demo skips)\n'
exit "$status"
