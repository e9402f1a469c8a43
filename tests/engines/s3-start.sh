#!/usr/bin/env bash
# Starts a private S3-compatible server on 127.0.0.1 for expman's tests
# (tests/run.sh runs it; a person can too): s3rver from npm (pinned in
# tests/engines/s3rver/package-lock.json, installed with `npm ci` into the
# state directory the first time), its objects in a directory, so a
# restart keeps them; a bucket made at start. Prints the endpoint URL as
# the last line of stdout. Running it again while the server is up changes
# nothing.
#
#   S3_STATE   installed server, data, log, PID file   [/tmp/expman-s3]
#   S3_PORT    TCP port on 127.0.0.1                   [45681]
#   S3_BUCKET  the bucket made at start                [expman]
#
# Credentials: the server takes access key S3RVER, secret S3RVER
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for clients).
# Stop it with tests/engines/s3-stop.sh, which signals only the PID this
# script recorded.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
state="${S3_STATE:-/tmp/expman-s3}"
port="${S3_PORT:-45681}"
bucket="${S3_BUCKET:-expman}"
ours="$state/ours.pid"
say() { echo "s3-start: $*" >&2; }

# The recorded PID names a live node process (not a zombie, not reused).
ours_alive() {
  local pid stat
  [[ -s "$ours" ]] || return 1
  pid="$(cat "$ours")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat#*(}" == node* ]] || return 1
  local rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

url="http://127.0.0.1:$port"
if ours_alive; then
  say "already running ($(cat "$ours"))"
  echo "$url"
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  [[ $EUID -eq 0 ]] || { say "node and npm are missing; install them (apt-get install nodejs npm)"; exit 1; }
  say "installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

mkdir -p "$state/server" "$state/data"
if ! cmp -s "$here/s3rver/package-lock.json" "$state/server/package-lock.json" || [[ ! -x "$state/server/node_modules/.bin/s3rver" ]]; then
  say "installing s3rver (npm ci) into $state/server"
  cp "$here/s3rver/package.json" "$here/s3rver/package-lock.json" "$state/server/"
  (cd "$state/server" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

say "starting on $url (data: $state/data)"
nohup node "$state/server/node_modules/s3rver/bin/s3rver.js" -d "$state/data" -a 127.0.0.1 -p "$port" \
  --no-vhost-buckets --configure-bucket "$bucket" >"$state/s3rver.log" 2>&1 &
echo $! >"$ours"
for _ in $(seq 100); do
  if grep -q "listening" "$state/s3rver.log" 2>/dev/null; then
    say "ready: $url, bucket $bucket"
    echo "$url"
    exit 0
  fi
  ours_alive || break
  sleep 0.1
done
say "s3rver did not start:"
cat "$state/s3rver.log" >&2
exit 1
