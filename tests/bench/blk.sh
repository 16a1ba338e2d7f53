#!/usr/bin/env bash
# Benchmark: guest disk throughput, vmspec's virtio-blk against QEMU's
# (qemu-system-x86_64 -enable-kvm -M microvm -device virtio-blk-device,
# Debian's build, cache=writeback: the host page cache, as vmspec), in one
# run under real KVM (tests/kvm-sandbox when this host has none).  The same
# kernel, initrd, 256 MiB guest and raw image on tmpfs; the guest
# (scenario blkbench) reads MIB MiB sequentially and writes them with
# fsync, both O_DIRECT in 1 MiB blocks.  Prints MB/s (10^6 bytes) and the
# ratio to QEMU.  MIB=${MIB:-256}, N=${N:-1} runs each (the best is kept).
#
# Then qcow2: vmspec with the qemu-storage-daemon it runs for the disk
# (vhost-user-blk) against QEMU's built-in qcow2 driver (-drive
# format=qcow2, cache=writeback), on copies of one qcow2 image of random
# data made with qemu-img convert; the guest (scenario blkperf,
# tests/guest/blkperf.c: what fio would do, O_DIRECT) reads MIB MiB
# sequentially, writes them (fdatasync counted), and reads 4 KiB blocks at
# random at queue depth 1 and 32 for SECS=${SECS:-5} seconds each.  Also:
# the time from exec to the first KVM_RUN (strace stopping at execve and
# ioctl only, measure.py kvm-run; median of 3) with one qcow2 disk against
# one raw disk -- the daemon's start cost -- and the daemon's resident
# memory while the guest runs.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
bench_enter_kvm 2400 env MIB="${MIB:-256}" N="${N:-1}" SECS="${SECS:-5}" \
    bash "$0" "$@"

MIB=${MIB:-256}
N=${N:-1}
G=$root/build/guest
CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=blkbench vmspec.blkmb=$MIB"
tmp=$(mktemp -d /dev/shm/vmspec-blkbench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s $((MIB + 16))M "$tmp/disk.img"
head -c "${MIB}M" /dev/urandom >"$tmp/seed"
# bench_spec FILE CMDLINE DISK-LINE: the test guest with one disk.
bench_spec() {
    cat >"$1" <<SPEC
vmspec: 1
name: blkbench
machine: {type: microvm, cpus: 1, memory: 256M}
boot:
  kernel: $G/vmlinuz
  initrd: $G/initrd.cpio.gz
  cmdline: $2
disks:
  - $3
console: stdio
SPEC
}
bench_spec "$tmp/bench.yaml" "$CMDLINE" "{id: bench, path: $tmp/disk.img}"

# The VMM's output, line by line, with the host's monotonic time at each
# blkbench marker; prints "read_MBps write_MBps" (nan when missing).
TIMER='
import subprocess, sys, time
mib, out = int(sys.argv[1]), open(sys.argv[2], "wb")
p = subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
t = {}
for line in p.stdout:
    out.write(line)
    for key in (b"start", b"read-done rc=0", b"write-done rc=0"):
        if b"VMSPEC: blkbench " + key in line:
            t[key] = time.monotonic()
p.wait()
mb = mib * 1048576 / 1e6
def rate(a, b):
    return mb / (t[b] - t[a]) if a in t and b in t else float("nan")
print(rate(b"start", b"read-done rc=0"),
      rate(b"read-done rc=0", b"write-done rc=0"))
'

# QEMU's command line for the test guest with one virtio-blk disk, into
# QEMU_CMD: qemu_cmd FORMAT IMAGE CMDLINE.
qemu_cmd() {
    QEMU_CMD=(qemu-system-x86_64 -enable-kvm -M microvm
        -m 256 -smp 1 -nodefaults -display none -serial stdio
        -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz"
        -append "$3"
        -drive "id=d0,if=none,format=$1,file=$2,cache=writeback"
        -device virtio-blk-device,drive=d0)
}

run() {   # run VMM -> prints "read_MBps write_MBps"
    # The image starts the same each time: random data (so reads aren't
    # of holes), in the host page cache.
    dd if="$tmp/seed" of="$tmp/disk.img" bs=1M conv=notrunc status=none
    local cmd
    case $1 in
        vmspec) cmd=(build/vmspec run "$tmp/bench.yaml") ;;
        qemu) qemu_cmd raw "$tmp/disk.img" "$CMDLINE"
              cmd=("${QEMU_CMD[@]}") ;;
    esac
    timeout 900 /usr/bin/python3 -c "$TIMER" "$MIB" "$tmp/$1.out" "${cmd[@]}"
    grep -a 'VMSPEC: blkbench' "$tmp/$1.out" | tr -d '\r' | sed "s/^/$1: /" >&2
}

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b > a) ? b : a }'; }
declare -A R W
for _ in $(seq 1 "$N"); do
    for vmm in vmspec qemu; do
        run $vmm >"$tmp/result"     # (no <(...): the sandbox lacks /dev/fd)
        read -r r w <"$tmp/result"
        R[$vmm]=$(best "${R[$vmm]:-}" "$r")
        W[$vmm]=$(best "${W[$vmm]:-}" "$w")
    done
done
echo "virtio-blk benchmark: ${MIB} MiB sequential, O_DIRECT 1 MiB blocks," \
    "best of $N"
printf '%-8s %12s %18s\n' "" "read MB/s" "write+fsync MB/s"
for vmm in vmspec qemu; do
    printf '%-8s %12.1f %18.1f\n' "$vmm" "${R[$vmm]}" "${W[$vmm]}"
done
awk -v a="${R[vmspec]}" -v b="${R[qemu]}" -v c="${W[vmspec]}" \
    -v d="${W[qemu]}" 'BEGIN {
    printf "%-8s %11.2fx %17.2fx\n", "ratio", a / b, c / d }'

