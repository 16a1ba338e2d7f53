#!/usr/bin/env bash
# End-to-end: `vmspec up` on a directory of specs (-j 2), each VM starting
# then running, a guest that panics among them, conflicts refused before
# anything starts, and the control socket: ps, stop, pause/resume (a guest
# counter stands still).  VMSPEC_BIN replaces build/vmspec.
. "$(dirname "$0")/lib.sh"
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=${VMSPEC_BIN:-$E2E_ROOT/build/vmspec}
# Sockets need a local filesystem (the sandbox's host files are on 9p).
export VMSPEC_RUNTIME_DIR
VMSPEC_RUNTIME_DIR=$(mktemp -d /dev/shm/vmspec-e2e.XXXXXX)
e2e_cleanup() { rm -rf "$VMSPEC_RUNTIME_DIR"; }

# spec DIR NAME SCENARIO [EXTRA...]
spec() {
    local dir=$1 name=$2 scenario=$3
    shift 3
    mkdir -p "$dir"
    {
        echo "vmspec: 1"
        echo "name: $name"
        echo "machine: {type: microvm, cpus: 1, memory: 128M}"
        echo "boot:"
        echo "  kernel: $E2E_GUEST/vmlinuz"
        echo "  initrd: $E2E_GUEST/initrd.cpio.gz"
        echo "  cmdline: console=ttyS0 quiet panic=-1 vmspec.scenario=$scenario"
        for line in "$@"; do echo "$line"; done
    } >"$dir/$name.yaml"
}

tap_plan 12

# Four VMs, two at a time: all boot, logs hold their markers, summary right.
d=$E2E_TMP/four
for n in 1 2 3 4; do spec "$d" "vm$n" report; done
run_capture four 600 "$VMSPEC" up -j 2 --log-dir "$E2E_TMP/logs4" "$d"
rc=$(cat "$E2E_TMP/four.rc")
markers=$(cat "$E2E_TMP"/logs4/vm*.log 2>/dev/null | grep -c 'VMSPEC: nproc=1')
max_parallel=$(grep -c ': running' "$E2E_TMP/four.out")
if [ "$rc" = 0 ] && [ "$markers" = 4 ] &&
   grep -q '^4 of 4 VMs exited 0$' "$E2E_TMP/four.out"; then
    tap_ok "up -j 2: four VMs boot, each log holds its marker, summary 4 of 4"
else
    tap_fail "up -j 2: four VMs" "rc=$rc markers=$markers" \
        "$(cat "$E2E_TMP/four.out" "$E2E_TMP/four.err")"
fi
# -j 2: the third VM starts only after one of the first two exited.
order=$(grep -E ': (running|exited)' "$E2E_TMP/four.out" | head -3 |
        sed 's/ (pid.*//; s/ after.*//')
if [[ $(sed -n 3p <<<"$order") == *exited* ]]; then
    tap_ok "up -j 2 runs at most two at once"
else
    tap_fail "up -j 2 runs at most two at once" "$order"
fi
# Each VM is "starting" until its machine runs (vmspec run --ready-fd).
states=
for n in 1 2 3 4; do
    states+="$(grep -E "^vm$n: (starting|running) " "$E2E_TMP/four.out" |
               cut -d' ' -f2 | tr '\n' ' ')/"
done
if [ "$states" = "starting running /starting running /starting running /starting running /" ]; then
    tap_ok "each VM is reported starting, then running"
else
    tap_fail "each VM is reported starting, then running" "$states"
fi

# A panicking guest makes up fail; the others still finish.
d=$E2E_TMP/mixed
spec "$d" good1 report; spec "$d" bad panic; spec "$d" good2 report
run_capture mixed 600 "$VMSPEC" up --log-dir "$E2E_TMP/logsm" "$d"
if [ "$(cat "$E2E_TMP/mixed.rc")" != 0 ] &&
   grep -qE '^bad +exited .* 3 ' "$E2E_TMP/mixed.out" &&
   grep -qE '^good1 +exited .* 0 ' "$E2E_TMP/mixed.out" &&
   grep -qE '^good2 +exited .* 0 ' "$E2E_TMP/mixed.out"; then
    tap_ok "a panicking VM fails up (exit 3 in the summary), the others exit 0"
else
    tap_fail "a panicking VM fails up" "$(cat "$E2E_TMP/mixed.out" "$E2E_TMP/mixed.err")" \
        "$(tail -n 15 "$E2E_TMP"/logsm/*.log | tr -d '\r')"
fi

# A stale socket left by a VM that died is replaced.
spec "$E2E_TMP/stale" stale poweroff
mkdir -p "$VMSPEC_RUNTIME_DIR/vmspec"
/usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' \
    "$VMSPEC_RUNTIME_DIR/vmspec/stale.sock"
run_capture stale 240 "$VMSPEC" run "$E2E_TMP/stale/stale.yaml"
if [ "$(cat "$E2E_TMP/stale.rc")" = 0 ] &&
   [ ! -e "$VMSPEC_RUNTIME_DIR/vmspec/stale.sock" ]; then
    tap_ok "a stale control socket is replaced (and removed at exit)"
