#!/usr/bin/env bash
# Automator67 local stack: PostgreSQL, Azurite, Docker engine, a Docker
# registry and the sample images, all on 127.0.0.1 with data in $A67_HOME.
#
#   scripts/stack.sh up       start whatever is not running (idempotent)
#   scripts/stack.sh down     stop what we started (data stays)
#   scripts/stack.sh status   one line per part; exit 0 if all up, 3 otherwise
#   scripts/stack.sh env      export lines for the .NET side (eval "$(...)")
#
# Ports: A67_PG_PORT (54329), A67_AZURITE_BLOB_PORT (10000),
# A67_AZURITE_QUEUE_PORT (10001), A67_AZURITE_TABLE_PORT (10002),
# A67_REGISTRY_PORT (5000). Logs: $A67_HOME/logs/<part>.log.
set -Eeuo pipefail
umask 022 # dirs we create must be traversable by the postgres user
# Remember the last failing command, so that an unexpected `set -e` exit still
# ends with a message (see on_exit) instead of silently.
ERR_AT=""
trap 'ERR_AT="line $LINENO: $BASH_COMMAND"' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
A67_HOME="${A67_HOME:-$ROOT/.a67}"
[[ $A67_HOME == /* ]] || A67_HOME="$PWD/$A67_HOME" # postgres runs from /
LOGS="$A67_HOME/logs"
RUN="$A67_HOME/run"

PG_PORT="${A67_PG_PORT:-54329}"
PG_PASSWORD="a67-local"
PG_DB="automator67"
BLOB_PORT="${A67_AZURITE_BLOB_PORT:-10000}"
QUEUE_PORT="${A67_AZURITE_QUEUE_PORT:-10001}"
TABLE_PORT="${A67_AZURITE_TABLE_PORT:-10002}"
REGISTRY_PORT="${A67_REGISTRY_PORT:-5000}"
REGISTRY="127.0.0.1:$REGISTRY_PORT"
SAMPLE_REPO="a67/sample"
SAMPLE_IMAGE="$REGISTRY/$SAMPLE_REPO"
SAMPLE_SRC="$ROOT/scripts/sample-app"
DOCKER_SOCK="/var/run/docker.sock"
# Bump when the image recipe below changes, so existing images get rebuilt.
IMAGE_RECIPE=1
AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEB_PACKAGES=(postgresql docker.io docker-registry busybox-static iproute2 curl)

CMD="${1:-}"
UP_STARTED=()  # parts started by this `up`; stopped again if `up` fails
UP_DONE=0
POLICY_RC_CREATED=0
REPORTED=0     # an error message was printed already

# ---------------------------------------------------------------- helpers

say() { printf '%-10s %s\n' "$1" "$2"; }

# fail PART "why; fix" [LOG [FROM_LINE]]: the one-line error, then the tail of
# the part's log (only what this run wrote to it), then exit 1 (trap cleans up).
fail() {
    local part=$1 msg=$2 log=${3:-} from=${4:-0}
    REPORTED=1
    printf 'a67: %s %s\n' "$part" "$msg" >&2
    if [[ -n $log && -s $log ]]; then
        printf 'a67: last lines of %s:\n' "$log" >&2
        tail -n "+$((from + 1))" "$log" | tail -n 15 | sed 's/^/    /' >&2
    fi
    exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# Marks the start of a new attempt in a log; echoes its line count so that
# fail() shows only the lines of this attempt.
log_mark() {
    local log=$1
    mkdir -p "$(dirname "$log")"
    touch "$log"
    wc -l <"$log"
    printf -- '----- a67 %s %s\n' "$(date '+%F %T')" "${2:-}" >>"$log"
}

# alive PID: process exists and is not a zombie (our own children stay
# zombies until reaped, and kill -0 still succeeds on them).
alive() {
    local st
    [[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
    st=$(<"/proc/$1/stat") 2>/dev/null || return 1
    st=${st##*) }
    [[ ${st%% *} != Z ]]
}

cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# our_pid PART COMM MARKER: pid of our process for PART. Trusts the pid file
# if it points at a live COMM process whose command line contains MARKER (a
# path under $A67_HOME), otherwise looks for such a process (lost pid file)
# and rewrites the pid file. Prints nothing if none runs.
our_pid() {
    local part=$1 comm=$2 marker=$3 pidf="$RUN/$1.pid" pid f
    if [[ -s $pidf ]]; then
        pid=$(<"$pidf")
        if alive "$pid" && [[ $(<"/proc/$pid/comm") == "$comm" && $(cmdline "$pid") == *"$marker"* ]]; then
            echo "$pid"
            return 0
        fi
    fi
    for f in $(grep -lsaF -- "$marker" /proc/[0-9]*/cmdline 2>/dev/null || true); do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        if alive "$pid" && [[ $(<"/proc/$pid/comm") == "$comm" ]] 2>/dev/null; then
            [[ -d $RUN ]] && echo "$pid" >"$pidf"
            echo "$pid"
            return 0
        fi
    done
    return 0
}

