#!/bin/sh
# Entrypoint of the Automator67 sample image (busybox only, see scripts/stack.sh).
#   mode "serve" (v1, v2): busybox httpd serves /www on 0.0.0.0:$PORT
#                          (/ names the version, /healthz says ok, /version).
#   mode "hang"  (v3):     starts but never listens on $PORT ("never healthy").
# Containers run with host networking, several at once, so the port comes
# from $PORT. sh stays PID 1 with a TERM/INT trap and runs the real work as a
# child: PID 1 ignores signals it has no handler for, and this way
# `docker stop` ends the container at once instead of after the timeout.
PORT="${PORT:-8080}"
VERSION="$(cat /www/version 2>/dev/null || echo "${VERSION:-unknown}")"
MODE="$(cat /app/mode 2>/dev/null || echo serve)"
child=""

# shellcheck disable=SC2317 # invoked by the trap
stop() {
    [ -n "$child" ] && kill "$child" 2>/dev/null
    echo "automator67 sample $VERSION stopping"
    exit 0
}
trap stop TERM INT

if [ "$MODE" = hang ]; then
    echo "sample $VERSION starting (never listens on port $PORT)"
    # sleep in the background + wait, so the trap runs as soon as TERM arrives
    while :; do
        sleep 1 &
        child=$!
        wait "$child"
    done
fi

echo "automator67 sample $VERSION listening on 0.0.0.0:$PORT"
httpd -f -v -p "0.0.0.0:$PORT" -h /www &
child=$!
wait "$child"
rc=$?
echo "automator67 sample $VERSION: httpd exited with status $rc" >&2
exit "$rc"
