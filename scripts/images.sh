#!/usr/bin/env bash
# Automator67 container images: the control plane (Dockerfile.control-plane) and the relay (Dockerfile.relay).
#
#   scripts/images.sh build [--local-bases] [--tag TAG] [--label K=V]...
#       builds automator67/control-plane:TAG and automator67/relay:TAG from this repository (TAG: the version in
#       Directory.Build.props) and prints how long each took and its size. --local-bases builds on stand-ins for the
#       MCR .NET images (below) instead of mcr.microsoft.com, for a machine that cannot reach MCR.
#   scripts/images.sh bases [--label K=V]...
#       makes the stand-ins a67-local/dotnet-{sdk,aspnet,runtime}:10.0 from this machine's .NET install (docker import
#       of a root file system: busybox for /bin/sh, /usr/share/dotnet, the shared libraries .NET needs, CA
#       certificates, time zones, users root and app (1654), the MCR images' environment). Kept if present.
#   scripts/images.sh clean [--label K=V]
#       removes the images carrying the label (all of automator67/*:TAG without one), the build stages the legacy
#       builder left behind on top of the stand-ins, and the stand-ins themselves.
#
# Builds pass --network host: `dotnet restore` in the build stage needs NuGet, and an Engine started with
# --bridge=none (the local stack's) has no default network for build containers. Elsewhere it is harmless.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOTNET_HOME="${A67_DOTNET_HOME:-/usr/share/dotnet}"
LOCAL_SDK=a67-local/dotnet-sdk:10.0
LOCAL_ASPNET=a67-local/dotnet-aspnet:10.0
LOCAL_RUNTIME=a67-local/dotnet-runtime:10.0
CONTROL_PLANE_REPO=automator67/control-plane
RELAY_REPO=automator67/relay
# Bump when the stand-ins' recipe changes.
BASE_RECIPE=1
ROOTFS="" # the stand-in's root file system being made
trap '[[ -z $ROOTFS ]] || rm -rf "$ROOTFS"' EXIT

die() { echo "images: $*" >&2; exit 1; }
say() { printf '%-14s %s\n' "$1" "$2"; }

version() { sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$ROOT/Directory.Build.props" | head -n 1; }

# ------------------------------------------------------------------ stand-in base images

# Copies FILE into the root file system's /usr/lib/x86_64-linux-gnu (merged /usr, as in Debian and Ubuntu),
# dereferenced, under the name the loader looks for.
copy_lib() {
    local rootfs=$1 file=$2
    [[ -e $rootfs/usr/lib/x86_64-linux-gnu/${file##*/} ]] || cp -L "$file" "$rootfs/usr/lib/x86_64-linux-gnu/"
}

# make_rootfs DIR KIND: KIND is sdk (the whole .NET install), aspnet (both shared frameworks) or runtime.
make_rootfs() {
    local rootfs=$1 kind=$2 dotnet="$1/usr/share/dotnet" f lib
    mkdir -p "$rootfs"/{bin,etc,root,home/app,tmp,usr/bin,usr/share,usr/lib/x86_64-linux-gnu,usr/lib64}
    chmod 0755 "$rootfs" # mktemp made it 0700, and "." becomes the image's /
    chmod 1777 "$rootfs/tmp"
    chmod 0700 "$rootfs/root"
    ln -s usr/lib "$rootfs/lib"
    ln -s usr/lib64 "$rootfs/lib64"
    ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$rootfs/usr/lib64/ld-linux-x86-64.so.2"
    # /bin/sh and the usual tools: the MCR images are Debian or Ubuntu with a shell, and RUN lines use one.
    cp /bin/busybox "$rootfs/bin/busybox"
    for f in $(/bin/busybox --list); do [[ -e $rootfs/bin/$f ]] || ln -s busybox "$rootfs/bin/$f"; done

    mkdir -p "$dotnet"
    case $kind in
    sdk) cp -a "$DOTNET_HOME/." "$dotnet/" ;;
    aspnet | runtime)
        cp -a "$DOTNET_HOME/dotnet" "$DOTNET_HOME/host" "$DOTNET_HOME/LICENSE.txt" "$DOTNET_HOME/ThirdPartyNotices.txt" "$dotnet/"
        mkdir -p "$dotnet/shared"
        cp -a "$DOTNET_HOME/shared/Microsoft.NETCore.App" "$dotnet/shared/"
        [[ $kind == runtime ]] || cp -a "$DOTNET_HOME/shared/Microsoft.AspNetCore.App" "$dotnet/shared/"
        ;;
    esac
    ln -s ../share/dotnet/dotnet "$rootfs/usr/bin/dotnet"

    # What the native parts link against, and what .NET opens at run time with dlopen (OpenSSL, ICU).
    while read -r lib; do copy_lib "$rootfs" "$lib"; done < <(
        find "$dotnet" -type f \( -name '*.so' -o -name dotnet -o -name apphost -o -name singlefilehost \) -print0 |
            xargs -0 ldd 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/lib/ { print $1 }' | sort -u)
    for lib in libssl.so.3 libcrypto.so.3 libicuuc.so.72 libicui18n.so.72 libicudata.so.72 libz.so.1; do
        copy_lib "$rootfs" "/usr/lib/x86_64-linux-gnu/$lib"
    done
    [[ -d /usr/lib/x86_64-linux-gnu/ossl-modules ]] && cp -aL /usr/lib/x86_64-linux-gnu/ossl-modules "$rootfs/usr/lib/x86_64-linux-gnu/"

    # CA certificates (NuGet and Azure Storage over https), OpenSSL's configuration, time zones, the OS name.
    cp -aL /etc/ssl "$rootfs/etc/ssl"
    mkdir -p "$rootfs/usr/lib/ssl"
    ln -s /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"
    ln -s /etc/ssl/openssl.cnf "$rootfs/usr/lib/ssl/openssl.cnf"
    cp -a /usr/share/zoneinfo "$rootfs/usr/share/zoneinfo"
    cp -L /etc/os-release "$rootfs/etc/os-release"
    # The MCR images' non-root user: app, uid and gid 1654 ($APP_UID).
    printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1654:1654::/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\napp:x:1654:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    chown 1654:1654 "$rootfs/home/app"
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# newest DIR: the highest version among DIR's subfolders.
newest() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1; }

# import_base KIND IMAGE LABEL...: the root file system as a one-layer image with the MCR image's environment.
import_base() {
    local kind=$1 image=$2 rootfs runtime_version sdk_version aspnet_version changes=() label
    shift 2
    runtime_version=$(newest "$DOTNET_HOME/shared/Microsoft.NETCore.App")
    aspnet_version=$(newest "$DOTNET_HOME/shared/Microsoft.AspNetCore.App")
    sdk_version=$(newest "$DOTNET_HOME/sdk")
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/a67-rootfs-$kind-XXXXXX")
    ROOTFS=$rootfs # removed on exit too, when a step below fails
    make_rootfs "$rootfs" "$kind"
    changes+=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    changes+=(--change "ENV APP_UID=1654" --change "ENV DOTNET_RUNNING_IN_CONTAINER=true" --change "ENV DOTNET_VERSION=$runtime_version")
    [[ $kind == runtime ]] || changes+=(--change "ENV ASPNET_VERSION=$aspnet_version" --change "ENV ASPNETCORE_HTTP_PORTS=8080")
    if [[ $kind == sdk ]]; then
        changes+=(--change "ENV DOTNET_SDK_VERSION=$sdk_version" --change "ENV DOTNET_GENERATE_ASPNET_CERTIFICATE=false"
            --change "ENV DOTNET_NOLOGO=true" --change "ENV NUGET_XMLDOC_MODE=skip" --change "ENV DOTNET_CLI_TELEMETRY_OPTOUT=1")
        # This machine cannot reach the certificate revocation servers of NuGet's package signatures (the host sets
        # the same); a property of the machine, so it belongs to the stand-in, not to the Dockerfiles.
        [[ -n ${NUGET_CERT_REVOCATION_MODE:-} ]] && changes+=(--change "ENV NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE")
    fi
    changes+=(--change "LABEL automator67.base-recipe=$BASE_RECIPE-$kind-$sdk_version-$runtime_version")
    changes+=(--change "LABEL org.opencontainers.image.description=\"stand-in for mcr.microsoft.com/dotnet/$kind:10.0, made from this machine's .NET\"")
    for label in "$@"; do changes+=(--change "LABEL $label"); done
    changes+=(--change 'CMD ["/bin/sh"]')
    tar --sort=name --mtime=@0 --numeric-owner -C "$rootfs" -c . | docker import "${changes[@]}" - "$image" >/dev/null
    rm -rf "$rootfs"
    ROOTFS=""
}

cmd_bases() {
    local labels=() start kind image
    while (($#)); do
        case $1 in
        --label) labels+=("$2"); shift 2 ;;
        *) die "bases: unknown option '$1'" ;;
        esac
    done
    [[ -x $DOTNET_HOME/dotnet ]] || die "no .NET install at $DOTNET_HOME (set A67_DOTNET_HOME)"
    [[ -x /bin/busybox ]] || die "/bin/busybox is missing; install it: apt-get install busybox-static"
    for kind in sdk aspnet runtime; do
        image="a67-local/dotnet-$kind:10.0"
        if docker image inspect "$image" >/dev/null 2>&1; then
            say "$image" "present"
            continue
        fi
        start=$SECONDS
        import_base "$kind" "$image" "${labels[@]}"
        say "$image" "imported in $((SECONDS - start)) s, $(size "$image")"
    done
}

# ------------------------------------------------------------------ the images

size() { docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%d MB", $1 / 1000000 }'; }

cmd_build() {
    local local_bases=0 tag labels=() build_args=() start what dockerfile repo runtime
    tag=$(version)
    while (($#)); do
        case $1 in
        --local-bases) local_bases=1; shift ;;
        --tag) tag=$2; shift 2 ;;
        --label) labels+=(--label "$2"); shift 2 ;;
        *) die "build: unknown option '$1'" ;;
        esac
    done
    if ((local_bases)); then
        cmd_bases "${labels[@]}"
        build_args+=(--build-arg "SDK_IMAGE=$LOCAL_SDK")
    fi
    for what in control-plane relay; do
        dockerfile="$ROOT/Dockerfile.$what"
        if [[ $what == control-plane ]]; then repo=$CONTROL_PLANE_REPO runtime=$LOCAL_ASPNET; else repo=$RELAY_REPO runtime=$LOCAL_RUNTIME; fi
        local args=("${build_args[@]}")
        ((local_bases)) && args+=(--build-arg "RUNTIME_IMAGE=$runtime")
        start=$SECONDS
        # The legacy builder (no buildx here) prints a deprecation notice; BuildKit builds the same Dockerfile.
        if ! docker build --network host --force-rm -f "$dockerfile" -t "$repo:$tag" "${args[@]}" "${labels[@]}" "$ROOT" >"${TMPDIR:-/tmp}/a67-image-$what.log" 2>&1; then
            tail -n 30 "${TMPDIR:-/tmp}/a67-image-$what.log" >&2
            die "building $repo:$tag failed; the whole log is ${TMPDIR:-/tmp}/a67-image-$what.log"
        fi
        say "$repo:$tag" "built in $((SECONDS - start)) s, $(size "$repo:$tag")"
    done
}

# ------------------------------------------------------------------ clean up

# Images whose parent chain reaches IMAGE_ID: the build stages the legacy builder keeps on a stand-in.
descendants() {
    local base=$1 id parent
    declare -A parent_of=()
    while read -r id parent; do parent_of[$id]=$parent; done < <(docker image ls -aq --no-trunc | sort -u | xargs -r docker image inspect --format '{{.Id}} {{.Parent}}')
    for id in "${!parent_of[@]}"; do
        parent=${parent_of[$id]}
        while [[ -n $parent ]]; do
            if [[ $parent == "$base" ]]; then
                echo "$id"
                break
            fi
            parent=${parent_of[$parent]:-}
        done
    done
}

cmd_clean() {
    local label="" image base ids
    while (($#)); do
        case $1 in
        --label) label=$2; shift 2 ;;
        *) die "clean: unknown option '$1'" ;;
        esac
    done
    if [[ -n $label ]]; then
        docker image ls -q --filter "label=$label" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
    else
        for image in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$CONTROL_PLANE_REPO" "$RELAY_REPO"); do docker rmi "$image" >/dev/null || true; done
    fi
    for base in $LOCAL_SDK $LOCAL_ASPNET $LOCAL_RUNTIME; do
        docker image inspect "$base" >/dev/null 2>&1 || continue
        if [[ -n $label && $(docker image inspect --format "{{index .Config.Labels \"${label%%=*}\"}}" "$base") != "${label#*=}" ]]; then
            continue # someone else's stand-in
        fi
        ids=$(descendants "$(docker image inspect --format '{{.Id}}' "$base")")
        # shellcheck disable=SC2086 # one id per word
        [[ -z $ids ]] || docker rmi -f $ids >/dev/null 2>&1 || true
        docker rmi "$base" >/dev/null
        say "$base" "removed"
    done
}

case "${1:-}" in
bases) shift; cmd_bases "$@" ;;
build) shift; cmd_build "$@" ;;
clean) shift; cmd_clean "$@" ;;
*) die "usage: scripts/images.sh build [--local-bases] [--tag TAG] [--label K=V] | bases [--label K=V] | clean [--label K=V]" ;;
esac
