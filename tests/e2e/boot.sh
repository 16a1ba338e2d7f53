#!/usr/bin/env bash
# End-to-end: `vmspec run` boots Debian's stock kernel with the test guest
# under real KVM (directly, or in tests/kvm-sandbox) and exits as README.md
# ("Running a VM") says: the guest's CPUs and memory match the spec,
# poweroff -> 0, reboot with on_reboot: exit -> 0, panic -> 3, SIGTERM ->
# 143 with the terminal restored; bad kernels, oversized cmdlines and
# impossible memory -> 1 with a clear message; microvm tells the guest
# there is no PCI; the kernel decoded on the host gets KASLR as its own
# decompressor would give it.
. "$(dirname "$0")/lib.sh"
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=$E2E_ROOT/build/vmspec

# spec NAME CPUS MEMORY SCENARIO [EXTRA YAML LINES...] -> path
spec() {
    local name=$1 cpus=$2 mem=$3 scenario=$4 f=$E2E_TMP/$1.yaml
    shift 4
    {
        echo "vmspec: 1"
        echo "name: $name"
        echo "machine: {type: microvm, cpus: $cpus, memory: $mem}"
        echo "boot:"
        echo "  kernel: $E2E_GUEST/vmlinuz"
        echo "  initrd: $E2E_GUEST/initrd.cpio.gz"
        echo "  cmdline: console=ttyS0 quiet panic=-1 vmspec.scenario=$scenario"
        echo "console: stdio"
        for line in "$@"; do echo "$line"; done
    } >"$f"
    echo "$f"
}

# boot NAME CPUS MEMORY SCENARIO [EXTRA...]: runs it, 240 s at most.
boot() {
    local name=$1 f
    f=$(spec "$@")
    run_capture "$name" 240 "$VMSPEC" run "$f"
}

