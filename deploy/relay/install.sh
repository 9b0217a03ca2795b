#!/usr/bin/env bash
# Installs, enrols, upgrades or removes the Automator67 relay on a Debian or Ubuntu host that runs Docker, as a
# systemd service (docs/relay-install.md). Idempotent: run it again to upgrade, or to enrol a host installed earlier.
#
#   sudo ./install.sh --from node-relay-0.1.0-linux-x64.tar.gz --url https://a67.example.com --token a67_join_…
#   sudo ./install.sh --from https://releases.example.com/node-relay-0.1.0-linux-x64.tar.gz --sha256 HEX
#   sudo ./install.sh --uninstall [--purge]
#
# Options:
#   --from SOURCE          the relay: a release tarball, its https URL, or a folder holding `dotnet publish` output
#                          (needed for the first install and for upgrades)
#   --sha256 HEX           expected SHA-256 of the tarball (checked before anything is unpacked)
#   --url URL              the control plane's address, to enrol this host      (or A67_CONTROL_PLANE_URL)
#   --token TOKEN          a join token from POST /api/nodes/join-tokens         (or A67_JOIN_TOKEN, which `ps` cannot see)
#   --docker-socket PATH   the Docker Engine's socket (default /var/run/docker.sock)
#   --bridge-network NAME  the Docker network of bridge-mode replicas (Relay__BridgeNetwork)
#   --no-start             install (and enrol) but do not start the service
#   --root DIR             install into DIR as if it were / (packaging, tests): no user is created, nothing is chowned,
#                          systemd is not touched, enrolment runs as the calling user
#   --uninstall            stop and remove the service and the program; the node's identity, settings and user stay
#   --purge                with --uninstall: also delete the identity (state folder), the settings and the user
set -Eeuo pipefail
umask 022

SERVICE=automator67-relay
RELAY_USER=automator67-relay
DOCKER_GROUP=docker
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

FROM="" SHA256="" CP_URL="${A67_CONTROL_PLANE_URL:-}" TOKEN="${A67_JOIN_TOKEN:-}" DOCKER_SOCKET="" BRIDGE_NETWORK=""
NO_START=0 ROOT="" UNINSTALL=0 PURGE=0
WORK=""

say() { printf 'relay-install: %s\n' "$*"; }
die() { printf 'relay-install: %s\n' "$*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
cleanup() { [[ -z $WORK ]] || rm -rf "$WORK"; }
trap cleanup EXIT

while (($#)); do
    case $1 in
    --from) FROM=${2:?--from needs a value}; shift 2 ;;
    --sha256) SHA256=${2:?--sha256 needs a value}; shift 2 ;;
    --url) CP_URL=${2:?--url needs a value}; shift 2 ;;
    --token) TOKEN=${2:?--token needs a value}; shift 2 ;;
    --docker-socket) DOCKER_SOCKET=${2:?--docker-socket needs a value}; shift 2 ;;
    --bridge-network) BRIDGE_NETWORK=${2:?--bridge-network needs a value}; shift 2 ;;
    --no-start) NO_START=1; shift ;;
    --root) ROOT=${2:?--root needs a value}; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1'; see --help" ;;
    esac
done

if [[ -n $ROOT ]]; then
    [[ -d $ROOT ]] || die "--root $ROOT is not a folder"
    ROOT=$(cd "$ROOT" && pwd)
fi
# The paths the service sees, and where this run writes them (the same unless --root).
PROGRAM=/opt/automator67-relay
CONFIG=/etc/automator67
STATE=/var/lib/automator67-relay
UNIT=/etc/systemd/system/$SERVICE.service
R_PROGRAM=$ROOT$PROGRAM R_CONFIG=$ROOT$CONFIG R_STATE=$ROOT$STATE R_UNIT=$ROOT$UNIT
ENV_FILE=$R_CONFIG/relay.env

real_install() { [[ -z $ROOT ]]; }
systemd_running() { real_install && [[ -d /run/systemd/system ]]; }

