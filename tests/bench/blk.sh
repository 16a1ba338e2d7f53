#!/usr/bin/env bash
# Benchmark: guest disk throughput, vmspec's virtio-blk against QEMU's
# (qemu-system-x86_64 -enable-kvm -M microvm -device virtio-blk-device,
# Debian's build, cache=writeback: the host page cache, as vmspec), in one
# run under real KVM (tests/kvm-sandbox when this host has none).  The same
# kernel, initrd, 256 MiB guest and raw image on tmpfs; the guest
# (scenario blkbench) reads MIB MiB sequentially and writes them with
# fsync, both O_DIRECT in 1 MiB blocks.  Prints MB/s (10^6 bytes) and the
# ratio to QEMU.  MIB=${MIB:-256}, N=${N:-1} runs each (the best is kept).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. tests/bench/lib.bash
bench_enter_kvm 1800 env MIB="${MIB:-256}" N="${N:-1}" bash "$0" "$@"

MIB=${MIB:-256}
N=${N:-1}
G=$root/build/guest
CMDLINE="console=ttyS0 quiet panic=-1 vmspec.scenario=blkbench vmspec.blkmb=$MIB"
tmp=$(mktemp -d /dev/shm/vmspec-blkbench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s $((MIB + 16))M "$tmp/disk.img"
head -c "${MIB}M" /dev/urandom >"$tmp/seed"
cat >"$tmp/bench.yaml" <<SPEC
vmspec: 1
name: blkbench
machine: {type: microvm, cpus: 1, memory: 256M}
boot:
  kernel: $G/vmlinuz
  initrd: $G/initrd.cpio.gz
  cmdline: $CMDLINE
disks:
  - {id: bench, path: $tmp/disk.img}
console: stdio
SPEC

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

run() {   # run VMM -> prints "read_MBps write_MBps"
    # The image starts the same each time: random data (so reads aren't
    # of holes), in the host page cache.
    dd if="$tmp/seed" of="$tmp/disk.img" bs=1M conv=notrunc status=none
    local cmd
    case $1 in
        vmspec) cmd=(build/vmspec run "$tmp/bench.yaml") ;;
        qemu) cmd=(qemu-system-x86_64 -enable-kvm -M microvm
                -m 256 -smp 1 -nodefaults -display none -serial stdio
                -no-reboot -kernel "$G/vmlinuz" -initrd "$G/initrd.cpio.gz"
                -append "$CMDLINE"
                -drive "id=d0,if=none,format=raw,file=$tmp/disk.img,cache=writeback"
                -device virtio-blk-device,drive=d0) ;;
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
