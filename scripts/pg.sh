#!/usr/bin/env bash
# PostgreSQL for local runs and tests, in a project-owned data directory on a loopback port.
#
#   scripts/pg.sh install                  install the server (Debian package) when it is missing
#   scripts/pg.sh bindir                   print the directory holding initdb/pg_ctl
#   scripts/pg.sh init DIR [PASSWORD_FILE] create a cluster in DIR (superuser "invexqr"; password
#                                          auth on 127.0.0.1 when PASSWORD_FILE is given, else trust)
#   scripts/pg.sh start DIR PORT           start it (listening on 127.0.0.1:PORT only), wait until ready
#   scripts/pg.sh stop DIR                 stop it (fast: rolls back open transactions, no data loss)
#   scripts/pg.sh free-port [FIRST]        print a free loopback TCP port (from FIRST, default 55432)
#
# PG_EXTRA_OPTIONS (start only): more server options, e.g. "-c shared_preload_libraries=pg_stat_statements".
#
# PostgreSQL refuses to run as root: when we are root, the server runs as the "postgres" user
# (created when missing) and DIR is handed to it.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

install_server() {
  if bindir >/dev/null; then return 0; fi
  echo "pg.sh: PostgreSQL server not found; installing the Debian package..." >&2
  command -v apt-get >/dev/null || die "no PostgreSQL server and no apt-get: install PostgreSQL (initdb, pg_ctl) yourself"
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  bindir >/dev/null || die "PostgreSQL installed but initdb/pg_ctl not found under /usr/lib/postgresql"
}

# Runs a server binary as the postgres user when we are root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

hand_over() { # DIR
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres "$1"; fi
}

free_port() {
  local port=${1:-55432}
  while (( port < 65000 )); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    port=$((port + 1))
  done
  die "no free port found"
}

cmd=${1:-}; shift || true
case "$cmd" in
  install) install_server ;;
  bindir) bindir || die "PostgreSQL server not installed (run: scripts/pg.sh install)" ;;
  init)
    dir=${1:?DIR}; pwfile=${2:-}
    bin=$(bindir) || die "PostgreSQL server not installed (run: scripts/pg.sh install)"
    mkdir -p "$dir"; hand_over "$dir"
    if [[ -n "$pwfile" ]]; then
      hand_over "$pwfile"
      as_owner "$bin/initdb" -D "$dir" -U invexqr --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >/dev/null
    else
      as_owner "$bin/initdb" -D "$dir" -U invexqr --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    ;;
  start)
    dir=${1:?DIR}; port=${2:?PORT}
    bin=$(bindir) || die "PostgreSQL server not installed"
    hand_over "$dir"
    # Tuned for tests and a laptop: no fsync games, just enough connections for several silos.
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 -c shared_buffers=128MB ${PG_EXTRA_OPTIONS:-}" >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start (log: $dir/server.log)"; }
    ;;
  stop)
    dir=${1:?DIR}
    bin=$(bindir) || die "PostgreSQL server not installed"
    if [[ -f "$dir/postmaster.pid" ]]; then as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true; fi
    ;;
  free-port) free_port "${1:-55432}" ;;
  *) die "usage: scripts/pg.sh install|bindir|init DIR [PASSWORD_FILE]|start DIR PORT|stop DIR|free-port [FIRST]" ;;
esac
