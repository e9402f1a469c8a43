#!/usr/bin/env bash
# Stops the server tests/engines/mariadb-start.sh started: the PID it
# recorded, only while it still names a mariadbd; SIGTERM (a clean InnoDB
# shutdown), SIGKILL after 30 s. PURGE=1 also removes $MARIADB_STATE.
set -euo pipefail
state="${MARIADB_STATE:-/tmp/expman-mariadb}"
ours="$state/ours.pid"
say() { echo "mariadb-stop: $*" >&2; }

named() {
  local pid="$1" stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat#*(}" == mariadbd* ]] || return 1
  local rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

if [[ -s "$ours" ]]; then
  pid="$(cat "$ours")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && named "$pid"; then
    say "stopping mariadbd ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do named "$pid" || break; sleep 0.1; done
    if named "$pid"; then
      say "still running after 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$ours"
fi
if [[ "${PURGE:-0}" == 1 ]]; then rm -rf "$state"; fi