# as_relay CMD...: runs CMD as the relay's user, with the service's environment, from its working folder.
as_relay() {
    local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "HOME=$STATE" "Relay__StateDirectory=$R_STATE")
    local line
    if [[ -r $ENV_FILE ]]; then
        while IFS= read -r line; do
            [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && env+=("$line")
        done <"$ENV_FILE"
    fi
    [[ -z $ROOT ]] || env+=("Relay__StateDirectory=$R_STATE") # relay.env names the real path; --root redirects it
    if real_install; then
        (cd "$R_CONFIG" && runuser -u "$RELAY_USER" -- env -i "${env[@]}" "$@")
    else
        (cd "$R_CONFIG" && env -i "${env[@]}" "$@")
    fi
}

node_line() { # "name (id)" from the state file, or nothing
    local file=$R_STATE/node.json name id
    [[ -r $file ]] || return 0
    name=$(grep -o '"name": *"[^"]*"' "$file" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/')
    id=$(grep -o '"nodeId": *"[^"]*"' "$file" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/')
    echo "$name ($id)"
}

# ------------------------------------------------------------------ uninstall

uninstall() {
    local node
    if systemd_running; then
        systemctl disable --now "$SERVICE.service" >/dev/null 2>&1 || true
    fi
    rm -f "$R_UNIT"
    if systemd_running; then systemctl daemon-reload; fi
    rm -rf "$R_PROGRAM" "$R_PROGRAM.previous" "$R_PROGRAM.new"
    say "removed the service and $PROGRAM"
    node=$(node_line)
    if ((PURGE)); then
        rm -rf "$R_STATE"
        rm -f "$ENV_FILE"
        rmdir "$R_CONFIG" 2>/dev/null || true
        say "purged the node's identity ($STATE) and $CONFIG/relay.env"
        if real_install && getent passwd "$RELAY_USER" >/dev/null; then
            userdel "$RELAY_USER"
            say "removed the user $RELAY_USER"
        fi
    else
        say "kept the node's identity ($STATE), $CONFIG/relay.env and the user $RELAY_USER (--purge deletes them)"
    fi
    if [[ -n $node ]]; then
        local id=${node##*(}
        say "node $node is still known to the control plane: delete it there (DELETE /api/nodes/${id%)}) to revoke its credentials"
    fi
}

# ------------------------------------------------------------------ install

# fetch: puts the relay's files in $PAYLOAD (a folder holding node-relay and node-relay.dll).
fetch() {
    local archive="" found
    WORK=$(mktemp -d)
    case $FROM in
    https://* | http://*)
        [[ $FROM == https://* || -n $SHA256 ]] || die "--from $FROM is plain http: give --sha256 too, or use https"
        archive=$WORK/relay.tar.gz
        if command -v curl >/dev/null; then
            curl -fsSL --proto '=https,http' -o "$archive" "$FROM" || die "could not download $FROM"
        elif command -v wget >/dev/null; then
            wget -q -O "$archive" "$FROM" || die "could not download $FROM"
        else
            die "neither curl nor wget is installed: apt-get install curl"
        fi
        ;;
    *)
        if [[ -d $FROM ]]; then
            PAYLOAD=$(cd "$FROM" && pwd)
        elif [[ -f $FROM ]]; then
            archive=$FROM
        else
            die "--from $FROM is neither a file, a folder nor an http(s) URL"
        fi
        ;;
    esac
    if [[ -n $archive ]]; then
        if [[ -n $SHA256 ]]; then
            echo "$SHA256  $archive" | sha256sum -c --status - || die "$FROM does not have the SHA-256 given with --sha256"
        fi
        mkdir -p "$WORK/unpacked"
        tar -xzf "$archive" -C "$WORK/unpacked" --no-same-owner || die "$FROM is not a .tar.gz archive"
        PAYLOAD=$WORK/unpacked
    fi
    # The folder itself (a publish folder), else one level down (a tarball's top folder).
    found=$PAYLOAD/node-relay.dll
    [[ -f $found ]] || found=$(find "$PAYLOAD" -mindepth 2 -maxdepth 2 -name node-relay.dll -type f | sort | head -n 1)
    [[ -n $found ]] || die "$FROM holds no node-relay.dll (expected the output of deploy/relay/package.sh or dotnet publish)"
    PAYLOAD=$(dirname "$found")
    [[ -x $PAYLOAD/node-relay ]] || die "$FROM has no node-relay executable: publish with a runtime identifier (-r linux-x64), as deploy/relay/package.sh does"
    if ! VERSION=$("$PAYLOAD/node-relay" version 2>&1); then
        die "the relay in $FROM does not run on this host ($VERSION): install the .NET 10 runtime, or use the self-contained release"
    fi
    VERSION=${VERSION#node-relay }
}

ensure_user() {
    real_install || return 0
    getent group "$DOCKER_GROUP" >/dev/null || die "there is no '$DOCKER_GROUP' group: install Docker first (apt-get install docker.io, or Docker's own packages)"
    if ! getent passwd "$RELAY_USER" >/dev/null; then
        useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
            --comment "Automator67 relay" "$RELAY_USER"
        say "created the system user $RELAY_USER"
    fi
    # The Docker socket is root:docker 0660: membership of docker is the one access the relay needs.
    if ! id -nG "$RELAY_USER" | tr ' ' '\n' | grep -qx "$DOCKER_GROUP"; then
        usermod -aG "$DOCKER_GROUP" "$RELAY_USER"
        say "added $RELAY_USER to the $DOCKER_GROUP group"
    fi
}

ensure_folders() {
    mkdir -p "$R_CONFIG" "$R_STATE" "$(dirname "$R_UNIT")" "$(dirname "$R_PROGRAM")"
    chmod 0750 "$R_CONFIG"
    chmod 0700 "$R_STATE"
    if real_install; then
        chown "root:$RELAY_USER" "$R_CONFIG"
        chown "$RELAY_USER:$RELAY_USER" "$R_STATE"
    fi
}

# set_env KEY VALUE: KEY=VALUE in relay.env, replacing an earlier value.
set_env() {
    local key=$1 value=$2 tmp
    tmp=$(mktemp "$ENV_FILE.XXXXXX")
    grep -v "^$key=" "$ENV_FILE" >"$tmp" || true
    printf '%s=%s\n' "$key" "$value" >>"$tmp"
    chmod 0640 "$tmp"
    if real_install; then chown "root:$RELAY_USER" "$tmp"; fi
    mv "$tmp" "$ENV_FILE"
}

ensure_settings() {
    if [[ ! -f $ENV_FILE ]]; then
        cat >"$ENV_FILE" <<'EOF'
# Automator67 relay settings, read by automator67-relay.service (KEY=VALUE, no quotes; overrides the unit's
# Environment= lines). Every setting: the README's settings table (Relay__*). Restart the service after a change:
#   systemctl restart automator67-relay
#Relay__DockerEndpoint=unix:///var/run/docker.sock
#Relay__BridgeNetwork=bridge
#Relay__MaxConcurrentCommands=4
#Relay__AllowedHostPaths=
#Relay__ContainerLabels__team=web
EOF
        chmod 0640 "$ENV_FILE"
        if real_install; then chown "root:$RELAY_USER" "$ENV_FILE"; fi
        say "wrote $CONFIG/relay.env"
    fi
    [[ -z $DOCKER_SOCKET ]] || set_env Relay__DockerEndpoint "unix://$DOCKER_SOCKET"
    [[ -z $BRIDGE_NETWORK ]] || set_env Relay__BridgeNetwork "$BRIDGE_NETWORK"
}

# install_program: $PAYLOAD becomes $PROGRAM, unless the same files are there already. Sets PROGRAM_CHANGED.
install_program() {
    PROGRAM_CHANGED=0
    if [[ -d $R_PROGRAM ]] && diff -rq "$PAYLOAD" "$R_PROGRAM" >/dev/null 2>&1; then
        say "relay $VERSION is installed already in $PROGRAM"
        return 0
    fi
    rm -rf "$R_PROGRAM.new"
    cp -a "$PAYLOAD" "$R_PROGRAM.new"
    # Owned by root and not writable by the relay: a compromised relay cannot replace its own program.
    if real_install; then chown -R root:root "$R_PROGRAM.new"; fi
    chmod -R u+rwX,go+rX,go-w "$R_PROGRAM.new"
    # Stop first: a running relay still loads assemblies from its folder, which must not change under it.
    if systemd_running && systemctl is-active --quiet "$SERVICE.service"; then
        systemctl stop "$SERVICE.service"
        RESTART=1
    fi
    rm -rf "$R_PROGRAM.previous"
    local kept=""
    if [[ -d $R_PROGRAM ]]; then
        mv "$R_PROGRAM" "$R_PROGRAM.previous"
        kept=" (the previous one is in $PROGRAM.previous)"
    fi
    mv "$R_PROGRAM.new" "$R_PROGRAM"
    PROGRAM_CHANGED=1
    say "installed relay $VERSION in $PROGRAM$kept"
}

install_unit() {
    local template=""
    for template in "$SCRIPT_DIR/$SERVICE.service" "${PAYLOAD:-/nonexistent}/$SERVICE.service" "$(dirname "${PAYLOAD:-/nonexistent}")/$SERVICE.service"; do
        [[ -f $template ]] && break
    done
    [[ -f $template ]] || die "$SERVICE.service is not beside install.sh nor in the release; use the whole deploy/relay folder"
    if cmp -s "$template" "$R_UNIT"; then
        return 0
    fi
    install -m 0644 "$template" "$R_UNIT"
    say "installed $UNIT"
}

enroll() {
    local node out
    node=$(node_line)
    if [[ -n $node ]]; then
        say "enrolled already as node $node"
        ENROLLED=1
        return 0
    fi
    ENROLLED=0
    if [[ -z $CP_URL || -z $TOKEN ]]; then
        say "not enrolled yet: run again with --url CONTROL-PLANE-URL and A67_JOIN_TOKEN=… (or --token) to enrol this host"
        return 0
    fi
    # As the relay's user, so the key it makes is its own and the Docker socket is reached the way the service will.
    if ! out=$(as_relay "$R_PROGRAM/node-relay" enroll --url "$CP_URL" --token "$TOKEN" 2>&1); then
        die "enrolment failed: $out"
    fi
    say "$out"
    ENROLLED=1
}

start_service() {
    if ! real_install; then
        say "--root: systemd left alone; the unit is $R_UNIT"
        return 0
    fi
    if ! systemd_running; then
        say "systemd is not running here: start the relay yourself (as $RELAY_USER): $PROGRAM/node-relay run"
        return 0
    fi
    systemctl daemon-reload
    systemctl enable "$SERVICE.service" >/dev/null 2>&1
    if ((NO_START)); then
        say "enabled $SERVICE.service; not started (--no-start): systemctl start $SERVICE"
        return 0
    fi
    if ((!ENROLLED)); then
        say "enabled $SERVICE.service; it starts once this host is enrolled"
        return 0
    fi
    if ((PROGRAM_CHANGED || ${RESTART:-0})) || ! systemctl is-active --quiet "$SERVICE.service"; then
        systemctl restart "$SERVICE.service"
    fi
    sleep 2
    if systemctl is-active --quiet "$SERVICE.service"; then
        say "$SERVICE.service is running; its log: journalctl -u $SERVICE -f"
    else
        journalctl -u "$SERVICE" -n 20 --no-pager >&2 || true
        die "$SERVICE.service did not stay up; its last lines are above (journalctl -u $SERVICE)"
    fi
}

main() {
    if real_install && ((EUID != 0)); then die "run as root (sudo), or give --root DIR"; fi
    if ((UNINSTALL)); then
        uninstall
        return 0
    fi
    ((!PURGE)) || die "--purge goes with --uninstall"
    if [[ -n $FROM ]]; then
        fetch
    elif [[ -x $R_PROGRAM/node-relay ]]; then
        PAYLOAD="" VERSION=$("$R_PROGRAM/node-relay" version 2>&1 || true)
    else
        die "the relay is not installed yet: give --from (a release tarball, its URL, or a publish folder)"
    fi
    ensure_user
    ensure_folders
    ensure_settings
    if [[ -n $PAYLOAD ]]; then install_program; else PROGRAM_CHANGED=0; fi
    install_unit
    enroll
    start_service
}

main
