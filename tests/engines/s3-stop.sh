#!/usr/bin/env bash
# Stops the server tests/engines/s3-start.sh started: the PID it recorded,
# only while it still names a node process; SIGTERM, SIGKILL after 10 s.
# PURGE=1 also removes $S3_STATE's data (the installed server stays).
set -euo pipefail
state="${S3_STATE:-/tmp/expman-s3}"
ours="$state/ours.pid"
say() { echo "s3-stop: $*" >&2; }

named() {
  local pid="$1" stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat#*(}" == node* ]] || return 1
  local rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

if [[ -s "$ours" ]]; then
  pid="$(cat "$ours")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && named "$pid"; then
    say "stopping s3rver ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do named "$pid" || break; sleep 0.1; done
    if named "$pid"; then
      say "still running after 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$ours"
fi
if [[ "${PURGE:-0}" == 1 ]]; then rm -rf "$state/data"; fi
