#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for expman's tests
# (tests/run.sh runs it; a person can too): installs Debian's slurm-wlm and
# munge when they are missing (root, apt-get), writes a slurm.conf for this
# host, starts munged, slurmctld and slurmd, and waits until the node
# takes jobs. Running it again while the cluster is up changes nothing.
#
# No systemd, no cgroups and no accounting database are needed: processes
# are tracked through /proc, and finished jobs are written one per line to
# $SLURM_STATE/log/jobcomp.txt (which `sacct --completion` reads).
#
#   SLURM_STATE   where config, spool, logs and PID files go   [/tmp/expman-slurm]
#   SLURM_CONF    the config clients read                      [/etc/slurm/slurm.conf]
#
# Stop it with tests/engines/slurm-stop.sh, which signals only the PIDs this
# script recorded under $SLURM_STATE/ours/.
set -euo pipefail

state="${SLURM_STATE:-/tmp/expman-slurm}"
export SLURM_CONF="${SLURM_CONF:-/etc/slurm/slurm.conf}"
node="$(hostname -s)"
say() { echo "slurm-start: $*" >&2; }

# A PID file names a live process of that name (not a zombie, not a reused PID).
alive() {
  local file="$1" name="$2" pid stat
  [[ -s "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat#*(}" == "$name"* ]] || return 1
  local rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  [[ $EUID -eq 0 ]] || { say "slurm-wlm and munge are missing; install them (apt-get install slurm-wlm munge)"; exit 1; }
  say "installing slurm-wlm and munge"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$state"/{spool/ctld,spool/node,log,run,ours} "$(dirname "$SLURM_CONF")"

# What slurmd sees of this machine, so that it never drains the node for a
# config that differs from the hardware.
declare -A hw=()
for pair in $(slurmd -C | head -n1); do hw["${pair%%=*}"]="${pair#*=}"; done

conf="$(mktemp)"
trap 'rm -f "$conf"' EXIT
cat >"$conf" <<CONF
# Written by expman's tests/engines/slurm-start.sh: one node, for tests.
ClusterName=expman-test
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/node
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
MinJobAge=300
EnforcePartLimits=ALL
MailProg=/bin/true
ReturnToService=2
InactiveLimit=0
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=${hw[CPUs]} Boards=${hw[Boards]} SocketsPerBoard=${hw[SocketsPerBoard]} CoresPerSocket=${hw[CoresPerSocket]} ThreadsPerCore=${hw[ThreadsPerCore]} RealMemory=${hw[RealMemory]} State=UNKNOWN
# Up to 4 jobs per core: the tests run a few hanging or sleeping jobs at once on 2 cores.
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

changed=0
if ! cmp -s "$conf" "$state/slurm.conf"; then
  cp "$conf" "$state/slurm.conf"
  changed=1
fi
cmp -s "$state/slurm.conf" "$SLURM_CONF" 2>/dev/null || cp "$state/slurm.conf" "$SLURM_CONF"

# munge: reuse one that answers, else start our own.
if ! (munge -n 2>/dev/null | unmunge >/dev/null 2>&1); then
  if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  say "starting munged"
  runuser -u munge -- munged --pid-file=/run/munge/munged.pid </dev/null >>"$state/log/munged.out" 2>&1
  for _ in $(seq 100); do (munge -n 2>/dev/null | unmunge >/dev/null 2>&1) && break; sleep 0.1; done
  munge -n | unmunge >/dev/null
  cp /run/munge/munged.pid "$state/ours/munged.pid"
fi

# A new config needs daemons we started before to restart.
if (( changed )); then
  for daemon in slurmd slurmctld; do
    if alive "$state/ours/$daemon.pid" "$daemon"; then
      say "config changed: restarting $daemon"
      pid="$(cat "$state/ours/$daemon.pid")"
      kill "$pid"
      for _ in $(seq 100); do alive "$state/ours/$daemon.pid" "$daemon" || break; sleep 0.1; done
    fi
  done
fi

# daemon NAME ARGS...: start it unless ours runs (it forks and writes its PID file).
daemon() {
  local name="$1"; shift
  if alive "$state/run/$name.pid" "$name"; then return; fi
  rm -f "$state/run/$name.pid"
  say "starting $name"
  "$@" </dev/null >>"$state/log/$name.out" 2>&1
  for _ in $(seq 150); do alive "$state/run/$name.pid" "$name" && break; sleep 0.1; done
  if ! alive "$state/run/$name.pid" "$name"; then
    say "$name did not start:"; tail -n 20 "$state/log/$name.log" >&2 || true
    exit 1
  fi
  cp "$state/run/$name.pid" "$state/ours/$name.pid"
}
daemon slurmctld slurmctld -f "$SLURM_CONF"
daemon slurmd slurmd -f "$SLURM_CONF" -N "$node"

# Until the node takes jobs.
for _ in $(seq 120); do
  node_state="$(timeout 5 sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)"
  case "$node_state" in
    idle | mixed | allocated | completing) say "ready: $node is $node_state (SLURM_CONF=$SLURM_CONF)"; exit 0 ;;
    down* | drain*) scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.5
done
say "the node never became ready (state '${node_state:-?}'); logs in $state/log"
exit 1
