#!/usr/bin/env bash
# The test command (README, "The two commands"; .ci/run runs exactly this).
# Brings up everything the tests need on this machine — PostgreSQL, RabbitMQ
# and headless Chromium for the HTML report test (scripts/services.sh, which
# installs what is missing) — then runs the whole workspace's tests.
#
#   scripts/test.sh                          every test
#   scripts/test.sh -p shared --lib money    extra arguments go to cargo test (without
#                                            --workspace when they name packages)
#
# Safe to run any number of times; nothing but scripts/demo.sh (or nothing at
# all) needs to have run before it.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

printf '\033[1m==>\033[0m %s\n' "services for the tests (scripts/services.sh, with Chromium)"
# Not inherited from a caller that skipped the browser (demo.sh does): the report test needs it.
SERVICES_SKIP_CHROMIUM=0 bash scripts/services.sh

# --workspace unless packages are named (with --workspace, cargo ignores -p).
scope=(--workspace)
for arg in "$@"; do
  case "$arg" in
    -p | -p* | --package | --package=*) scope=() ;;
  esac
done
printf '\033[1m==>\033[0m %s\n' "cargo test ${scope[*]} $*"
exec cargo test "${scope[@]}" "$@"
