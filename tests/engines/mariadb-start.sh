#!/usr/bin/env bash
# Starts a private MariaDB server on 127.0.0.1 for expman's tests
# (tests/run.sh runs it; a person can too): installs Debian's
# mariadb-server when it is missing (root, apt-get), initializes a data
# directory of its own, starts `mariadbd` on a port of its own (never the
# system's server or socket), creates a database and a user with a
# password, and prints the connection URL (without the password) as the
# last line of stdout. Running it again while the server is up changes
# nothing but the user's password.
#
#   MARIADB_STATE     data, socket, logs, PID files   [/tmp/expman-mariadb]
#   MARIADB_PORT      TCP port on 127.0.0.1           [53307]
#   MARIADB_DATABASE  the database                    [expman]
#   MARIADB_USER      its user                        [expman]
#   MARIADB_PASSWORD  the user's password             [Tq9-team-secret]
#
# Stop it with tests/engines/mariadb-stop.sh, which signals only the PID
# this script recorded.
set -euo pipefail

state="${MARIADB_STATE:-/tmp/expman-mariadb}"
port="${MARIADB_PORT:-53307}"
database="${MARIADB_DATABASE:-expman}"
user="${MARIADB_USER:-expman}"
password="${MARIADB_PASSWORD:-Tq9-team-secret}"
socket="$state/run/mariadbd.sock"
ours="$state/ours.pid"
say() { echo "mariadb-start: $*" >&2; }

# The recorded PID names a live mariadbd (not a zombie, not a reused PID).
ours_alive() {
  local pid stat
  [[ -s "$ours" ]] || return 1
  pid="$(cat "$ours")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "${stat#*(}" == mariadbd* ]] || return 1
  local rest="${stat##*) }"
  [[ "${rest%% *}" != Z ]]
}

if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
  [[ $EUID -eq 0 ]] || { say "mariadb-server is missing; install it (apt-get install mariadb-server)"; exit 1; }
  say "installing mariadb-server"
  # Its package tries to start the system's service and cannot without an
  # init system; that is fine, this script starts its own server.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    mariadb-server mariadb-client >/dev/null
fi

mkdir -p "$state/run" "$state/log"
chown mysql:mysql "$state/run" "$state/log"
if [[ ! -d "$state/data/mysql" ]]; then
  say "initializing $state/data"
  rm -rf "$state/data"
  install -d -o mysql -g mysql -m 0750 "$state/data"
  # --no-defaults everywhere: the system's my.cnf (its datadir, socket,
  # port) must not leak into this server.
  mariadb-install-db --no-defaults --user=mysql --datadir="$state/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$state/log/install.log" 2>&1
fi

if ours_alive; then
  say "already running (pid $(cat "$ours"))"
else
  rm -f "$ours"
  say "starting mariadbd on 127.0.0.1:$port"
  # Started directly (no mysqld_safe), in a session of its own and away
  # from our stdio, so that the PID recorded is the server's.
  setsid mariadbd --no-defaults --user=mysql --datadir="$state/data" --socket="$socket" \
    --pid-file="$state/run/mariadbd.pid" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$state/log/error.log" </dev/null >>"$state/log/stdio.log" 2>&1 &
  echo $! >"$ours"
fi

for _ in $(seq 300); do
  mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1 && break
  ours_alive || { say "mariadbd exited:"; tail -n 20 "$state/log/error.log" >&2 || true; exit 1; }
  sleep 0.2
done
mariadb-admin --no-defaults --socket="$socket" -uroot ping >/dev/null 2>&1 || {
  say "mariadbd did not answer within 60 s:"; tail -n 20 "$state/log/error.log" >&2 || true; exit 1;
}

# The OS root is MariaDB's root over the private socket (unix_socket auth).
mariadb --no-defaults --socket="$socket" -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$database\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$password';
ALTER USER '$user'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$database\`.* TO '$user'@'%';
-- The tests create and drop databases of their own (one per test).
GRANT ALL PRIVILEGES ON \`expman\_%\`.* TO '$user'@'%';
SQL

# As a client will: a password login over TCP.
MYSQL_PWD="$password" mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$port" -u "$user" "$database" \
  -e 'SELECT 1' >/dev/null
say "ready (pid $(cat "$ours"))"
echo "mysql://$user@127.0.0.1:$port/$database"