# ---- qcow2 --------------------------------------------------------------
SECS=${SECS:-5}
QCMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=blkperf"
QCMDLINE="$QCMDLINE vmspec.blkmb=$MIB vmspec.blksecs=$SECS"
dd if="$tmp/seed" of="$tmp/disk.img" bs=1M conv=notrunc status=none
qemu-img convert -q -f raw -O qcow2 "$tmp/disk.img" "$tmp/seed.qcow2"
bench_spec "$tmp/qcow2.yaml" "$QCMDLINE" \
    "{id: bench, path: $tmp/disk.qcow2, format: qcow2}"

qrun() {   # qrun VMM: the blkperf lines in $tmp/VMM.q.out; daemon RSS
    cp "$tmp/seed.qcow2" "$tmp/disk.qcow2"
    local cmd pid rss=
    case $1 in
        vmspec) cmd=(build/vmspec run "$tmp/qcow2.yaml") ;;
        qemu) qemu_cmd qcow2 "$tmp/disk.qcow2" "$QCMDLINE"
              cmd=("${QEMU_CMD[@]}") ;;
    esac
    timeout 900 "${cmd[@]}" </dev/null >"$tmp/$1.q.out" 2>&1 &
    pid=$!
    # The daemon's resident memory once the guest has read the disk.
    while kill -0 $pid 2>/dev/null; do
        if grep -qa 'blkperf seqwrite' "$tmp/$1.q.out"; then
            local d
            d=$(pgrep -f "qemu-storage-daemon .*$tmp/disk.qcow2" | head -n 1)
            [ -n "$d" ] && rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$d/status")
            break
        fi
        sleep 0.2
    done
    wait $pid
    grep -a 'VMSPEC: blkperf' "$tmp/$1.q.out" | tr -d '\r' | sed "s/^/$1: /" >&2
    echo "${rss:-}" >"$tmp/$1.q.rss"
}
qfield() {   # qfield VMM MODE QD KEY
    grep -a "VMSPEC: blkperf $2 .* qd=$3 " "$tmp/$1.q.out" | tr -d '\r' |
        head -n 1 | sed -n "s/.* $4=\([^ ]*\).*/\1/p"
}
declare -A QR QW Q1 Q32
for _ in $(seq 1 "$N"); do
    for vmm in vmspec qemu; do
        qrun $vmm
        QR[$vmm]=$(best "${QR[$vmm]:-}" "$(qfield $vmm seqread 1 mbps)")
        QW[$vmm]=$(best "${QW[$vmm]:-}" "$(qfield $vmm seqwrite 1 mbps)")
        Q1[$vmm]=$(best "${Q1[$vmm]:-}" "$(qfield $vmm randread 1 iops)")
        Q32[$vmm]=$(best "${Q32[$vmm]:-}" "$(qfield $vmm randread 32 iops)")
    done
done
if ! qemu-img check -q "$tmp/disk.qcow2"; then
    echo "blk.sh: the qcow2 image is not clean after the runs" >&2
    exit 1
fi
echo
echo "qcow2 benchmark: vmspec + qemu-storage-daemon vs QEMU's qcow2," \
    "${MIB} MiB sequential (1 MiB blocks), 4 KiB random reads ${SECS} s," \
    "O_DIRECT, best of $N"
printf '%-8s %10s %10s %14s %15s\n' "" "read MB/s" "write MB/s" \
    "randread QD1" "randread QD32"
for vmm in vmspec qemu; do
    printf '%-8s %10.1f %10.1f %9.0f IOPS %10.0f IOPS\n' "$vmm" \
        "${QR[$vmm]:-nan}" "${QW[$vmm]:-nan}" "${Q1[$vmm]:-nan}" \
        "${Q32[$vmm]:-nan}"
done
awk -v a="${QR[vmspec]:-0}" -v b="${QR[qemu]:-0}" -v c="${QW[vmspec]:-0}" \
    -v d="${QW[qemu]:-0}" -v e="${Q1[vmspec]:-0}" -v f="${Q1[qemu]:-0}" \
    -v g="${Q32[vmspec]:-0}" -v h="${Q32[qemu]:-0}" '
    function r(x, y) { return y > 0 ? x / y : 0 }
    BEGIN { printf "%-8s %9.2fx %9.2fx %13.2fx %14.2fx\n", "ratio",
            r(a, b), r(c, d), r(e, f), r(g, h) }'
echo "qemu-storage-daemon resident memory: $(cat "$tmp/vmspec.q.rss") KiB"

# exec -> first KVM_RUN: one qcow2 disk (a daemon starts) vs one raw disk.
bench_spec "$tmp/start-raw.yaml" "console=ttyS0 quiet panic=-1" \
    "{id: bench, path: $tmp/disk.img}"
bench_spec "$tmp/start-qcow2.yaml" "console=ttyS0 quiet panic=-1" \
    "{id: bench, path: $tmp/disk.qcow2, format: qcow2}"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for kind in raw qcow2; do
    for _ in 1 2 3; do
        /usr/bin/python3 tests/bench/measure.py kvm-run -- \
            build/vmspec run "$tmp/start-$kind.yaml" |
            sed -n 's/.*"to_kvm_run_s": \([0-9.e-]*\).*/\1/p'
    done | median >"$tmp/start-$kind"
done
awk -v r="$(cat "$tmp/start-raw")" -v q="$(cat "$tmp/start-qcow2")" 'BEGIN {
    printf "exec to first KVM_RUN (median of 3): raw %.1f ms, " \
           "qcow2 %.1f ms (%.2fx; the daemon starts in +%.1f ms)\n",
           r * 1000, q * 1000, q / r, (q - r) * 1000 }'
