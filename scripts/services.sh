#!/usr/bin/env bash
# Installs (if missing), starts (if stopped) and waits for PostgreSQL and RabbitMQ
# on this machine, without Docker (plus Chromium, which the report test uses),
# then prepares what the defaults expect:
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/pse   AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
# Safe to run any number of times. Debian/Ubuntu only (apt). Needs root or sudo
# only for what is actually missing or stopped.
set -euo pipefail

PG_PORT=5432
AMQP_PORT=5672
WAIT_SECS=${SERVICES_WAIT_SECS:-120}

step() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok()   { printf '    \033[32mok\033[0m %s\n' "$*"; }
die()  { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=""; fi
as_root() {
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then die "need root for: $* (re-run as root or install sudo)"; fi
  $SUDO "$@"
}
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else $SUDO -u postgres "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # description, seconds, command...
  local what=$1 secs=$2; shift 2
  local start=$SECONDS waited=0
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= secs )); then echo; die "$what did not become ready within ${secs}s"; fi
    printf '    waiting for %s (%ss)\r' "$what" $((SECONDS - start))
    waited=1
    sleep 1
  done
  if [ $waited -eq 1 ]; then printf '\n'; fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    die "$* is not installed and this is not a Debian-like system; install it yourself or use docker compose"
  fi
  if [ $apt_updated -eq 0 ]; then
    step "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  step "installing $* (apt)"
  # Without systemd (containers, CI), keep package scripts from starting
  # services themselves; this script starts them below.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [ "$(cat /proc/1/comm 2>/dev/null)" != "systemd" ] && [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee $policy >/dev/null
    as_root chmod +x $policy
    added_policy=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { [ $added_policy -eq 1 ] && as_root rm -f $policy; die "apt-get install $* failed"; }
  if [ $added_policy -eq 1 ]; then as_root rm -f $policy; fi
}

# --- PostgreSQL ---------------------------------------------------------------
step "PostgreSQL"
if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  apt_install postgresql postgresql-contrib
fi
if ! command -v pg_isready >/dev/null; then apt_install postgresql-client; fi
if ! pg_isready -q -h 127.0.0.1 -p $PG_PORT; then
  # Start every cluster configured for our port that is down (normally "<version> main").
  started=0
  while read -r ver name port status _; do
    [ "$port" = "$PG_PORT" ] || continue
    if [ "$status" != "online" ]; then
      step "starting PostgreSQL cluster $ver/$name"
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
    fi
    started=1
  done < <(pg_lsclusters --no-header 2>/dev/null || true)
  if [ $started -eq 0 ]; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    if [ -z "$ver" ]; then die "PostgreSQL is installed but has no cluster; run pg_createcluster"; fi
    step "creating PostgreSQL cluster $ver/main on port $PG_PORT"
    as_root pg_createcluster --port $PG_PORT "$ver" main
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  fi
fi
wait_for "PostgreSQL on 127.0.0.1:$PG_PORT" "$WAIT_SECS" pg_isready -q -h 127.0.0.1 -p $PG_PORT
ok "PostgreSQL answers on 127.0.0.1:$PG_PORT"

# The defaults connect over TCP as postgres without a password (a development
# setup). If that is refused, allow it for loopback only.
if ! psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
  hba=$(as_postgres psql -p $PG_PORT -Atqc 'SHOW hba_file')
  step "allowing passwordless loopback connections as postgres in $hba (development only)"
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  as_postgres psql -p $PG_PORT -Atqc 'SELECT pg_reload_conf()' >/dev/null
  sleep 1
  psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null \
    || die "still cannot connect as postgres@127.0.0.1; check $hba"
fi
if [ "$(psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'pse'")" != "1" ]; then
  psql -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -qc 'CREATE DATABASE pse' >/dev/null
  ok "created database pse"
fi
ok "database pse ready (the binaries apply migrations at startup)"

# --- RabbitMQ -----------------------------------------------------------------
step "RabbitMQ"
if ! command -v rabbitmq-server >/dev/null; then
  apt_install rabbitmq-server
fi
if ! port_open $AMQP_PORT; then
  step "starting RabbitMQ"
  as_root rabbitmq-server -detached
fi
wait_for "RabbitMQ to boot" "$WAIT_SECS" as_root rabbitmqctl await_startup --timeout 5
wait_for "RabbitMQ on 127.0.0.1:$AMQP_PORT" "$WAIT_SECS" port_open $AMQP_PORT
ok "RabbitMQ answers on 127.0.0.1:$AMQP_PORT (guest/guest, vhost /)"

# --- Chromium -------------------------------------------------------------------
# Not a service: the report test renders the HTML report in headless Chromium.
# SERVICES_SKIP_CHROMIUM=1 skips it (the demo does not need a browser).
if [ "${SERVICES_SKIP_CHROMIUM:-0}" != 1 ]; then
  step "Chromium (headless, for the HTML report test)"
  if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    apt_install chromium
  fi
  ok "$( (chromium --version || chromium-browser --version) 2>/dev/null | head -n1)"
fi

echo
ok "services are up. Run the tests with: scripts/test.sh"
