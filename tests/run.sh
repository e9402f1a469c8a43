#!/usr/bin/env bash
# The whole test suite, as the README's second command: checks formatting
# and lints, installs what the tests need, builds every binary once (one
# profile), and runs every test. Safe to run again; CI runs exactly this.
#
#   tests/run.sh            everything
#   SKIP_LINT=1 tests/run.sh  skip fmt/clippy (quicker local runs)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

if [[ "${CI:-}" == "true" ]]; then
  export CARGO_INCREMENTAL=0
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if [[ -z "${SKIP_LINT:-}" ]]; then
  log "cargo fmt --check"
  cargo fmt --all -- --check
  log "cargo clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi

log "build every binary (expman, fake-trial) once"
cargo build --workspace --bins --locked

log "cargo test"
INSTA_UPDATE=no cargo test --workspace --locked

log "all tests passed"
