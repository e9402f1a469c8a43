#!/usr/bin/env bash
# Headless Neovim smoke test of editors/nvim/expman.lua against `expman lsp`:
# opens a trials.yaml with a typo, expects the server's diagnostics and a
# completion of base.yaml's keys (see nvim_smoke.lua).
#
#   tests/editors/nvim_smoke.sh [EXPMAN_BINARY]   default: target/debug/expman
#
# Needs `nvim` (0.7 or newer; Debian 12: apt-get install neovim). Installs
# nothing; uses a scratch directory for the files and Neovim's state.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"

bin="${1:-target/debug/expman}"
case "$bin" in
  /*) ;;
  */*) bin="$repo/$bin" ;;
  *) bin="$(command -v "$bin" || echo "$bin")" ;;
esac

if ! command -v nvim >/dev/null 2>&1; then
  echo "nvim_smoke: FAIL: 'nvim' is not on PATH; install Neovim 0.7+ (Debian/Ubuntu: apt-get install -y neovim)" >&2
  exit 1
fi
if [[ ! -x "$bin" ]]; then
  echo "nvim_smoke: FAIL: expman binary '$bin' is missing or not executable; build it (cargo build) or pass its path as \$1" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/project" "$tmp/xdg"

# Keep Neovim away from the user's config, plugins, shada and LSP log.
export XDG_CONFIG_HOME="$tmp/xdg/config" XDG_DATA_HOME="$tmp/xdg/data" \
  XDG_STATE_HOME="$tmp/xdg/state" XDG_CACHE_HOME="$tmp/xdg/cache"
export EXPMAN_BIN="$bin" EXPMAN_REPO="$repo" EXPMAN_TMP="$tmp/project"

# The Lua side gives up after ~25 s in all; the outer limit only guards
# against Neovim itself hanging.
runner=()
if command -v timeout >/dev/null 2>&1; then
  runner=(timeout 60)
fi
status=0
"${runner[@]}" nvim --headless --clean -n -c "luafile $repo/tests/editors/nvim_smoke.lua" </dev/null || status=$?
if [[ $status -eq 124 ]]; then
  echo "nvim_smoke: FAIL: Neovim did not finish within 60 s" >&2
fi
exit "$status"
