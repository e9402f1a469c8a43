#!/usr/bin/env bash
# The whole test suite, as the README's second command: checks formatting
# and lints, installs what the tests need, builds every binary once (one
# profile), and runs every test. Safe to run again; CI runs exactly this.
#
#   tests/run.sh                 everything
#   SKIP_LINT=1 tests/run.sh     skip fmt/clippy (quicker local runs)
#
# Installs, where missing: the Python test tools into .venv-test (pip,
# pinned in tests/python/requirements.txt; then the Python package, as a
# wheel maturin builds in the same dev profile) and, as root on Debian/Ubuntu,
# Neovim (apt-get) for the editor smoke test and slurm-wlm with munge for a
# one-node Slurm cluster on 127.0.0.1 (tests/engines/slurm-start.sh), and
# mariadb-server for a private MariaDB on 127.0.0.1:53307
# (tests/engines/mariadb-start.sh), and chromium with chromium-driver for the
# web UI's browser tests (tests/ui); s3rver (npm ci, pinned in
# tests/engines/s3rver/) for an S3-compatible server on 127.0.0.1:45681
# (tests/engines/s3-start.sh); with the nightly toolchain, cargo-fuzz
# (cargo install) for a short fuzzing run. Needs python3 (3.11+),
# Node.js 20+ with npm, and network access to PyPI, npm and crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

if [[ "${CI:-}" == "true" ]]; then
  export CARGO_INCREMENTAL=0
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# The servers the tests need, started in the background while the build
# runs, one after the other (they may need apt-get or npm the first time, as
# root): a one-node Slurm cluster for the Slurm executor, a private MariaDB
# on 127.0.0.1 for the MySQL back end, an S3-compatible server on 127.0.0.1
# for the artifact store's remote. Stopped at the end, by the PIDs their
# scripts recorded.
mkdir -p target
slurm_log=target/slurm-start.log
mariadb_log=target/mariadb-start.log
rm -f target/slurm-start.rc target/mariadb-start.rc target/s3-start.rc
(
  for engine in slurm mariadb s3; do
    rc=0
    "tests/engines/$engine-start.sh" >"target/$engine-start.log" 2>&1 || rc=$?
    echo "$rc" >"target/$engine-start.rc"
  done
  # The web UI's browser tests: Debian's Chromium and its chromedriver.
  if ! command -v chromedriver >/dev/null 2>&1 && [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        chromium chromium-driver; } >target/chromium-install.log 2>&1 || cat target/chromium-install.log >&2
  fi
) &
engines_pid=$!
trap 'tests/engines/slurm-stop.sh 2>/dev/null || true; tests/engines/mariadb-stop.sh 2>/dev/null || true; tests/engines/s3-stop.sh 2>/dev/null || true' EXIT

if [[ -z "${SKIP_LINT:-}" ]]; then
  log "cargo fmt --check"
  cargo fmt --all -- --check
  log "cargo clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi

log "build every binary (expman, fake-trial) once"
cargo build --workspace --bins --locked

log "Slurm cluster, MariaDB server and S3 server (tests/engines/)"
wait "$engines_pid" || true
# engine NAME LOG: whether it started; on CI it must.
engine() {
  if [[ "$(cat "target/$1-start.rc" 2>/dev/null)" == 0 ]]; then
    return 0
  fi
  cat "$2" >&2
  if [[ "${CI:-}" == "true" ]]; then
    echo "CI needs $1 (tests/engines/$1-start.sh)" >&2
    exit 1
  fi
  echo "no $1 here: its tests are skipped" >&2
  return 1
}
if engine slurm "$slurm_log"; then
  grep 'ready' "$slurm_log" >&2 || true
  export EXPMAN_TEST_SLURM=1
fi
if engine mariadb "$mariadb_log"; then
  grep 'ready' "$mariadb_log" >&2 || true
  EXPMAN_TEST_MARIADB="$(tail -n 1 "$mariadb_log")"
  export EXPMAN_TEST_MARIADB EXPMAN_DB_PASSWORD="${MARIADB_PASSWORD:-Tq9-team-secret}"
fi

s3_log=target/s3-start.log
if engine s3 "$s3_log"; then
  grep 'ready' "$s3_log" >&2 || true
  EXPMAN_TEST_S3="$(tail -n 1 "$s3_log")"
  export EXPMAN_TEST_S3
fi

log "cargo test"
INSTA_UPDATE=no cargo test --workspace --locked

log "Python test tools (.venv-test)"
venv=.venv-test
requirements=tests/python/requirements.txt
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" >"$stamp"
fi

log "the Python package: a wheel (maturin, the same dev profile) into .venv-test"
rm -f target/wheels/expman-*.whl
"$venv/bin/maturin" build --profile dev --locked -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/expman-*.whl

log "language server, Jupyter kernel, trackers, the Python package and the web UI, end to end (pytest-lsp, jupyter_client, nbclient, jupyter_kernel_test, mlflow server, tensorboard, ipykernel, headless Chromium)"
EXPMAN_BIN="$PWD/target/debug/expman" "$venv/bin/pytest" -c tests/pytest.ini -q tests/lsp tests/kernel tests/trackers tests/package tests/ui

log "crash chaos, short: the runner, a trial, the MLflow server and the MariaDB server each killed once (tests/chaos/chaos.py)"
EXPMAN_BIN="$PWD/target/debug/expman" "$venv/bin/python" tests/chaos/chaos.py --rounds 4

log "fuzzing, short: every target 20 s on its corpus (benches/fuzz.sh; nightly Rust and cargo-fuzz)"
if cargo +nightly --version >/dev/null 2>&1; then
  benches/fuzz.sh 20
else
  echo "no nightly toolchain here: fuzzing skipped (the regression inputs were replayed by cargo test)" >&2
fi

log "editors: Neovim (headless), Helix config, VS Code extension"
if ! command -v nvim >/dev/null 2>&1; then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq neovim >/dev/null
  else
    echo "nvim is missing: install Neovim 0.7+ (apt-get install neovim) to run the editor smoke test" >&2
    exit 1
  fi
fi
tests/editors/nvim_smoke.sh target/debug/expman
"$venv/bin/python" tests/editors/helix_config.py
tests/editors/build_vscode.sh

log "all tests passed"
