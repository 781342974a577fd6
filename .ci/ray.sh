#!/usr/bin/env bash
# Bring up / tear down a real single-node Ray cluster on this machine, for CI and tests.
#
#   bash .ci/ray.sh up   STATE_DIR   # install Ray into <repo>/.venv-ray if needed, start a head node
#   bash .ci/ray.sh down STATE_DIR   # stop it (idempotent)
#   source STATE_DIR/env.sh          # RAY_ADDRESS (Jobs REST API) and LAZYLLM_RAY_BIN
#
# Everything listens on 127.0.0.1 only: the machine must never expose a Ray cluster (it runs
# arbitrary code for anyone who can reach it). Ray gets its own venv because it pins its own
# grpcio/protobuf/pydantic ranges, which must not disturb the project's .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv-ray"
RAY_VERSION="${RAY_VERSION:-2.58.0}"
PY="${PYTHON:-python3}"
UP_TIMEOUT="${RAY_UP_TIMEOUT:-90}"

usage() { echo "usage: $0 up|down STATE_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION="$1"
mkdir -p "$2"
STATE="$(cd "$2" && pwd)"

# Ray puts unix sockets under <temp-dir>/session_<date>_<pid>/sockets/, and a unix socket path
# is capped at 107 bytes, so the temp dir must stay short. A long STATE_DIR gets a fixed /tmp
# path derived from it, so `down` finds the same one.
if [ ${#STATE} -le 40 ]; then
    TMPDIR_RAY="$STATE/t"
else
    TMPDIR_RAY="/tmp/lzray-$(printf %s "$STATE" | md5sum | cut -c1-10)"
fi
RAY="$VENV/bin/ray"

free_port() {  # an unused loopback TCP port; $1 = preferred one, taken if free
    "$PY" - "${1:-0}" <<'EOF'
import socket, sys
pref = int(sys.argv[1])
for p in ([pref] if pref else []) + [0]:
    s = socket.socket()
    # like the servers that will bind it: a port in TIME_WAIT after a previous run is free
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(s.getsockname()[1]); s.close(); break
EOF
}

# Pids of this cluster, never of another Ray on the machine (`ray stop` would kill those too, as
# it matches by process name). Two marks, as neither alone finds everything:
#  - `up` starts Ray in a session of its own (setsid) and saves the session id: covers the
#    dashboard's helpers, whose process titles overwrite their environment;
#  - RAY_TMPDIR=<our temp dir> in the environment, which every daemon, worker and job inherits:
#    covers job entrypoints, which Ray starts in new sessions.
# Zombies are left out: pid 1 of a container may reap them late, and they are dead already.
ray_pids() {
    local sid p st
    sid="$(cat "$STATE/ray.sid" 2>/dev/null || true)"
    {
        [ -z "$sid" ] || ps -eo pid=,sid= | awk -v s="$sid" '$2 == s { print $1 }'
        for p in /proc/[0-9]*; do
            if grep -qxzF "RAY_TMPDIR=$TMPDIR_RAY" "$p/environ" 2>/dev/null; then echo "${p#/proc/}"; fi
        done
    } | sort -un | while read -r p; do
        st="$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || true)"
        case "$st" in ''|Z|X) ;; *) [ "$p" = $$ ] || echo "$p" ;; esac
    done
}

install_ray() {
    if [ -x "$RAY" ] && "$VENV/bin/python" -c "import ray, sys; sys.exit(ray.__version__ != '$RAY_VERSION')" \
            2>/dev/null; then
        return
    fi
    echo "== installing ray[default]==$RAY_VERSION into $VENV"
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    # grep drops the warning about this machine's pip.conf find-links dir that may not exist
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "ray[default]==$RAY_VERSION" 2>&1 \
        | { grep -v '^WARNING: Location' || true; }
    "$VENV/bin/python" -c "import ray; print('ray', ray.__version__)"
}

do_down() {
    local i pids
    pids="$(ray_pids)"
    if [ -n "$pids" ]; then
        # TERM lets raylet, workers and jobs exit cleanly; gcs_server and the client server
        # ignore it, so whatever is left after ~2 s gets KILL (as `ray stop --force` would)
        kill $pids 2>/dev/null || true
        for i in $(seq 1 30); do
            pids="$(ray_pids)"
            [ -z "$pids" ] && break
            [ "$i" -eq 8 ] && { kill -9 $pids 2>/dev/null || true; }
            sleep 0.2
        done
        pids="$(ray_pids)"
        if [ -n "$pids" ]; then
            echo "ray: processes left after down: $pids" >&2
            exit 1
        fi
    fi
    rm -f "$STATE/env.sh" "$STATE/ports" "$STATE/ray.sid" "$TMPDIR_RAY/ray_current_cluster"
    echo "ray: down ($STATE)"
}

do_up() {
    local t0; t0=$(date +%s)
    install_ray
    if [ -f "$STATE/env.sh" ] && [ -n "$(ray_pids)" ]; then
        # shellcheck disable=SC1091
        . "$STATE/env.sh"
        if curl -sf "$RAY_ADDRESS/api/version" >/dev/null; then
            echo "ray: already up at $RAY_ADDRESS"; cat "$STATE/env.sh"; return
        fi
    fi
    do_down >/dev/null
    mkdir -p "$TMPDIR_RAY"

    local gcs dash client agent metrics
    gcs=$(free_port 6379); dash=$(free_port 8265); client=$(free_port 10001)
    agent=$(free_port 52365); metrics=$(free_port)
    echo "gcs=$gcs dashboard=$dash client=$client agent=$agent metrics=$metrics" >"$STATE/ports"

    # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: plain Linux multi-node semantics. Usage stats off:
    # there is no internet and a report attempt would only slow start-up.
    # The fixed default ports (client server, dashboard agent) are chosen explicitly so a
    # stray service on the defaults cannot make start-up fail.
    # setsid: see ray_pids. Not a process-group leader here, so setsid execs in place and the
    # session id is the pid of this background command.
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0 RAY_TMPDIR="$TMPDIR_RAY" \
    setsid "$RAY" start --head \
        --node-ip-address=127.0.0.1 \
        --port="$gcs" \
        --num-cpus="${RAY_NUM_CPUS:-$(nproc)}" --num-gpus=0 \
        --include-dashboard=true --dashboard-host=127.0.0.1 --dashboard-port="$dash" \
        --ray-client-server-port="$client" \
        --dashboard-agent-listen-port="$agent" \
        --metrics-export-port="$metrics" \
        --temp-dir="$TMPDIR_RAY" \
        --disable-usage-stats \
        >"$STATE/ray-start.log" 2>&1 </dev/null &
    local start_pid=$!
    echo "$start_pid" >"$STATE/ray.sid"
    wait "$start_pid" || {
        cat "$STATE/ray-start.log" >&2; echo "ray: 'ray start' failed" >&2; do_down >&2; exit 1; }

    local url="http://127.0.0.1:$dash" deadline=$(( $(date +%s) + UP_TIMEOUT ))
    # /api/version answers before the job agent is ready; /api/jobs/ needs the agent too
    until curl -sf "$url/api/version" >/dev/null && curl -sf "$url/api/jobs/" >/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "ray: dashboard at $url not ready after ${UP_TIMEOUT}s" >&2
            cat "$STATE/ray-start.log" >&2
            tail -n 30 "$TMPDIR_RAY"/session_latest/logs/dashboard*.log >&2 2>/dev/null || true
            exit 1
        fi
        sleep 1
    done

    cat >"$STATE/env.sh" <<EOF
export RAY_ADDRESS=$url
export LAZYLLM_RAY_BIN=$RAY
EOF
    echo "ray: up in $(( $(date +%s) - t0 )) s (temp dir $TMPDIR_RAY); for its users:"
    cat "$STATE/env.sh"
}

case "$ACTION" in
    up) do_up ;;
    down) do_down ;;
    *) usage ;;
esac
