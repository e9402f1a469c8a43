#!/usr/bin/env bash
# Fuzzes expman's readers of outside input (fuzz/src/lib.rs) with
# cargo-fuzz and libFuzzer, SECONDS per target, and reports each target's
# runs, corpus and findings.
#
#   benches/fuzz.sh [SECONDS] [TARGET ...]    # default: 60 s, every target
#
# Targets: config overrides filter events wire lsp_edits. Needs the
# nightly toolchain (rustup toolchain install nightly) and cargo-fuzz
# (installed here if missing). Seeds come from the fixtures
# (fuzz/seed.py); what libFuzzer learns stays in fuzz/corpus/ (not
# committed). A crash, timeout or out-of-memory input is copied to
# fuzz/regressions/TARGET/, which tests/it/fuzz_regressions.rs replays on
# stable Rust: commit it with the fix. Exits 1 when a target found
# something.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(config overrides filter events wire lsp_edits)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi

python3 fuzz/seed.py
# No sanitizer: the code fuzzed is safe Rust, where a bug is a panic,
# which libFuzzer catches without one (and runs about twice as fast).
# Debug assertions and overflow checks: on for expman's crates
# (fuzz/Cargo.toml's profile), off for dependencies.
flags=(--sanitizer none --release)
echo "fuzz: building the targets (nightly, release, expman's crates with overflow checks)" >&2
cargo +nightly fuzz build "${flags[@]}" 2>&1 | grep -E '^(error|warning: unused)' -A5 >&2 || true
cargo +nightly fuzz build "${flags[@]}" >/dev/null 2>&1

mkdir -p target/fuzz-logs
found=0
printf '%-10s %8s %12s %10s %8s  %s\n' target seconds runs "runs/s" corpus findings
for t in "${targets[@]}"; do
  log="target/fuzz-logs/$t.log"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$artifacts" "fuzz/corpus/$t"
  before="$(find "$artifacts" -type f | wc -l)"
  start=$SECONDS
  # One process; a finding stops the target (its input is saved).
  status=0
  cargo +nightly fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  took=$((SECONDS - start))
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)"
  corpus="$(find "fuzz/corpus/$t" -type f | wc -l)"
  findings=none
  if [[ $status -ne 0 || "$(find "$artifacts" -type f | wc -l)" -gt "$before" ]]; then
    found=1
    mkdir -p "fuzz/regressions/$t"
    find "$artifacts" -type f -exec cp -n {} "fuzz/regressions/$t/" \;
    findings="FOUND (exit $status): $(grep -m1 -E "panicked at|ERROR: libFuzzer" "$log" || echo "see $log") -> fuzz/regressions/$t/"
  fi
  rate=$(( took > 0 ? ${runs:-0} / took : 0 ))
  printf '%-10s %8s %12s %10s %8s  %s\n' "$t" "$took" "${runs:-0}" "$rate" "$corpus" "$findings"
done
exit $found
