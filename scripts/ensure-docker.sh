#!/usr/bin/env bash
# Make sure a Docker Engine answers on this machine: install Debian's docker.io
# when it is missing (as root, on a Debian-like system) and start dockerd when it
# is not running. Used by `make test`, `make demo` and CI.
#
# A dockerd this script starts itself (no systemd) runs in the background with
# its PID in CLUSTEROUS_DOCKERD_PIDFILE: stopping that PID and running the script
# again restarts the engine the way it was started (tests/e2e/engine.py does).
# CLUSTEROUS_DOCKERD_ARGS adds arguments, for a second engine beside the usual
# one (its own -H socket, --data-root, --exec-root; DOCKER_HOST points at it).
set -euo pipefail

log=${CLUSTEROUS_DOCKERD_LOG:-/var/log/clusterous-dockerd.log}
pidfile=${CLUSTEROUS_DOCKERD_PIDFILE:-/run/clusterous-dockerd.pid}
read -r -a extra_args <<<"${CLUSTEROUS_DOCKERD_ARGS:-}"

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

if engine_answers; then
    echo "docker: engine running"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "docker: no Docker Engine on this machine." >&2
        echo "  -> install it (Debian/Ubuntu: sudo apt-get install docker.io;" \
             "macOS/Windows: Docker Desktop), start it, then run this again." >&2
        exit 1
    fi
    echo "docker: installing Debian's docker.io package"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi
if ! command -v docker >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi

if ! engine_answers; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        echo "docker: starting the docker service"
        systemctl start docker || true
    fi
fi
if ! engine_answers; then
    if [ "$(id -u)" != 0 ]; then
        echo "docker: the engine is installed but not running, and starting it needs root." >&2
        echo "  -> sudo systemctl start docker (or start Docker Desktop), then run this again." >&2
        exit 1
    fi
    echo "docker: starting dockerd in the background (log: $log, pid in $pidfile)"
    # dockerd writes its PID there itself, and removes the file when it stops.
    nohup dockerd --pidfile "$pidfile" "${extra_args[@]}" >"$log" 2>&1 &
fi
for _ in $(seq 1 60); do
    if engine_answers; then
        echo "docker: engine running"
        exit 0
    fi
    sleep 0.5
done
echo "docker: the engine did not start within 30 s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
