#!/usr/bin/env bash
# Bring up / tear down a real single-node Slurm cluster on this machine, for CI and tests.
#
#   bash .ci/slurm.sh up   STATE_DIR   # install slurm-wlm + munge if missing, start the cluster
#   bash .ci/slurm.sh down STATE_DIR   # cancel all jobs, stop what `up` started (idempotent)
#   source STATE_DIR/env.sh            # makes sbatch/squeue/scontrol/scancel/sinfo use it
#
# Config, state, spool, logs and pid files live in STATE_DIR; only munged keeps Debian's
# default key/socket places (/etc/munge, /run/munge), and is reused if one already answers.
# Works as root without systemd (containers, CI). Cluster shape: node "localhost" with the real
# cores and memory, partitions debug (default) and batch, and two fake GPUs (gres gpu:2) backed
# by character devices under STATE_DIR/dev, so --gres=gpu:N jobs get CUDA_VISIBLE_DEVICES.
set -euo pipefail

usage() { echo "usage: $0 up|down STATE_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION="$1"
mkdir -p "$2"
STATE="$(cd "$2" && pwd)"
CONF="$STATE/slurm.conf"
export SLURM_CONF="$CONF"
UP_TIMEOUT="${SLURM_UP_TIMEOUT:-60}"

log() { echo "slurm: $*"; }

# $1 if no TCP socket listens on it, else the next free one. Another cluster on the default
# ports must not be mistaken for ours: our clients would happily talk to it.
free_port() {
    local p="$1"
    while [ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; do p=$((p + 1)); done
    echo "$p"
}

# true while pid $1 runs; a zombie counts as gone (pid 1 of a container may reap it late)
alive() {
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# pid from $1 if that process is still alive and is the program $2 (guards against pid reuse)
live_pid() {
    local pid
    [ -s "$1" ] || return 1
    pid="$(cat "$1")"
    [ -n "$pid" ] && alive "$pid" || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    echo "$pid"
}

# TERM, then KILL after ~15 s; returns once the process is gone
stop_pidfile() {
    local pidfile="$1" name="$2" pid i
    if pid="$(live_pid "$pidfile" "$name")"; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 150); do
            alive "$pid" || break
            [ "$i" -eq 100 ] && { kill -9 "$pid" 2>/dev/null || true; }
            sleep 0.1
        done
        alive "$pid" && { echo "slurm: could not stop $name ($pid)" >&2; return 1; }
        log "stopped $name ($pid)"
    fi
    rm -f "$pidfile"
}

print_logs() {
    local f
    for f in "$STATE"/log/*.log; do
        [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
    done >&2
}

install_packages() {
    command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null && return
    log "installing slurm-wlm munge"
    export DEBIAN_FRONTEND=noninteractive
    # the package lists may be stale or absent on a fresh machine: update only if needed
    apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; }
}

start_munge() {
    # a munged that already works (ours from an earlier up, or the system's) is shared
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    id munge >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin munge
    # munged refuses to run unless its dirs belong to it and are not group/world writable
    install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge
    install -d -o munge -g munge -m 0755 /run/munge /var/log/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    local i
    for i in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null || { echo "slurm: munged does not answer" >&2; exit 1; }
    # remember that this up started it, so down stops it and nothing else
    cp /run/munge/munged.pid "$STATE/munged.pid"
}

write_config() {
    local cpus mem_total real_mem i ctld_port slurmd_port
    ctld_port="$(free_port "${SLURM_CTLD_PORT:-6817}")"
    slurmd_port="$(free_port "${SLURM_SLURMD_PORT:-$((ctld_port + 1))}")"
    [ "$slurmd_port" != "$ctld_port" ] || slurmd_port="$(free_port $((ctld_port + 1)))"
    cpus="$(nproc)"
    mem_total="$(free -m | awk '/^Mem:/ {print $2}')"
    # slurmd drains a node that reports less memory than configured: keep 5% headroom
    real_mem=$(( mem_total * 95 / 100 ))

    mkdir -p "$STATE/dev" "$STATE/log" "$STATE/ctld" "$STATE/spool"
    # Fake GPUs: Slurm only needs character devices to exist; the CUDA index it exports comes
    # from the trailing number of the file name, as with /dev/nvidiaN (major 195).
    for i in 0 1; do
        [ -c "$STATE/dev/nvidia$i" ] || mknod -m 0666 "$STATE/dev/nvidia$i" c 195 "$i"
    done

    cat >"$STATE/gres.conf" <<EOF
NodeName=localhost Name=gpu File=$STATE/dev/nvidia[0-1]
EOF

    # Notes on choices:
    #  - proctrack/linuxproc + task/none: cgroup plugins do not work in this container.
    #  - CR_Core_Memory with DefMemPerCPU: jobs may ask --mem, and a job that does not gets a
    #    share instead of the whole node (the default), so jobs still run side by side.
    #  - KillWait=5: scancel/timeout completes in seconds, not the default 30.
    #  - ReturnToService=2: the node comes back idle after a restart without scontrol update.
    #  - accounting off: there is no slurmdbd here.
    cat >"$CONF" <<EOF
ClusterName=lazyllm-ci
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$(( real_mem / cpus / 4 ))
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_min_interval=100000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
UnkillableStepTimeout=30
InactiveLimit=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
MailProg=/bin/true
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=batch Nodes=localhost Default=NO MaxTime=INFINITE State=UP
EOF
}

do_up() {
    local t0 i state
    t0=$(date +%s)
    install_packages
    if live_pid "$STATE/slurmctld.pid" slurmctld >/dev/null \
            && live_pid "$STATE/slurmd.pid" slurmd >/dev/null \
            && timeout 5 scontrol ping 2>/dev/null | grep -q UP; then
        log "already up ($STATE)"
    else
        do_down >/dev/null
        write_config
        start_munge
        # -c: start from clean state, a previous run's jobs are of no use to a fresh cluster
        slurmctld -c -f "$CONF" || { print_logs; exit 1; }
        slurmd -N localhost -f "$CONF" || { print_logs; exit 1; }

        for i in $(seq 1 $(( UP_TIMEOUT * 2 ))); do
            # a daemon that died at start (port taken, bad config) will not come back
            if ! live_pid "$STATE/slurmctld.pid" slurmctld >/dev/null \
                    || ! live_pid "$STATE/slurmd.pid" slurmd >/dev/null; then
                sleep 0.5
                if ! live_pid "$STATE/slurmctld.pid" slurmctld >/dev/null \
                        || ! live_pid "$STATE/slurmd.pid" slurmd >/dev/null; then
                    state="daemon exited"; break
                fi
            fi
            state="$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null | head -n1 || true)"
            [ "$state" = idle ] && break
            sleep 0.5
        done
        if [ "$state" != idle ]; then
            echo "slurm: node not idle after ${UP_TIMEOUT}s (state: '${state:-none}')" >&2
            print_logs
            exit 1
        fi
        log "up in $(( $(date +%s) - t0 )) s ($STATE)"
    fi
    echo "export SLURM_CONF=$CONF" >"$STATE/env.sh"
    echo "for its users:"
    cat "$STATE/env.sh"
}

do_down() {
    local i
    if live_pid "$STATE/slurmctld.pid" slurmctld >/dev/null; then
        # cancel every job and wait (KillWait=5) so no slurmstepd outlives slurmd
        timeout 10 scancel --full --quiet $(timeout 5 squeue -h -o %A 2>/dev/null) 2>/dev/null || true
        for i in $(seq 1 40); do
            [ -z "$(timeout 5 squeue -h -t RUNNING,COMPLETING,PENDING -o %A 2>/dev/null)" ] && break
            sleep 0.5
        done
    fi
    stop_pidfile "$STATE/slurmd.pid" slurmd
    stop_pidfile "$STATE/slurmctld.pid" slurmctld
    stop_pidfile "$STATE/munged.pid" munged
    rm -f "$STATE/env.sh"
    log "down ($STATE)"
}

case "$ACTION" in
    up) do_up ;;
    down) do_down ;;
    *) usage ;;
esac
