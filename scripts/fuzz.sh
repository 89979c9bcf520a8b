#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (cargo fuzz, libFuzzer) and runs each for a
# bounded time. CI runs it (.ci/run, section "fuzz"); a crash fails the run.
#
#   scripts/fuzz.sh                       every target, FUZZ_SECONDS each
#   scripts/fuzz.sh webhook_mono          only the targets named
#   FUZZ_SECONDS=600 scripts/fuzz.sh      longer (default 30 s per target)
#   scripts/fuzz.sh --list                the targets
#
# Works on a stable toolchain: cargo fuzz needs nightly-only compiler flags
# (-Zsanitizer, sanitizer coverage), which RUSTC_BOOTSTRAP=1 unlocks on stable.
# No sanitizer by default (FUZZ_SANITIZER=address to add ASan): the product has
# no unsafe code, so ASan would mostly slow each run down.
#
# The instrumented build goes to target/fuzz/ or $FUZZ_TARGET_DIR (it recompiles shared and every
# dependency with coverage instrumentation; kept apart from target/debug).
# Inputs: the committed seeds in fuzz/corpus/<target>/ (read only; regenerate
# with fuzz/seeds.py) plus target/fuzz/corpus/<target>/, where libFuzzer keeps
# what it finds between runs. A crash is saved in target/fuzz/artifacts/<target>/
# and the command to replay it is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CARGO_FUZZ_VERSION=${CARGO_FUZZ_VERSION:-0.13.2}
SECONDS_EACH=${FUZZ_SECONDS:-30}
SANITIZER=${FUZZ_SANITIZER:-none}
TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/target/fuzz} # another directory (FUZZ_TARGET_DIR) can outlive a fresh clone
export RUSTC_BOOTSTRAP=1

step() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() {
  printf '\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

case "$SECONDS_EACH" in
  '' | *[!0-9]*) die "FUZZ_SECONDS must be a whole number of seconds, not '$SECONDS_EACH'" ;;
esac

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked; once per machine)"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

cd fuzz
ALL=$(cargo fuzz list)
if [ "${1:-}" = --list ]; then
  echo "$ALL"
  exit 0
fi
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else mapfile -t TARGETS <<<"$ALL"; fi
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$ALL" || die "no fuzz target '$t' (scripts/fuzz.sh --list)"
done

# fuzz/Cargo.lock is committed. When shared gains a dependency it must grow too;
# cargo adds what is missing without upgrading the rest, and this says so
# rather than failing (the lead merging a shared change should not break here).
lock_before=$(cksum <Cargo.lock)
cargo metadata --format-version 1 >/dev/null
if [ "$(cksum <Cargo.lock)" != "$lock_before" ]; then
  printf '\033[33mwarning:\033[0m fuzz/Cargo.lock was out of date with shared/Cargo.toml and was updated; commit it\n' >&2
fi

step "building ${#TARGETS[@]} fuzz target(s) (sanitizer: $SANITIZER; into ${TARGET_DIR#"$ROOT"/})"
build_start=$SECONDS
for t in "${TARGETS[@]}"; do
  cargo fuzz build --sanitizer "$SANITIZER" --target-dir "$TARGET_DIR" "$t"
done
printf '    built in %ss\n' $((SECONDS - build_start))

failed=()
for t in "${TARGETS[@]}"; do
  step "fuzzing $t for ${SECONDS_EACH}s"
  work=$TARGET_DIR/corpus/$t
  artifacts=$TARGET_DIR/artifacts/$t
  mkdir -p "$work" "$artifacts" "corpus/$t"
  start=$SECONDS
  # New inputs go to the first directory ($work); the committed seeds stay as they are.
  if cargo fuzz run --sanitizer "$SANITIZER" --target-dir "$TARGET_DIR" "$t" "$work" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$TARGET_DIR/$t.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$TARGET_DIR/$t.log" | tail -n 1 | sed 's/^/    /'
    printf '    \033[32mok\033[0m %s: no crash in %ss (%s inputs in its corpus)\n' \
      "$t" $((SECONDS - start)) "$(find "$work" "corpus/$t" -type f | wc -l)"
  else
    failed+=("$t")
    printf '\033[31m    %s found a crash:\033[0m\n' "$t"
    grep -E -A12 '^(thread .* panicked|==[0-9]+== ?ERROR|SUMMARY|panicked at)' "$TARGET_DIR/$t.log" | head -n 30 | sed 's/^/    /' || true
    for a in "$artifacts"/*; do
      [ -e "$a" ] || continue
      printf '    replay: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s %s --target-dir ../target/fuzz %s %s)\n' \
        "$SANITIZER" "$t" "${a#"$ROOT"/fuzz/}"
    done
    printf '    full log: %s\n' "${TARGET_DIR#"$ROOT"/}/$t.log"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  die "fuzzing found crashes in: ${failed[*]}"
fi
step "fuzzing: ${#TARGETS[@]} target(s), ${SECONDS_EACH}s each, no crash"