else
    tap_fail "a stale control socket is replaced" "$(cat "$E2E_TMP/stale.err")"
fi

# Conflicts: nothing starts.
d=$E2E_TMP/dup
spec "$d" same report; cp "$d/same.yaml" "$d/same2.yaml"
run_capture dup 60 "$VMSPEC" up --log-dir "$E2E_TMP/logsd" "$d"
if [ "$(cat "$E2E_TMP/dup.rc")" = 1 ] && ! ls "$E2E_TMP/logsd"/*.log >/dev/null 2>&1 &&
   grep -q "both use the name same" "$E2E_TMP/dup.err"; then
    tap_ok "duplicate names are refused before anything starts"
else
    tap_fail "duplicate names are refused" "$(cat "$E2E_TMP/dup.err")"
fi
d=$E2E_TMP/disk
truncate -s 16M "$E2E_TMP/shared.img"
spec "$d" d1 report "disks: [{id: root, path: $E2E_TMP/shared.img}]"
spec "$d" d2 report "disks: [{id: root, path: $E2E_TMP/shared.img}]"
run_capture disk 60 "$VMSPEC" up --log-dir "$E2E_TMP/logsk" "$d"
if [ "$(cat "$E2E_TMP/disk.rc")" = 1 ] && ! ls "$E2E_TMP/logsk"/*.log >/dev/null 2>&1 &&
   grep -q "both use the writable disk image $E2E_TMP/shared.img" "$E2E_TMP/disk.err"; then
    tap_ok "a shared writable disk image is refused before anything starts"
else
    tap_fail "a shared writable disk image is refused" "$(cat "$E2E_TMP/disk.err")"
fi

# ps, pause/resume and stop against running VMs.
d=$E2E_TMP/live
spec "$d" count counter; spec "$d" idle wait
"$VMSPEC" up --log-dir "$E2E_TMP/logsl" "$d" >"$E2E_TMP/live.out" 2>&1 &
up_pid=$!
for _ in $(seq 1 240); do
    grep -q 'VMSPEC: count=5' "$E2E_TMP/logsl/count.log" 2>/dev/null &&
        grep -q 'VMSPEC: waiting' "$E2E_TMP/logsl/idle.log" 2>/dev/null && break
    sleep 0.5
done
ps_out=$("$VMSPEC" ps)
if grep -qE '^count +[0-9]+ running' <<<"$ps_out" &&
   grep -qE '^idle +[0-9]+ running' <<<"$ps_out"; then
    tap_ok "ps lists the running VMs"
else
    tap_fail "ps lists the running VMs" "$ps_out"
fi
last() { grep -o 'count=[0-9]*' "$E2E_TMP/logsl/count.log" | tail -1 | cut -d= -f2; }
python3=/usr/bin/python3
req() {  # req NAME CMD
    $python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(("{\"cmd\": \"%s\"}\n" % sys.argv[2]).encode()); print(s.recv(4096).decode().strip())' \
        "$VMSPEC_RUNTIME_DIR/vmspec/$1.sock" "$2"
}
# A second VM with a running one's name is refused, naming its pid.
run_capture again 60 "$VMSPEC" run "$d/count.yaml"
if [ "$(cat "$E2E_TMP/again.rc")" = 1 ] &&
   grep -qE "a VM named count is already running, pid [0-9]+" "$E2E_TMP/again.err"; then
    tap_ok "a live VM's name is refused with its pid"
else
    tap_fail "a live VM's name is refused" "$(cat "$E2E_TMP/again.err")"
fi

r1=$(req count pause); sleep 0.5; a=$(last); sleep 2; b=$(last)
r2=$(req count resume); sleep 2; c=$(last)
if [[ $r1 == *'"paused"'* ]] && [ "$a" = "$b" ] && [ "$c" -gt "$b" ]; then
    tap_ok "pause stops the guest counter ($a -> $b), resume restarts it ($c)"
else
    tap_fail "pause/resume" "$r1 / $r2" "a=$a b=$b c=$c"
fi
bad=$($python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{nonsense\n" + b"x" * 5000 + b"\n"); print(s.recv(4096).decode().strip())' \
    "$VMSPEC_RUNTIME_DIR/vmspec/idle.sock")
st=$(req idle status)
if [[ $bad == *'"ok": false'* ]] && [[ $st == *'"state": "running"'* ]]; then
    tap_ok "malformed and oversized requests get errors; the VM runs on"
else
    tap_fail "malformed requests" "$bad" "$st"
fi
"$VMSPEC" stop --all >"$E2E_TMP/stop.out" 2>&1
wait $up_pid
up_rc=$?
if grep -q 'count stopped' "$E2E_TMP/stop.out" &&
   grep -q 'idle stopped' "$E2E_TMP/stop.out" && [ $up_rc -ne 0 ] &&
   [ -z "$("$VMSPEC" ps | tail -n +2)" ]; then
    tap_ok "stop --all stops them; up reports it (exit $up_rc)"
else
    tap_fail "stop --all" "$(cat "$E2E_TMP/stop.out" "$E2E_TMP/live.out")"
fi
