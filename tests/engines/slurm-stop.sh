#!/usr/bin/env bash
# Stops the cluster tests/engines/slurm-start.sh started: each daemon whose
# PID it recorded under $SLURM_STATE/ours/ (slurmd, then slurmctld, then a
# munged it started), by that PID, only while it still names a process of
# that name; TERM, then KILL after 10 s. PURGE=1 also removes $SLURM_STATE.
set -euo pipefail
state="${SLURM_STATE:-/tmp/expman-slurm}"
say() { echo "slurm-stop: $*" >&2; }

named() {
  local pid="$1" name="$2" stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat#*(}" == "$name"* ]] || return 1
  local rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

for name in slurmd slurmctld munged; do
  file="$state/ours/$name.pid"
  [[ -s "$file" ]] || continue
  pid="$(cat "$file")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && named "$pid" "$name"; then
    say "stopping $name ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do named "$pid" "$name" || break; sleep 0.1; done
    named "$pid" "$name" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
done
if [[ "${PURGE:-0}" == 1 ]]; then rm -rf "$state"; fi