# expect NAME DESC RC [STRING...]: checks the exit status and output.
expect() {
    local name=$1 desc=$2 want=$3 got notes=()
    shift 3
    got=$(cat "$E2E_TMP/$name.rc")
    [ "$got" = "$want" ] || notes+=("exit status $got, expected $want")
    for s in "$@"; do
        grep -qF -- "$s" "$E2E_TMP/$name.out" "$E2E_TMP/$name.err" ||
            notes+=("missing '$s'")
    done
    if [ ${#notes[@]} -eq 0 ]; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "${notes[@]}" "--- stdout:" \
            "$(tail -n 25 "$E2E_TMP/$name.out" | tr -d '\r')" "--- stderr:" \
            "$(tail -n 15 "$E2E_TMP/$name.err")"
    fi
}

# The guest reports nproc and MemTotal; MemTotal is RAM less what the
# kernel keeps for itself, so it must lie within 75-100% of the spec's.
check_report() {
    local name=$1 cpus=$2 mem_mib=$3 line kb
    line=$(grep -a 'VMSPEC: nproc=' "$E2E_TMP/$name.out" | tr -d '\r')
    kb=$(sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p' <<<"$line")
    if [[ $line == *"nproc=$cpus "* ]] && [ -n "$kb" ] &&
       [ "$kb" -le $((mem_mib * 1024)) ] &&
       [ "$kb" -ge $((mem_mib * 1024 * 3 / 4)) ]; then
        tap_ok "guest sees $cpus vCPUs and $mem_mib MiB ($line)"
    else
        tap_fail "guest sees $cpus vCPUs and $mem_mib MiB" "got: ${line:-nothing}"
    fi
}

tap_plan 18

boot one 1 256M report
expect one "1 vCPU: boots to its marker, powers off, exit 0" 0 \
    "VMSPEC: booted" "VMSPEC: poweroff"
check_report one 1 256

# microvm has no PCI and says so (pci=off in front of the spec's command
# line), so the guest does not go looking for it; a spec that sets pci=
# itself keeps its own.
if grep -qa "VMSPEC: cmdline=pci=off console=ttyS0 " "$E2E_TMP/one.out"; then
    tap_ok "microvm: pci=off first on the guest's command line"
else
    tap_fail "microvm: pci=off first on the guest's command line" \
        "$(grep -a "VMSPEC: cmdline=" "$E2E_TMP/one.out")"
fi
f=$(spec pciown 1 256M report)
sed -i 's/cmdline: console=ttyS0/cmdline: pci=nocrs nokaslr console=ttyS0/' "$f"
run_capture pciown 240 "$VMSPEC" run "$f"
if grep -qa "VMSPEC: cmdline=pci=nocrs nokaslr console=ttyS0 " \
        "$E2E_TMP/pciown.out"; then
    tap_ok "microvm: a spec's own pci= option is left alone"
else
    tap_fail "microvm: a spec's own pci= option is left alone" \
        "$(grep -a "VMSPEC: cmdline=" "$E2E_TMP/pciown.out")"
fi

# The kernel decoded on the host (the default for an XZ bzImage): the
# first boot fills an empty boot cache, the second boots from its entry
# without rewriting it.
cache=$E2E_TMP/cache
VMSPEC_CACHE_DIR=$cache boot cold 1 256M report
entry=$(ls "$cache"/kernel-*.img 2>/dev/null)
before=$(stat -c '%i %Y' $entry 2>/dev/null)
VMSPEC_CACHE_DIR=$cache boot warm 1 256M report
after=$(stat -c '%i %Y' $entry 2>/dev/null)
if grep -q 'VMSPEC: booted' "$E2E_TMP/cold.out" &&
   grep -q 'VMSPEC: booted' "$E2E_TMP/warm.out" &&
   [ "$(echo "$entry" | wc -w)" = 1 ] && [ -n "$before" ] &&
   [ "$before" = "$after" ]; then
    tap_ok "boot cache: first boot stores the decoded kernel, second uses it"
else
    tap_fail "boot cache: first boot stores the decoded kernel, second uses it" \
        "entries: ${entry:-none}; before=$before after=$after" \
        "$(tail -n 5 "$E2E_TMP/cold.out" "$E2E_TMP/warm.out" \
            "$E2E_TMP/cold.err" "$E2E_TMP/warm.err")"
fi

# The bzImage's own decompressor, as QEMU would boot it (KASLR kept).
VMSPEC_KERNEL_DECOMPRESS=guest boot guestdec 1 256M report
expect guestdec "VMSPEC_KERNEL_DECOMPRESS=guest: the guest decompresses" 0 \
    "VMSPEC: booted"
VMSPEC_KERNEL_DECOMPRESS=bogus boot baddec 1 256M report
expect baddec "VMSPEC_KERNEL_DECOMPRESS=bogus -> exit 1" 1 \
    "it must be host or guest"

boot four 4 512M report
expect four "4 vCPUs: boots to its marker, exit 0" 0 "VMSPEC: booted"
check_report four 4 512

# KASLR on the host-decoded kernel: each boot's text lies at its own
# random 2 MiB step, virtually inside the kernel's 1 GiB window and
# physically above 16 MiB (4 boots all at one place: odds of 1 in 88^3);
# "nokaslr" keeps the link-time addresses.
text_of() {
    grep -a 'VMSPEC: text=' "$E2E_TMP/$1.out" | tr -d '\r' |
        sed 's/.*text=\([0-9a-f]*\) code=\([0-9a-f]*\).*/\1 \2/'
}
places=() bad=()
for name in one cold warm four; do
    read -r t c <<<"$(text_of $name)"
    places+=("$t@$c")
    if ! [[ $t =~ ^ffffffff[0-9a-f]{8}$ && $c =~ ^[0-9a-f]{8,16}$ ]] ||
       (( 0x$t % 0x200000 != 0 || 0x$t < 0xffffffff81000000 ||
          0x$t >= 0xffffffffc0000000 || 0x$c % 0x200000 != 0 ||
          0x$c < 0x1000000 )); then
        bad+=("$name: '$t' '$c'")
    fi
done
virt=$(printf '%s\n' "${places[@]%@*}" | sort -u | wc -l)
phys=$(printf '%s\n' "${places[@]#*@}" | sort -u | wc -l)
if [ ${#bad[@]} -eq 0 ] && [ "$virt" -ge 2 ] && [ "$phys" -ge 2 ]; then
    tap_ok "KASLR: kernel text at random 2 MiB steps (${places[*]})"
else
    tap_fail "KASLR: kernel text at random 2 MiB steps" "${bad[@]}" \
        "text@code: ${places[*]}"
fi
if [ "$(text_of pciown)" = "ffffffff81000000 01000000" ]; then
    tap_ok "nokaslr: kernel text at its link addresses"
else
    tap_fail "nokaslr: kernel text at its link addresses" \
        "text code: '$(text_of pciown)'"
fi

boot reboot 1 256M reboot "on_reboot: exit"
expect reboot "guest reboot with on_reboot: exit -> exit 0" 0 "VMSPEC: reboot"

# on_reboot: restart boots the same VM again; SIGTERM then ends it.
f=$(spec restart 1 256M reboot "on_reboot: restart")
timeout -s TERM 120 "$VMSPEC" run "$f" </dev/null >"$E2E_TMP/restart.out" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
    [ "$(grep -c 'VMSPEC: booted' "$E2E_TMP/restart.out")" -ge 2 ] && break
    sleep 0.5
done
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
boots=$(grep -c 'VMSPEC: booted' "$E2E_TMP/restart.out")
if [ "$boots" -ge 2 ] && [ $rc -eq 143 ]; then
    tap_ok "guest reboot with on_reboot: restart boots again ($boots boots)"
else
    tap_fail "guest reboot with on_reboot: restart boots again" \
        "boots=$boots rc=$rc" "$(tail -n 10 "$E2E_TMP/restart.out")"
fi

boot panic 1 256M panic
expect panic "guest panic (pvpanic) -> exit 3" 3 "VMSPEC: panic" \
    "the guest panicked"

# SIGTERM while the guest runs, on a terminal: 143, and the terminal's
# settings are what they were before vmspec put it in raw mode.
f=$(spec wait 1 256M wait)
out=$(/usr/bin/python3 - "$VMSPEC" "$f" <<'EOF'
import os, pty, select, signal, sys, termios, time
master, slave = pty.openpty()
before = termios.tcgetattr(slave)
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv(sys.argv[1], [sys.argv[1], "run", sys.argv[2]])
buf, raw_seen, deadline = b"", False, time.time() + 240
while b"VMSPEC: waiting" not in buf and time.time() < deadline:
    if select.select([master], [], [], 1)[0]:
        try:
            buf += os.read(master, 65536)
        except OSError:
            break
    raw_seen = raw_seen or not termios.tcgetattr(slave)[3] & termios.ICANON
os.kill(pid, signal.SIGTERM)
# vmspec must be gone within 60 s of SIGTERM; else say where it is stuck
# and kill it, rather than hang the test.
stop_deadline, done = time.time() + 60, 0
while time.time() < stop_deadline:
    r, _, _ = select.select([master], [], [], 1)
    if r:
        try:
            os.read(master, 65536)
        except OSError:
            pass
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
if not done:
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            comm = open("/proc/%d/task/%s/comm" % (pid, t)).read().strip()
            wchan = open("/proc/%d/task/%s/wchan" % (pid, t)).read()
            print("# still running: thread %s %s in %s" % (t, comm, wchan),
                  file=sys.stderr)
        except OSError:
            pass
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
after = termios.tcgetattr(slave)
print("marker=%d raw=%d rc=%d restored=%d" % (
    b"VMSPEC: waiting" in buf, raw_seen, os.waitstatus_to_exitcode(status),
    before == after))
EOF
)
if [ "$out" = "marker=1 raw=1 rc=143 restored=1" ]; then
    tap_ok "SIGTERM while running -> exit 143, terminal restored"
else
    tap_fail "SIGTERM while running -> exit 143, terminal restored" "$out"
fi

# Setup errors: exit 1, one clear line, no guest.
head -c 65536 /dev/urandom >"$E2E_TMP/junk"
f=$(spec junk 1 256M report)
sed -i "s|kernel: .*|kernel: $E2E_TMP/junk|" "$f"
run_capture junk 60 "$VMSPEC" run "$f"
expect junk "a kernel that is not a bzImage -> exit 1" 1 "not a bzImage"

long=$(printf 'x%.0s' $(seq 1 5000))
boot longcmd 1 256M "report $long"
expect longcmd "an oversized cmdline -> exit 1" 1 "this kernel accepts at most"

boot huge 1 60T report
expect huge "memory beyond the host's -> exit 1" 1 "exceeds this host's RAM"
