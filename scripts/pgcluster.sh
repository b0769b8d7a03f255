#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for development and tests.
#
#   pgcluster.sh start <dir> [port] [--no-fsync]   init if needed, start, print DATABASE_URL
#   pgcluster.sh stop  <dir>                        stop it (no-op when not running)
#   pgcluster.sh status <dir>                       exit 0 and print the URL when running
#   pgcluster.sh url <dir>                          print the URL of the running cluster
#   pgcluster.sh destroy <dir>                      stop it and delete its files
#
# Layout: <dir>/data (PGDATA), <dir>/postgres.log, <dir>/cluster.env (port
# and socket dir of the last start). The server listens on 127.0.0.1:<port>
# and on a unix socket in <dir>/sock, or in /tmp/vmdb-pg-<hash> when <dir> is
# too long for the 107-byte socket path limit. Authentication is `trust` for
# local connections (unix socket and 127.0.0.1 only).
#
# port: default is the port of the last start, else 54329; `auto` (or 0)
# picks a free one. --no-fsync (or PGCLUSTER_NO_FSYNC=1) turns off fsync,
# synchronous_commit and full_page_writes: fast, and unsafe on a crash, for
# tests only.
#
# PostgreSQL refuses to run as root: as root every server command runs as the
# `postgres` user (installed with postgresql-15), which then owns the cluster
# files. If that user cannot reach <dir> (for example under /root, mode 700),
# the cluster lives in /var/tmp/vmdb-pgcluster-<hash> instead, <dir> holds a
# file `location` pointing there, and a note says so on stderr.
#
# Prints only the URL on stdout; everything else goes to stderr.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DEFAULT_PORT=54329

die() { echo "pgcluster: $*" >&2; exit 1; }
note() { echo "pgcluster: $*" >&2; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1; shift
dir=""; port=""; nofsync=${PGCLUSTER_NO_FSYNC:-0}
for a in "$@"; do
  case "$a" in
    --no-fsync) nofsync=1 ;;
    --fsync) nofsync=0 ;;
    -*) die "unknown option $a" ;;
    *) if [ -z "$dir" ]; then dir=$a; elif [ -z "$port" ]; then port=$a; else usage; fi ;;
  esac
done
[ -n "$dir" ] || usage
[ -x "$PGBIN/pg_ctl" ] || die "PostgreSQL 15 server binaries not found in $PGBIN (apt-get install postgresql-15)"

# --- who runs the server ---------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (apt-get install postgresql-15)"
  PGUSER_OS=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGUSER_OS=$(id -un)
  as_pg() { "$@"; }
fi

if [ "$cmd" = start ]; then
  mkdir -p "$dir"
elif [ ! -d "$dir" ]; then
  note "no cluster in $dir"
  case "$cmd" in stop|destroy) exit 0 ;; *) exit 3 ;; esac
fi
dir=$(cd "$dir" && pwd -P)
hash8=$(printf '%s' "$dir" | sha256sum | cut -c1-10)

# --- where the cluster really lives ----------------------------------------
home=$dir
if [ -f "$dir/location" ]; then
  home=$(cat "$dir/location")
elif [ "$(id -u)" -eq 0 ] && ! as_pg test -x "$dir" 2>/dev/null; then
  home=/var/tmp/vmdb-pgcluster-$hash8
  if [ "$cmd" = start ]; then
    note "user postgres cannot reach $dir; keeping the cluster in $home instead"
    echo "$home" > "$dir/location"
  fi
fi
if [ "$cmd" = start ]; then
  mkdir -p "$home"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$home"
    # Directories the postgres user must traverse: make sure it can.
    as_pg test -w "$home" || die "user postgres cannot write $home"
  fi
  chmod 700 "$home"
fi
PGDATA=$home/data
LOG=$home/postgres.log
ENVFILE=$home/cluster.env

running() { [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; }

# Port of the running server, from postmaster.pid (line 4).
running_port() { as_pg sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null; }

url_for() { echo "postgres://$PGUSER_OS@127.0.0.1:$1/postgres"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if port_free "$p"; then echo "$p"; return; fi
  done
  die "no free port found"
}

case "$cmd" in
  start)
    if running; then
      p=$(running_port)
      note "already running on port $p ($PGDATA)"
      url_for "$p"
      exit 0
    fi
    if [ -z "$port" ] && [ -f "$ENVFILE" ]; then
      port=$(sed -n 's/^PORT=//p' "$ENVFILE")
    fi
    port=${port:-$DEFAULT_PORT}
    if [ "$port" = auto ] || [ "$port" = 0 ]; then port=$(pick_port); fi
    case "$port" in *[!0-9]*|"") die "bad port '$port'" ;; esac
    port_free "$port" || die "port $port on 127.0.0.1 is in use"

    # Unix socket: <home>/sock unless the full socket path would not fit
    # (sun_path is 108 bytes including the NUL).
    sockdir=$home/sock
    if [ $(( ${#sockdir} + ${#port} + 12 )) -gt 100 ]; then
      sockdir=/tmp/vmdb-pg-$hash8
    fi
    mkdir -p "$sockdir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$sockdir"
    chmod 700 "$sockdir"

    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      note "initdb $PGDATA"
      # Create as the server user so a root umask/ownership cannot get in the way.
      as_pg "$PGBIN/initdb" -D "$PGDATA" -U "$PGUSER_OS" --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 \
        || { cat "$home/initdb.log" >&2; die "initdb failed"; }
      as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null <<'EOF'

# --- added by scripts/pgcluster.sh (private development cluster) ---
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
log_min_error_statement = panic
log_line_prefix = '%m [%p] '
EOF
    fi
    printf 'PORT=%s\nSOCKET_DIR=%s\nPGDATA=%s\n' "$port" "$sockdir" "$PGDATA" > "$ENVFILE"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$ENVFILE"

    opts="-c port=$port -c unix_socket_directories=$sockdir -c listen_addresses=127.0.0.1"
    if [ "$nofsync" = 1 ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_pg touch "$LOG"
    if ! as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$LOG" -w -t 60 -o "$opts" >/dev/null; then
      tail -n 20 "$LOG" >&2 || true
      die "pg_ctl start failed (log: $LOG)"
    fi
    note "started on 127.0.0.1:$port, socket $sockdir, data $PGDATA$([ "$nofsync" = 1 ] && echo ', fsync off')"
    url_for "$port"
    ;;
  stop)
    if running; then
      as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 >/dev/null
      note "stopped ($PGDATA)"
    else
      note "not running ($PGDATA)"
    fi
    ;;
  destroy)
    if running; then
      as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m immediate -w -t 60 >/dev/null
    fi
    sockdir=$(sed -n 's/^SOCKET_DIR=//p' "$ENVFILE" 2>/dev/null || true)
    case "$sockdir" in /tmp/vmdb-pg-*) rm -rf "$sockdir" ;; esac
    [ "$home" = "$dir" ] || rm -rf "$home"
    rm -rf "$dir"
    note "destroyed $dir"
    ;;
  status|url)
    if running; then url_for "$(running_port)"; else note "not running ($PGDATA)"; exit 3; fi
    ;;
  *) usage ;;
esac