# port_holder PORT: prints "pid N, 'name'" (or "unknown process") and returns
# 0 if something listens on the TCP port; returns 1 if the port is free.
port_holder() {
    local port=$1 line
    if have ss; then
        line=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 1p || true)
        [[ -n $line ]] || return 1
        if [[ $line =~ users:\(\(\"([^\"]*)\",pid=([0-9]+) ]]; then
            echo "pid ${BASH_REMATCH[2]}, '${BASH_REMATCH[1]}'"
        else
            echo "unknown process"
        fi
        return 0
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "unknown process"
        return 0
    fi
    return 1
}

# need_port PART PORT ENVVAR: fail with the one-line error if PORT is taken.
need_port() {
    local holder
    if holder=$(port_holder "$2"); then
        fail "$1" "failed to start: port $2 is in use by another process ($holder); stop it or set $3"
    fi
}

# spawn PART LOG CMD...: run CMD detached (own session, no tty, no inherited
# lock fd) with output appended to LOG; sets SPAWNED_PID.
spawn() {
    local part=$1 log=$2
    shift 2
    setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
    SPAWNED_PID=$!
    UP_STARTED+=("$part")
}

# wait_started PART PID READY_FN LOG FROM WHAT: up to 30 s for READY_FN; a dead process or a timeout fails PART.
wait_started() {
    local part=$1 pid=$2 ready=$3 log=$4 from=$5 what=$6 i
    for ((i = 0; i < 150; i++)); do
        "$ready" && return 0
        alive "$pid" || fail "$part" "failed to start: the process exited; see its log below" "$log" "$from"
        sleep 0.2
    done
    "$ready" || fail "$part" "failed to start: $what did not answer within 30s" "$log" "$from"
}

# stop_simple PART: stops a part found by PART_pid (SIGTERM, then SIGKILL after 20 s) and forgets its pid file.
stop_simple() {
    local part=$1 pid
    pid=$("${part}_pid")
    if [[ -z $pid ]]; then
        rm -f "$RUN/$part.pid"
        say "$part" "not running"
        return 0
    fi
    stop_pid "$part" "$pid" 20
    rm -f "$RUN/$part.pid"
    say "$part" "stopped (pid $pid)"
}

# status_simple PART ADDRESS: running only if PART_pid finds it and PART_ready says it answers.
status_simple() {
    local part=$1 addr=$2 pid
    pid=$("${part}_pid")
    if [[ -n $pid ]] && "${part}_ready"; then
        say "$part" "running  $addr (pid $pid)"
        return 0
    fi
    [[ -n $pid ]] && { say "$part" "not answering  $addr (pid $pid)"; return 1; }
    say "$part" "stopped"
    return 1
}

# stop_pid NAME PID [TIMEOUT]: SIGTERM, wait up to TIMEOUT s, then SIGKILL.
stop_pid() {
    local name=$1 pid=$2 timeout=${3:-20} i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 5; i++)); do
        alive "$pid" || return 0
        sleep 0.2
    done
    echo "a67: $name (pid $pid) did not stop within ${timeout}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do
        alive "$pid" || return 0
        sleep 0.2
    done
}

# curl for our loopback services; never through an http_proxy from the env
lcurl() { curl --noproxy '*' -s -m 5 "$@" 2>/dev/null; }
http_code() { lcurl -o /dev/null -w '%{http_code}' "$1" || true; }

validate_ports() {
    local v val
    for v in A67_PG_PORT A67_AZURITE_BLOB_PORT A67_AZURITE_QUEUE_PORT A67_AZURITE_TABLE_PORT A67_REGISTRY_PORT; do
        val=${!v:-}
        [[ -n $val ]] || continue
        if ! [[ $val =~ ^[0-9]{1,5}$ ]] || ((10#$val < 1 || 10#$val > 65535)); then
            echo "a67: $v='$val' is not a port number; fix or unset it" >&2
            REPORTED=1
            exit 2
        fi
    done
}

# ---------------------------------------------------------------- install

# Keeps package maintainer scripts from starting system services (a system
# postgres/registry/dockerd) during apt-get install; there is no systemd here
# and they would compete with ours.
policy_rc_on() {
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, written by Automator67 scripts/stack.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
}

policy_rc_off() {
    if ((POLICY_RC_CREATED)); then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
}

up_install() {
    local log="$LOGS/install.log" missing=() done=() p st from want have_ver
    # one dpkg-query for all packages: cheap when nothing is missing
    st=$'\n'$(dpkg-query -W -f='${Package} ${Status}\n' "${DEB_PACKAGES[@]}" 2>/dev/null || true)$'\n'
    for p in "${DEB_PACKAGES[@]}"; do
        [[ $st == *$'\n'"$p install ok installed"$'\n'* ]] || missing+=("$p")
    done
    # Azurite needs Node.js and npm; Debian's are recent enough, and a machine that has its own keeps it.
    have npm || missing+=(nodejs npm)
    if ((${#missing[@]})); then
        if ((EUID != 0)); then
            fail install "failed: missing Debian package(s) ${missing[*]} and not running as root; install them by hand: sudo apt-get install ${missing[*]}"
        fi
        from=$(log_mark "$log" "apt-get install ${missing[*]}")
        policy_rc_on
        # update may partly fail (one unreachable repo); the install decides
        DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get update >>"$log" 2>&1 || true
        if ! DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
            policy_rc_off
            if grep -qiE 'Failed to fetch|Temporary failure resolving|Could not resolve|Could not connect|Unable to connect|Network is unreachable|Unable to locate package' <(tail -n "+$((from + 1))" "$log"); then
                fail install "failed: missing Debian package(s) ${missing[*]} and apt-get cannot reach the network; install it by hand: apt-get install ${missing[*]}" "$log" "$from"
            fi
            fail install "failed: apt-get install ${missing[*]} failed; fix the apt problem shown below, then: apt-get install ${missing[*]}" "$log" "$from"
        fi
        policy_rc_off
        done+=("${missing[@]}")
    fi

    # Azurite comes from npm, pinned in package.json/package-lock.json.
    want=$(sed -n 's/.*"azurite": *"\([^"]*\)".*/\1/p' "$ROOT/package.json" 2>/dev/null | sed -n 1p || true)
    have_ver=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/azurite/package.json" 2>/dev/null | sed -n 1p || true)
    [[ -n $want ]] || fail install "failed: $ROOT/package.json does not list azurite; restore it from git"
    if [[ ! -x $ROOT/node_modules/.bin/azurite || $have_ver != "$want" ]]; then
        have npm || fail install "failed: npm is not installed; install it: apt-get install nodejs npm"
        [[ -f $ROOT/package-lock.json ]] || fail install "failed: $ROOT/package-lock.json is missing; restore it from git"
        from=$(log_mark "$log" "npm ci")
        if ! (cd "$ROOT" && npm ci --no-audit --no-fund) >>"$log" 2>&1; then
            fail install "failed: npm ci could not install azurite $want (registry unreachable?); fix npm access, then run: (cd $ROOT && npm ci)" "$log" "$from"
        fi
        done+=("azurite@$want (npm ci)")
    fi

    if ((${#done[@]})); then
        say install "ok  installed ${done[*]}"
    else
        say install "ok  (nothing missing)"
    fi
}

# ---------------------------------------------------------------- postgres

PGBIN=""
PG_DATA="$A67_HOME/pg/data"

pg_find_bin() {
    local d
    PGBIN=""
    while read -r d; do
        [[ -x $d/pg_ctl ]] && PGBIN=$d
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
    [[ -n $PGBIN ]]
}

# as_pg CMD...: run as the postgres OS user when we are root (postgres refuses
# to run as root). cd / first: our cwd may not be readable by postgres.
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# pid of our running postmaster, or nothing (also checks for a stale pid file
# whose pid now belongs to some other process).
pg_pid() {
    local pid
    [[ -s $PG_DATA/postmaster.pid ]] || return 0
    pid=$(sed -n 1p "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    if alive "$pid" && [[ $(<"/proc/$pid/comm") == postgres* ]]; then
        echo "$pid"
    fi
    return 0
}

pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3 >/dev/null 2>&1; }

pg_psql() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_ensure_db() {
    local log=$1 from=$2 exists
    if ! exists=$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" 2>>"$log"); then
        fail postgres "failed: cannot connect as postgres/$PG_PASSWORD to 127.0.0.1:$PG_PORT; if $PG_DATA was created with another password, remove it (scripts/stack.sh down && rm -rf $A67_HOME/pg)" "$log" "$from"
    fi
    if [[ $exists != 1 ]]; then
        pg_psql -c "CREATE DATABASE $PG_DB" >>"$log" 2>&1 ||
            fail postgres "failed: could not create database $PG_DB" "$log" "$from"
    fi
}

# The postgres user must be able to traverse every ancestor of its data dir
# (e.g. a repo cloned under a mode-700 mktemp dir): add only o+x where needed.
pg_fix_traverse() {
    local d="" part parts=() fixed=()
    ((EUID == 0)) || return 0
    IFS=/ read -ra parts <<<"${A67_HOME#/}"
    for part in "${parts[@]}"; do
        [[ -n $part ]] || continue
        d="$d/$part"
        if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
            chmod o+x "$d"
            fixed+=("$d")
        fi
    done
    if ((${#fixed[@]})); then
        say postgres "note: added o+x to ${fixed[*]} so the postgres user can reach $A67_HOME"
    fi
}

pg_initdb() {
    local log=$1 from=$2 pw locale=C
    # a data dir without PG_VERSION is an interrupted initdb: nothing to keep
    rm -rf "$PG_DATA"
    grep -qiE '^c\.utf-?8$' <(locale -a 2>/dev/null) && locale=C.UTF-8
    pw=$(mktemp "$A67_HOME/pg/pwfile.XXXXXX")
    printf '%s\n' "$PG_PASSWORD" >"$pw"
    ((EUID == 0)) && chown postgres: "$pw"
    if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres --pwfile="$pw" --auth=scram-sha-256 \
        --no-sync -E UTF8 --locale="$locale" >>"$log" 2>&1; then
        rm -f "$pw"
        fail postgres "failed: initdb of $PG_DATA failed; see below" "$log" "$from"
    fi
    rm -f "$pw"
    echo "include_if_exists = 'a67.conf'  # written by scripts/stack.sh" >>"$PG_DATA/postgresql.conf"
}

# Settings rewritten on every start (so A67_PG_PORT can change between runs).
pg_write_conf() {
    cat >"$PG_DATA/a67.conf" <<EOF
# Written by scripts/stack.sh on every start. Local dev/test cluster only:
# TCP on loopback, no unix socket (avoids socket path limits), no durability.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    chmod 600 "$PG_DATA/a67.conf"
    ((EUID == 0)) && chown postgres: "$PG_DATA/a67.conf"
    return 0
}

up_postgres() {
    local log="$LOGS/postgres.log" from pid ver
    pg_find_bin || fail postgres "failed to start: no PostgreSQL binaries in /usr/lib/postgresql/*/bin; install them: apt-get install postgresql"
    pid=$(pg_pid)
    if [[ -n $pid ]]; then
        pg_ready || fail postgres "is running (pid $pid, data $PG_DATA) but does not answer on 127.0.0.1:$PG_PORT; did A67_PG_PORT change? run scripts/stack.sh down, then up"
        pg_ensure_db "$log" 0
        echo "$pid" >"$RUN/postgres.pid"
        say postgres "already running  127.0.0.1:$PG_PORT (pid $pid)"
        return 0
    fi
    need_port postgres "$PG_PORT" A67_PG_PORT
    if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
        fail postgres "failed to start: OS user 'postgres' is missing; reinstall: apt-get install --reinstall postgresql-common"
    fi
    mkdir -p "$A67_HOME/pg"
    ((EUID == 0)) && chown postgres: "$A67_HOME/pg"
    pg_fix_traverse
    from=$(log_mark "$log" "start")
    ((EUID == 0)) && chown postgres: "$log"
    if [[ ! -s $PG_DATA/PG_VERSION ]]; then
        pg_initdb "$log" "$from"
    fi
    ver=$(<"$PG_DATA/PG_VERSION")
    if [[ $PGBIN != "/usr/lib/postgresql/$ver/bin" ]]; then
        [[ -x /usr/lib/postgresql/$ver/bin/pg_ctl ]] ||
            fail postgres "failed to start: $PG_DATA is a PostgreSQL $ver cluster but only $PGBIN exists; remove $A67_HOME/pg or install postgresql-$ver"
        PGBIN="/usr/lib/postgresql/$ver/bin"
    fi
    pg_write_conf
    rm -f "$PG_DATA/postmaster.pid" # stale: pg_pid found no live postmaster
    UP_STARTED+=(postgres)
    # shellcheck disable=SC2094 # pg_ctl and the server both append to the log
    if ! as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$log" -w -t 60 start >>"$log" 2>&1 9>&-; then
        fail postgres "failed to start; see the server log below" "$log" "$from"
    fi
    pid=$(pg_pid)
    echo "$pid" >"$RUN/postgres.pid"
    pg_ensure_db "$log" "$from"
    say postgres "up  127.0.0.1:$PG_PORT (pid $pid)"
}

stop_postgres() {
    local pid
    pg_find_bin || true
    pid=$(pg_pid)
    if [[ -z $pid ]]; then
        rm -f "$RUN/postgres.pid"
        say postgres "not running"
        return 0
    fi
    local bin=$PGBIN ver
    ver=$(cat "$PG_DATA/PG_VERSION" 2>/dev/null || true)
    [[ -n $ver && -x /usr/lib/postgresql/$ver/bin/pg_ctl ]] && bin="/usr/lib/postgresql/$ver/bin"
    if ! as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 20 stop >>"$LOGS/postgres.log" 2>&1; then
        as_pg "$bin/pg_ctl" -D "$PG_DATA" -m immediate -w -t 10 stop >>"$LOGS/postgres.log" 2>&1 ||
            stop_pid postgres "$pid" 5
    fi
    rm -f "$RUN/postgres.pid"
    say postgres "stopped (pid $pid)"
}

status_postgres() {
    local pid
    pg_find_bin || { say postgres "stopped (no PostgreSQL binaries)"; return 1; }
    pid=$(pg_pid)
    if [[ -n $pid ]] && pg_ready; then
        say postgres "running  127.0.0.1:$PG_PORT (pid $pid)"
        return 0
    fi
    [[ -n $pid ]] && { say postgres "not answering  127.0.0.1:$PG_PORT (pid $pid)"; return 1; }
    say postgres "stopped"
    return 1
}

# ---------------------------------------------------------------- azurite

AZ_DIR="$A67_HOME/azurite"

azurite_pid() { our_pid azurite node "$AZ_DIR"; }
azurite_ready() { [[ $(http_code "http://127.0.0.1:$QUEUE_PORT/devstoreaccount1?comp=list") != 000 ]]; }
azurite_addr() { echo "127.0.0.1:$BLOB_PORT/$QUEUE_PORT/$TABLE_PORT (blob/queue/table)"; }

up_azurite() {
    local log="$LOGS/azurite.log" from pid i
    pid=$(azurite_pid)
    if [[ -n $pid ]]; then
        for ((i = 0; i < 30; i++)); do azurite_ready && break; sleep 1; done
        azurite_ready || fail azurite "is running (pid $pid) but its queue port $QUEUE_PORT does not answer; did a port change? run scripts/stack.sh down, then up" "$log"
        say azurite "already running  $(azurite_addr) (pid $pid)"
        return 0
    fi
    need_port azurite "$BLOB_PORT" A67_AZURITE_BLOB_PORT
    need_port azurite "$QUEUE_PORT" A67_AZURITE_QUEUE_PORT
    need_port azurite "$TABLE_PORT" A67_AZURITE_TABLE_PORT
    mkdir -p "$AZ_DIR"
    from=$(log_mark "$log" "start")
    # --disableTelemetry: with telemetry on, azurite does not exit on SIGTERM
    spawn azurite "$log" "$ROOT/node_modules/.bin/azurite" --silent --disableTelemetry \
        --skipApiVersionCheck --loose --location "$AZ_DIR" \
        --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
        --blobPort "$BLOB_PORT" --queuePort "$QUEUE_PORT" --tablePort "$TABLE_PORT"
    pid=$SPAWNED_PID
    echo "$pid" >"$RUN/azurite.pid"
    wait_started azurite "$pid" azurite_ready "$log" "$from" "queue port $QUEUE_PORT"
    say azurite "up  $(azurite_addr) (pid $pid)"
}

stop_azurite() { stop_simple azurite; }

status_azurite() { status_simple azurite "$(azurite_addr)"; }

# ---------------------------------------------------------------- docker

DOCKER_DATA="$A67_HOME/docker"

# exec-root holds unix sockets (containerd, plugins); socket paths are limited
# to 108 bytes, so use a short path under /run when $A67_HOME is long.
docker_exec_root() {
    local p="$A67_HOME/docker-exec"
    if ((${#p} > 40)); then
        p="/run/a67-docker-$(printf '%s' "$A67_HOME" | sha256sum | cut -c1-10)"
    fi
    echo "$p"
}

dockerd_pid() { our_pid dockerd dockerd "$DOCKER_DATA"; }
docker_ok() { timeout 5 docker info >/dev/null 2>&1; }

# unix_sock_holder PATH: "pid N, 'name'" of the process listening on a socket.
unix_sock_holder() {
    local line
    have ss || return 1
    line=$(ss -Hxlp src "$1" 2>/dev/null | sed -n 1p || true)
    [[ -n $line ]] || return 1
    if [[ $line =~ users:\(\(\"([^\"]*)\",pid=([0-9]+) ]]; then
        echo "pid ${BASH_REMATCH[2]}, '${BASH_REMATCH[1]}'"
    else
        echo "unknown process"
    fi
}

up_docker() {
    local log="$LOGS/dockerd.log" from pid holder exec_root i
    have docker || fail docker "failed: no docker client on PATH; install it: apt-get install docker.io"
    pid=$(dockerd_pid)
    if [[ -n $pid ]]; then
        for ((i = 0; i < 12; i++)); do docker_ok && break; sleep 0.5; done
        docker_ok || fail docker "dockerd (pid $pid, started by a67) does not answer on $DOCKER_SOCK; run scripts/stack.sh down, then up" "$log"
        say docker "already running  unix://$DOCKER_SOCK (pid $pid)"
        return 0
    fi
    if docker_ok; then
        # someone else's engine: use it, never stop it
        say docker "up  (existing engine)"
        return 0
    fi
    if [[ -n ${DOCKER_HOST:-} && $DOCKER_HOST != "unix://$DOCKER_SOCK" ]]; then
        fail docker "failed: DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST"
    fi
    ((EUID == 0)) || fail docker "failed to start: no docker engine answers and starting dockerd needs root; run as root or start docker"
    have dockerd || fail docker "failed to start: dockerd is missing; install it: apt-get install docker.io"
    if [[ -S $DOCKER_SOCK || -e $DOCKER_SOCK ]]; then
        if holder=$(unix_sock_holder "$DOCKER_SOCK"); then
            fail docker "failed to start: $DOCKER_SOCK is held by another process ($holder) that does not answer 'docker info'; stop or fix it"
        fi
        rm -f "$DOCKER_SOCK" # stale socket of a dead engine
    fi
    # A stale system containerd socket would make dockerd try to use it.
    if [[ -S /run/containerd/containerd.sock ]] && ! unix_sock_holder /run/containerd/containerd.sock >/dev/null; then
        rm -f /run/containerd/containerd.sock
    fi
    exec_root=$(docker_exec_root)
    docker_kill_leftovers "$exec_root" # of an earlier dockerd of ours that died
    docker_unmount "$exec_root"
    mkdir -p "$DOCKER_DATA" "$exec_root"
    rm -f "$RUN/dockerd.pid" # stale (dockerd_pid found no live process)
    # our own (empty) daemon.json: /etc/docker/daemon.json could conflict with the flags
    echo '{}' >"$A67_HOME/dockerd.json"
    from=$(log_mark "$log" "start")
    spawn docker "$log" dockerd --config-file "$A67_HOME/dockerd.json" \
        --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
        --data-root "$DOCKER_DATA" --exec-root "$exec_root" \
        --pidfile "$RUN/dockerd.pid" --shutdown-timeout 5 --host "unix://$DOCKER_SOCK"
    pid=$SPAWNED_PID
    DOCKERD_SPAWNED_PID=$pid
    for ((i = 0; i < 120; i++)); do # 60 s
        docker_ok && break
        alive "$pid" || fail docker "failed to start: dockerd exited; see its log below" "$log" "$from"
        sleep 0.5
    done
    docker_ok || fail docker "failed to start: dockerd did not answer 'docker info' within 60s" "$log" "$from"
    say docker "up  unix://$DOCKER_SOCK (pid $pid)"
}

# dockerd leaves mounts behind (<exec-root>/netns/default, the host netns of
# --network host containers; after a hard kill also the private bind mount of
# its data-root); unmount them, innermost first, so that nothing of ours
# stays mounted and $A67_HOME can be deleted.
docker_unmount() {
    local exec_root=$1 mnt
    while read -r _ mnt _; do
        case "$mnt" in
        "$exec_root" | "$exec_root"/* | "$DOCKER_DATA" | "$DOCKER_DATA"/*) umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true ;;
        esac
    done < <(tac /proc/self/mounts)
}

# Leftovers of a dockerd of ours that died hard (SIGKILL, crash): its
# containerd and shims (found by our exec-root on their command line) and the
# containers under them. Sets LEFTOVERS to how many processes were stopped.
docker_kill_leftovers() {
    local exec_root=$1 f p c pids=() shims=()
    LEFTOVERS=0
    for f in $(grep -lsaF -- "$exec_root" /proc/[0-9]*/cmdline 2>/dev/null || true); do
        p=${f#/proc/}
        p=${p%/cmdline}
        case "$(cat "/proc/$p/comm" 2>/dev/null)" in
        containerd-shim*) shims+=("$p") ;;
        containerd) pids+=("$p") ;;
        esac
    done
    for p in "${shims[@]}"; do
        # a container's init is a child of its shim; killing it ends the container
        for c in $(ps -o pid= --ppid "$p" 2>/dev/null || true); do
            kill -KILL "$c" 2>/dev/null && LEFTOVERS=$((LEFTOVERS + 1))
        done
    done
    for p in "${shims[@]}" "${pids[@]}"; do
        stop_pid containerd "$p" 10
        LEFTOVERS=$((LEFTOVERS + 1))
    done
}

# Only a dockerd that we started (pid file + our data-root on its command line).
stop_docker() {
    local pid exec_root
    exec_root=$(docker_exec_root)
    pid=$(dockerd_pid)
    [[ -z $pid && -n ${DOCKERD_SPAWNED_PID:-} ]] && alive "$DOCKERD_SPAWNED_PID" && pid=$DOCKERD_SPAWNED_PID
    # dockerd stops its containers (--shutdown-timeout 5), then its containerd
    [[ -n $pid ]] && stop_pid dockerd "$pid" 40
    docker_kill_leftovers "$exec_root"
    docker_unmount "$exec_root"
    rm -f "$RUN/dockerd.pid"
    if [[ -n $pid ]]; then
        say docker "stopped (pid $pid)"
    elif ((LEFTOVERS)); then
        say docker "stopped $LEFTOVERS leftover process(es) of a dockerd that died"
    elif docker_ok; then
        say docker "not ours (existing engine, left alone)"
    else
        say docker "not running"
    fi
}

status_docker() {
    local pid
    pid=$(dockerd_pid)
    if [[ -n $pid ]] && docker_ok; then
        say docker "running  unix://$DOCKER_SOCK (pid $pid, started by a67)"
        return 0
    fi
    [[ -n $pid ]] && { say docker "not answering  unix://$DOCKER_SOCK (pid $pid)"; return 1; }
    if docker_ok; then
        say docker "running  (existing engine)"
        return 0
    fi
    say docker "stopped"
    return 1
}

# ---------------------------------------------------------------- registry

REG_DIR="$A67_HOME/registry"
REG_CONFIG="$REG_DIR/config.yml"

registry_pid() { our_pid registry docker-registry "$REG_CONFIG"; }
registry_ready() { lcurl -f -o /dev/null "http://$REGISTRY/v2/"; }

up_registry() {
    local log="$LOGS/registry.log" from pid i
    pid=$(registry_pid)
    if [[ -n $pid ]]; then
        for ((i = 0; i < 20; i++)); do registry_ready && break; sleep 0.5; done
        registry_ready || fail registry "is running (pid $pid) but http://$REGISTRY/v2/ does not answer; did A67_REGISTRY_PORT change? run scripts/stack.sh down, then up" "$log"
        say registry "already running  $REGISTRY (pid $pid)"
        return 0
    fi
    have docker-registry || fail registry "failed to start: docker-registry is missing; install it: apt-get install docker-registry"
    need_port registry "$REGISTRY_PORT" A67_REGISTRY_PORT
    mkdir -p "$REG_DIR/data"
    cat >"$REG_CONFIG" <<EOF
# Written by scripts/stack.sh. Local registry: loopback only, plain HTTP
# (docker allows insecure registries on 127.0.0.0/8), no auth.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
    from=$(log_mark "$log" "start")
    spawn registry "$log" docker-registry serve "$REG_CONFIG"
    pid=$SPAWNED_PID
    echo "$pid" >"$RUN/registry.pid"
    wait_started registry "$pid" registry_ready "$log" "$from" "http://$REGISTRY/v2/"
    say registry "up  $REGISTRY (pid $pid)"
}

stop_registry() { stop_simple registry; }

status_registry() { status_simple registry "$REGISTRY"; }

# ---------------------------------------------------------------- images

IMG_DIR="$A67_HOME/images"
BUSYBOX=/bin/busybox
APPLETS=(sh httpd sleep cat echo env wget nc ls mkdir date hostname printf test true false kill ps grep sed head tail)

# "tag mode" lines from scripts/sample-app/versions
sample_versions() { grep -vE '^[[:space:]]*(#|$)' "$SAMPLE_SRC/versions"; }

sample_tags() { lcurl "http://$REGISTRY/v2/$SAMPLE_REPO/tags/list" || true; }

# Content hash of everything that goes into one image.
sample_hash() {
    local tag=$1 mode=$2
    {
        echo "recipe=$IMAGE_RECIPE tag=$tag mode=$mode applets=${APPLETS[*]}"
        sha256sum "$BUSYBOX" "$SAMPLE_SRC"/start.sh "$SAMPLE_SRC"/index.html "$SAMPLE_SRC"/healthz | cut -d' ' -f1
    } | sha256sum | cut -d' ' -f1
}

build_sample() {
    local tag=$1 mode=$2 log=$3 rootfs="$IMG_DIR/rootfs-$1" a
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,app,www,etc,tmp,root}
    chmod 1777 "$rootfs/tmp"
    cp "$BUSYBOX" "$rootfs/bin/busybox"
    for a in "${APPLETS[@]}"; do ln -s busybox "$rootfs/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    install -m 755 "$SAMPLE_SRC/start.sh" "$rootfs/app/start.sh"
    echo "$mode" >"$rootfs/app/mode"
    sed "s/@VERSION@/$tag/g" "$SAMPLE_SRC/index.html" >"$rootfs/www/index.html"
    cp "$SAMPLE_SRC/healthz" "$rootfs/www/healthz"
    echo "$tag" >"$rootfs/www/version"
    # deterministic tar (sorted, fixed mtime/owner): same layer digest on rebuild
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -c . |
        docker import -m "automator67 sample $tag" \
            --change "ENV PORT=8080" --change "ENV VERSION=$tag" --change "EXPOSE 8080" \
            --change 'CMD ["/bin/sh","/app/start.sh"]' - "$SAMPLE_IMAGE:$tag" >>"$log" 2>&1 &&
        docker push "$SAMPLE_IMAGE:$tag" >>"$log" 2>&1
}

up_images() {
    local log="$LOGS/images.log" from tags tag mode hash built=() all=()
    [[ -x $BUSYBOX ]] || fail images "failed: $BUSYBOX is missing; install it: apt-get install busybox-static"
    [[ -f $SAMPLE_SRC/versions ]] || fail images "failed: $SAMPLE_SRC/versions is missing; restore scripts/sample-app from git"
    mkdir -p "$IMG_DIR"
    tags=$(sample_tags)
    from=0
    while read -r tag mode _; do
        all+=("$tag")
        hash=$(sample_hash "$tag" "$mode")
        # skip only if stamp matches, the registry has the tag and the engine has the image
        if [[ $(cat "$IMG_DIR/$tag.sha" 2>/dev/null) == "$hash" && $tags == *"\"$tag\""* ]] &&
            docker image inspect "$SAMPLE_IMAGE:$tag" >/dev/null 2>&1; then
            continue
        fi
        [[ ${#built[@]} -gt 0 ]] || from=$(log_mark "$log" "build")
        rm -f "$IMG_DIR/$tag.sha"
        build_sample "$tag" "$mode" "$log" ||
            fail images "failed: could not build/push $SAMPLE_IMAGE:$tag; see below (is the registry at $REGISTRY up?)" "$log" "$from"
        echo "$hash" >"$IMG_DIR/$tag.sha"
        built+=("$tag")
    done < <(sample_versions)
    if ((${#built[@]})); then
        say images "up  $SAMPLE_IMAGE:{$(IFS=,; echo "${all[*]}")} (built+pushed ${built[*]})"
    else
        say images "already pushed  $SAMPLE_IMAGE:{$(IFS=,; echo "${all[*]}")}"
    fi
}

status_images() {
    local tags tag mode missing=() all=()
    if ! registry_ready; then
        say images "unknown (registry down)"
        return 1
    fi
    tags=$(sample_tags)
    while read -r tag mode _; do
        all+=("$tag")
        [[ $tags == *"\"$tag\""* ]] || missing+=("$tag")
    done < <(sample_versions)
    if ((${#missing[@]})); then
        say images "missing  $SAMPLE_IMAGE:{$(IFS=,; echo "${missing[*]}")} (run scripts/stack.sh up)"
        return 1
    fi
    say images "present  $SAMPLE_IMAGE:{$(IFS=,; echo "${all[*]}")}"
}

# ---------------------------------------------------------------- commands

lock() {
    mkdir -p "$RUN" "$LOGS"
    exec 9>"$RUN/stack.lock"
    if ! flock -w 600 9; then
        echo "a67: another scripts/stack.sh up/down is still running (lock $RUN/stack.lock); wait for it or stop it" >&2
        REPORTED=1
        exit 1
    fi
}

# EXIT trap: restore apt's policy-rc.d, name an unexpected failure, and when
# `up` fails, stop what this invocation started (nothing half-started stays).
on_exit() {
    local rc=$? i
    set +e
    policy_rc_off
    if ((rc != 0 && !REPORTED)); then
        echo "a67: $CMD failed unexpectedly (exit $rc; last failing command at ${ERR_AT:-unknown}); see $LOGS" >&2
    fi
    if [[ $CMD == up ]] && ((!UP_DONE && ${#UP_STARTED[@]})); then
        echo "a67: stopping what this run started: ${UP_STARTED[*]}" >&2
        for ((i = ${#UP_STARTED[@]} - 1; i >= 0; i--)); do
            "stop_${UP_STARTED[i]}" >/dev/null 2>&1
        done
    fi
    exit "$rc"
}

cmd_up() {
    lock
    up_install
    up_postgres
    up_azurite
    up_docker
    up_registry
    up_images
    UP_DONE=1
}

cmd_down() {
    lock
    stop_registry
    stop_docker
    stop_azurite
    stop_postgres
}

cmd_status() {
    local rc=0
    status_postgres || rc=3
    status_azurite || rc=3
    status_docker || rc=3
    status_registry || rc=3
    status_images || rc=3
    REPORTED=1 # exit 3 is the answer, not an error
    return "$rc"
}

cmd_env() {
    cat <<EOF
export A67_HOME='$A67_HOME'
export A67_PG_PORT='$PG_PORT'
export A67_POSTGRES='Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Password=$PG_PASSWORD;Database=$PG_DB'
export A67_STORAGE='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$BLOB_PORT/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$QUEUE_PORT/devstoreaccount1;TableEndpoint=http://127.0.0.1:$TABLE_PORT/devstoreaccount1;'
export A67_REGISTRY='$REGISTRY'
export A67_SAMPLE_IMAGE='$SAMPLE_IMAGE'
EOF
}

main() {
    trap on_exit EXIT
    trap 'REPORTED=1; echo "a67: $CMD interrupted" >&2; exit 130' INT TERM HUP
    validate_ports
    case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        echo "usage: scripts/stack.sh up|down|status|env" >&2
        REPORTED=1
        exit 2
        ;;
    esac
}

main "$@"
