#!/usr/bin/env bash
# End-to-end: virtio-net on taps, one boot of the test guest (scenario
# `net`) with two NICs: net0 on vmtap0, a persistent tap made here first
# (host side 10.0.2.1/24), with mac: auto; net1 on vmtap1, which does not
# exist, so vmspec creates it.  Checks: the guest sees the MACs `vmspec
# plan` shows; guest and host ping each other; 10 MiB each way over TCP
# (busybox nc) arrive with the same SHA-256; vmtap1 exists while the VM
# runs and is gone after it exits, vmtap0 stays.  Needs root (taps).
. "$(dirname "$0")/lib.sh"
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

export PATH=$PATH:/usr/sbin:/sbin
VMSPEC=$E2E_ROOT/build/vmspec
TAP0=vmtap0
TAP1=vmtap1
HOST_IP=10.0.2.1
GUEST_IP=10.0.2.15
MB=${VMSPEC_NET_MB:-10}
TESTS=9

skip_all() {
    tap_plan $TESTS
    for _ in $(seq 1 $TESTS); do
        tap_skip "virtio-net" "$1"
    done
    exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root for taps"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
command -v ip >/dev/null || skip_all "no ip(8)"
for t in $TAP0 $TAP1; do
    ip link show "$t" >/dev/null 2>&1 &&
        skip_all "an interface $t exists already"
done

vm_pid=
nc_pid=
e2e_cleanup() {
    [ -n "$vm_pid" ] && kill -KILL "$vm_pid" 2>/dev/null
    [ -n "$nc_pid" ] && kill -KILL "$nc_pid" 2>/dev/null
    ip link del "$TAP0" 2>/dev/null
    rm -rf "${shm:-}"
}

check() {
    local desc=$1
    shift
    if [ $# -eq 0 ]; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "$@"
    fi
}

ip tuntap add "$TAP0" mode tap || skip_all "cannot create a tap"
ip addr add "$HOST_IP/24" dev "$TAP0"
ip link set "$TAP0" up

spec=$E2E_TMP/nettest.yaml
cat >"$spec" <<EOF
vmspec: 1
name: nettest
machine: {type: microvm, cpus: 1, memory: 256M}
boot:
  kernel: $E2E_GUEST/vmlinuz
  initrd: $E2E_GUEST/initrd.cpio.gz
  cmdline: console=ttyS0 quiet panic=-1 vmspec.scenario=net vmspec.net_mb=$MB
nics:
  - {id: net0, tap: $TAP0}
  - {id: net1, tap: $TAP1, mac: "52:54:00:12:34:56"}
console: stdio
EOF
"$VMSPEC" plan "$spec" >"$E2E_TMP/plan.out"
plan_mac() {
    awk -v dev="/machine/$1" '$1 == dev {f = 1} f && $1 == "mac:" {
        print $2; exit }' "$E2E_TMP/plan.out"
}

# The data and a FIFO in /dev/shm: the sandbox's /tmp is 9p (slow, and
# without FIFOs).
shm=$(mktemp -d /dev/shm/vmspec-net.XXXXXX) || skip_all "no /dev/shm"
mkfifo "$shm/hold" || skip_all "cannot make a FIFO in /dev/shm"
head -c $((MB * 1024 * 1024)) /dev/urandom >"$shm/h2g"
h2g_sum=$(sha256sum <"$shm/h2g" | cut -d' ' -f1)
# busybox nc ends when the peer closes its side: the listener's stdin must
# never end (a FIFO opened read-write), or it would close at once.
busybox nc -l -p 5002 <>"$shm/hold" >"$shm/g2h" &
nc_pid=$!

timeout -k 5 300 "$VMSPEC" run "$spec" </dev/null >"$E2E_TMP/vm.out" \
    2>"$E2E_TMP/vm.err" &
vm_pid=$!

tap_plan $TESTS

# 1. MACs
wait_for "$E2E_TMP/vm.out" "VMSPEC: net-configured" 240
mac0=$(plan_mac net0)
mac1=$(plan_mac net1)
got0=$(marker "$E2E_TMP/vm.out" "net eth0" mac)
got1=$(marker "$E2E_TMP/vm.out" "net eth1" mac)
notes=()
[ -n "$mac0" ] && [ "$mac0" = "$got0" ] ||
    notes+=("net0: plan says '$mac0', the guest's eth0 has '$got0'")
[ "$mac1" = 52:54:00:12:34:56 ] && [ "$mac1" = "$got1" ] ||
    notes+=("net1: plan says '$mac1', the guest's eth1 has '$got1'")
[ ${#notes[@]} -eq 0 ] || notes+=("$(tail -n 20 "$E2E_TMP/vm.out")"
                                  "$(tail -n 5 "$E2E_TMP/vm.err")")
check "the guest's NICs have the MACs vmspec plan shows ($got0, $got1)" \
    "${notes[@]}"

# 2. offloads: virtio 1.2, 5.1.3 (and 6 for EVENT_IDX, VERSION_1)
feat=$(marker "$E2E_TMP/vm.out" "net eth0" features)
want="0:CSUM 1:GUEST_CSUM 5:MAC 7:GUEST_TSO4 8:GUEST_TSO6 11:HOST_TSO4"
want+=" 12:HOST_TSO6 15:MRG_RXBUF 16:STATUS 29:EVENT_IDX 32:VERSION_1"
missing=()
for b in $want; do
    [ "${feat:${b%%:*}:1}" = 1 ] || missing+=("${b#*:}")
done
if [ -n "$feat" ] && [ ${#missing[@]} -eq 0 ]; then
    check "the guest negotiated checksum/TSO offloads both ways, MRG_RXBUF"
else
    check "the guest negotiated checksum/TSO offloads both ways, MRG_RXBUF" \
        "features '$feat', missing: ${missing[*]}"
fi

# 3-5. ping both ways; the tap vmspec made is there
wait_for "$E2E_TMP/vm.out" "VMSPEC: ping-host" 60
if grep -qa "VMSPEC: ping-host ok" "$E2E_TMP/vm.out"; then
    check "the guest pings the host"
else
    check "the guest pings the host" "$(tail -n 5 "$E2E_TMP/vm.out")"
fi
if busybox ping -c 3 -w 30 "$GUEST_IP" >"$E2E_TMP/ping.out" 2>&1; then
    rtt=$(grep -o '[0-9.]*/[0-9.]*/[0-9.]* ms' "$E2E_TMP/ping.out")
    check "the host pings the guest (rtt min/avg/max $rtt)"
else
    check "the host pings the guest" "$(cat "$E2E_TMP/ping.out")"
fi
if ip link show "$TAP1" >/dev/null 2>&1; then
    check "vmspec created $TAP1 while the VM runs"
else
    check "vmspec created $TAP1 while the VM runs" "$(ip link 2>&1)"
fi

# 6. host -> guest
wait_for "$E2E_TMP/vm.out" "VMSPEC: net-listening" 60
start=$(date +%s%N)
for _ in 1 2 3 4 5; do
    busybox nc -w 10 "$GUEST_IP" 5001 <"$shm/h2g" && break
    sleep 1
done
h2g_ms=$((($(date +%s%N) - start) / 1000000))
wait_for "$E2E_TMP/vm.out" "VMSPEC: rx bytes" 120
got=$(marker "$E2E_TMP/vm.out" "rx bytes" sha256)
if [ "$got" = "$h2g_sum" ]; then
    check "$MB MiB host -> guest arrive intact ($h2g_ms ms)"
else
    check "$MB MiB host -> guest arrive intact" "sent $h2g_sum, got '$got'" \
        "$(grep -a 'VMSPEC: rx' "$E2E_TMP/vm.out")"
fi

# 7. guest -> host
wait_for "$E2E_TMP/vm.out" "VMSPEC: tx-" 180
for _ in $(seq 1 20); do
    kill -0 $nc_pid 2>/dev/null || break
    sleep 0.5
done
got=$(sha256sum <"$shm/g2h" | cut -d' ' -f1)
want=$(marker "$E2E_TMP/vm.out" "tx bytes" sha256)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
    tx_ms=$(marker "$E2E_TMP/vm.out" tx-done ms)
    check "$MB MiB guest -> host arrive intact ($tx_ms ms)"
else
    check "$MB MiB guest -> host arrive intact" \
        "guest sent '$want', host got $got ($(wc -c <"$shm/g2h") bytes)" \
        "$(grep -a 'VMSPEC: tx' "$E2E_TMP/vm.out")"
fi

# 8-9. exit; taps
wait "$vm_pid"
rc=$?
vm_pid=
if [ $rc -eq 0 ]; then
    check "the guest powers off, vmspec exits 0"
else
    check "the guest powers off, vmspec exits 0" "exit status $rc" \
        "$(tail -n 10 "$E2E_TMP/vm.out")" "$(tail -n 10 "$E2E_TMP/vm.err")"
fi
notes=()
ip link show "$TAP1" >/dev/null 2>&1 && notes+=("$TAP1 is still there")
ip link show "$TAP0" >/dev/null 2>&1 || notes+=("$TAP0 is gone")
check "at exit the tap vmspec created is removed, the existing one stays" \
    "${notes[@]}"
