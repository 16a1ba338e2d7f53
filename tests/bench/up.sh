#!/usr/bin/env bash
# Benchmark: 16 VMs of 128 MiB from one directory with `vmspec up`, against
# the same 16 guests started with QEMU microvm from a shell loop, in one run
# under real KVM (tests/kvm-sandbox when this host has none): time until
# every guest printed its marker, and the sum of the VMMs' resident memory
# apart from guest RAM (sampled when all are up).  N=${N:-16}.
# vmspec starts with an empty boot cache (machine/kvm/boot-cache.h): the
# first VM decodes the kernel while the others wait for it, as on a team's
# first `up` after a kernel update.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
bench_enter_kvm 3000 env N="${N:-16}" UP_TIMEOUT="${UP_TIMEOUT:-1800}" bash "$0" "$@"

N=${N:-16}
G=$root/build/guest
MARKER="VMSPEC: waiting"
CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=wait"
tmp=$(mktemp -d)
export VMSPEC_RUNTIME_DIR
VMSPEC_RUNTIME_DIR=$(mktemp -d /dev/shm/vmspec-bench.XXXXXX)
trap 'rm -rf "$tmp" "$VMSPEC_RUNTIME_DIR"' EXIT
export VMSPEC_CACHE_DIR=$tmp/cache
mkdir -p "$tmp/specs" "$tmp/vmspec-logs" "$tmp/qemu-logs"
for i in $(seq 1 "$N"); do
    cat >"$tmp/specs/vm$i.yaml" <<SPEC
vmspec: 1
name: vm$i
machine: {type: microvm, cpus: 1, memory: 128M}
boot: {kernel: $G/vmlinuz, initrd: $G/initrd.cpio.gz, cmdline: $CMDLINE}
SPEC
done

# wait_all START DIR [PID...]: seconds from START until every log in DIR
# holds the marker.  Fails at once, showing its log, when a VM ended first:
# a vmspec VM's log then ends with vmspec's own "vmspec: NAME: ..." line;
# a QEMU VM's PID (one per log, in order) is gone.
wait_all() {
    local start=$1 dir=$2 n i dead= polls=0
    local deadline=$((SECONDS + ${UP_TIMEOUT:-1800}))
    shift 2
    while :; do
        n=$(grep -l "$MARKER" "$dir"/*.log 2>/dev/null | wc -l)
        [ "$n" -ge "$N" ] && break
        # Every 2 s: the polling shares the CPUs with the guests.
        if [ $((++polls % 10)) -eq 0 ]; then
            dead=$(grep -l "^vmspec: " "$dir"/*.log 2>/dev/null | head -n 1)
            for ((i = 1; i <= $#; i++)); do
                kill -0 "${!i}" 2>/dev/null || dead=${dead:-$dir/vm$i.log}
            done
        fi
        if [ -n "$dead" ] || [ $SECONDS -ge $deadline ]; then
            echo "only $n of $N guests reached the marker${dead:+; $dead ended:}" >&2
            [ -z "$dead" ] || tail -n 20 "$dead" | sed 's/^/    /' >&2
            return 1
        fi
        sleep 0.2
    done
    awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'
}
# rss_sum PIDS...: KiB resident apart from guest RAM, summed.
rss_sum() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(/usr/bin/python3 -c '
import sys; sys.path.insert(0, "tests/bench")
from measure import rss_apart_from_guest
print(rss_apart_from_guest(int(sys.argv[1]), 128 * 1024) or 0)' "$pid")))
    done
    echo "$total"
}

start=$(date +%s.%N)
build/vmspec up --log-dir "$tmp/vmspec-logs" "$tmp/specs" >"$tmp/up.out" 2>&1 &
up_pid=$!
t_vmspec=$(wait_all "$start" "$tmp/vmspec-logs")
m_vmspec=$(rss_sum $(pgrep -f "vmspec run --set console=file:$tmp"))
build/vmspec stop --all >/dev/null
wait $up_pid || true

start=$(date +%s.%N)
pids=()
for i in $(seq 1 "$N"); do
    qemu-system-x86_64 -enable-kvm -M microvm -m 128 -smp 1 -nodefaults \
        -display none -serial "file:$tmp/qemu-logs/vm$i.log" -no-reboot \
        -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz" \
        -append "$CMDLINE" </dev/null >/dev/null 2>&1 &
    pids+=($!)
done
t_qemu=$(wait_all "$start" "$tmp/qemu-logs" "${pids[@]}")
m_qemu=$(rss_sum "${pids[@]}")
kill "${pids[@]}"; wait || true

awk -v n="$N" -v tv="$t_vmspec" -v tq="$t_qemu" -v mv="$m_vmspec" \
    -v mq="$m_qemu" 'BEGIN {
    printf "up benchmark: %d VMs of 128 MiB, 1 vCPU each\n", n;
    printf "  %-22s %14s %22s\n", "", "all up", "non-guest RSS, sum";
    printf "  %-22s %13.1fs %19.1f MiB\n", "vmspec up", tv, mv / 1024;
    printf "  %-22s %13.1fs %19.1f MiB\n", "QEMU microvm (loop)", tq, mq / 1024;
    printf "  %-22s %13.2fx %20.2fx\n", "vmspec / QEMU", tv / tq, mv / mq;
}'
