#!/usr/bin/env bash
# Builds the relay's release tarball, what deploy/relay/install.sh installs on a Docker host:
#
#   deploy/relay/package.sh [--out DIR] [--version V] [--framework-dependent]
#
# writes DIR/node-relay-V-linux-x64.tar.gz (DIR: artifacts/) and its .sha256. The tarball holds one folder with the
# published relay (self-contained: the host needs no .NET; --framework-dependent: smaller, needs the .NET 10 runtime
# on the host), install.sh and automator67-relay.service, so `tar xzf …; sudo ./node-relay-V-linux-x64/install.sh
# --from ./node-relay-V-linux-x64 --url … ` works without this repository.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/artifacts" VERSION="" SELF_CONTAINED=true RID=linux-x64

while (($#)); do
    case $1 in
    --out) OUT=${2:?--out needs a folder}; shift 2 ;;
    --version) VERSION=${2:?--version needs a value}; shift 2 ;;
    --framework-dependent) SELF_CONTAINED=false; shift ;;
    *) echo "package: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[[ -n $VERSION ]] || VERSION=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$ROOT/Directory.Build.props" | head -n 1)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NAME="node-relay-$VERSION-$RID"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

dotnet publish "$ROOT/node-relay/Automator67.NodeRelay.csproj" -c Release -r "$RID" --self-contained "$SELF_CONTAINED" \
    -p:Version="$VERSION" -o "$STAGE/$NAME" -nologo -v quiet >&2
install -m 0755 "$ROOT/deploy/relay/install.sh" "$STAGE/$NAME/install.sh"
install -m 0644 "$ROOT/deploy/relay/automator67-relay.service" "$STAGE/$NAME/automator67-relay.service"
# Deterministic order, owner and modes: the same sources give the same listing.
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$STAGE" -czf "$OUT/$NAME.tar.gz" "$NAME"
(cd "$OUT" && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256")
echo "$OUT/$NAME.tar.gz"
