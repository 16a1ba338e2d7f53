#!/usr/bin/env bash
# End-to-end: `vmspec up -d` returns once its VMs run and leaves them to a
# background supervisor; ps, stop and `vmspec logs` (-f too) reach them;
# the supervisor records exits in up.log and ends with the last VM.  A VM
# that fails at start (its disk image locked by another VM) fails up -d
# with its reason while the other runs; an invalid spec starts nothing.
# VMSPEC_BIN replaces build/vmspec.  The test guest is used as built
# (tests/guest/build); without it the script skips.
. "$(dirname "$0")/lib.sh"
if [ ! -s "$E2E_GUEST/vmlinuz" ] || [ ! -s "$E2E_GUEST/initrd.cpio.gz" ]; then
    echo "1..0 # SKIP no test guest in $E2E_GUEST (tests/guest/build)"
    exit 0
fi
e2e_need_kvm "$@"

VMSPEC=${VMSPEC_BIN:-$E2E_ROOT/build/vmspec}
# Sockets need a local filesystem (the sandbox's host files are on 9p).
export VMSPEC_RUNTIME_DIR
VMSPEC_RUNTIME_DIR=$(mktemp -d /dev/shm/vmspec-e2e.XXXXXX)
L=$E2E_TMP/logs
supervisors=()
e2e_cleanup() {
    local pid
    "$VMSPEC" stop --all --kill >/dev/null 2>&1
    for pid in "${supervisors[@]}"; do kill "$pid" 2>/dev/null; done
    rm -rf "$VMSPEC_RUNTIME_DIR"
}

# spec DIR NAME SCENARIO [EXTRA-LINE...]: the test guest, 256M, console
# on ttyS0 (up puts it in L/NAME.log).
spec() {
    local dir=$1 name=$2 scenario=$3 line
    shift 3
    mkdir -p "$dir"
    {
        guest_spec_head "$name" "vmspec.scenario=$scenario"
        for line in "$@"; do echo "$line"; done
    } >"$dir/$name.yaml"
}

# The supervisor's pid, from the last "supervisor: pid N" up -d printed.
supervisor_of() { sed -n 's/^supervisor: pid \([0-9]*\),.*/\1/p' "$1" | tail -1; }

# Whether pid has ended (a zombie no one reaped yet counts).
ended() {
    [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# until_true SECS CMD...: polls CMD twice a second for at most SECS.
until_true() {
    local secs=$1 _
    shift
    for _ in $(seq 1 $((secs * 2))); do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}

logs_have() { "$VMSPEC" logs --log-dir "$L" "$1" 2>/dev/null | grep -qaF -- "$2"; }
count_in() { grep -ao 'count=[0-9]*' "$1" 2>/dev/null | tail -1 | cut -d= -f2; }
count_passed() { [ "$(count_in "$1")" -gt "${2:-0}" ] 2>/dev/null; }
has_ended() { ! kill -0 "$1" 2>/dev/null; }

tap_plan 11

# Two VMs that run until stopped: a counter (for -f) and one that waits.
d=$E2E_TMP/two
spec "$d" web1 counter
spec "$d" web2 wait
t0=$(date +%s)
run_capture up 120 "$VMSPEC" up -d --log-dir "$L" "$d"
took=$(($(date +%s) - t0))
rc=$(cat "$E2E_TMP/up.rc")
sup=$(supervisor_of "$E2E_TMP/up.out")
[ -n "$sup" ] && supervisors+=("$sup")
if [ "$rc" = 0 ] && [ -n "$sup" ] &&
   grep -qE "^web1: running \(pid [0-9]+\), log $L/web1.log$" "$E2E_TMP/up.out" &&
   grep -qE "^web2: running \(pid [0-9]+\), log $L/web2.log$" "$E2E_TMP/up.out"; then
    tap_ok "up -d returns 0 once both VMs run (${took}s), supervisor pid $sup"
else
    tap_fail "up -d returns 0 once both VMs run" "rc=$rc after ${took}s" \
        "$(cat "$E2E_TMP/up.out" "$E2E_TMP/up.err" "$L/up.log" 2>/dev/null)"
fi

ps_out=$("$VMSPEC" ps)
if grep -qE '^web1 +[0-9]+ running' <<<"$ps_out" &&
   grep -qE '^web2 +[0-9]+ running' <<<"$ps_out"; then
    tap_ok "ps lists both detached VMs as running"
else
    tap_fail "ps lists both detached VMs" "$ps_out"
fi

if until_true 120 logs_have web2 'VMSPEC: booted' &&
   until_true 30 logs_have web2 'VMSPEC: waiting'; then
    tap_ok "logs web2 shows the guest's console (booted, waiting)"
else
    tap_fail "logs web2 shows the guest's console" \
        "$("$VMSPEC" logs --log-dir "$L" web2 2>&1 | tail -n 15 | tr -d '\r')"
fi

# logs -f: goes on printing the counter, and ends when the VM is stopped.
until_true 120 logs_have web1 'VMSPEC: count=' || true
"$VMSPEC" logs -f web1 >"$E2E_TMP/follow.out" 2>"$E2E_TMP/follow.err" &
follow_pid=$!
sleep 1
first=$(count_in "$E2E_TMP/follow.out")
until_true 30 count_passed "$E2E_TMP/follow.out" "$first"
later=$(count_in "$E2E_TMP/follow.out")
if kill -0 "$follow_pid" 2>/dev/null && [ -n "$first" ] &&
   [ "${later:-0}" -gt "$first" ]; then
    tap_ok "logs -f keeps printing what the guest writes (count $first -> $later)"
else
    tap_fail "logs -f keeps printing" "first=$first later=$later" \
        "$(tail -n 5 "$E2E_TMP/follow.out" "$E2E_TMP/follow.err")"
fi
run_capture stop1 60 "$VMSPEC" stop web1
until_true 30 has_ended "$follow_pid"
if kill -0 "$follow_pid" 2>/dev/null; then
    kill "$follow_pid"
    tap_fail "logs -f ends when stop ends the VM" "still running"
else
    wait "$follow_pid"
    follow_rc=$?
    if [ "$follow_rc" = 0 ] &&
       grep -qa 'vmspec: web1: stopped by' "$E2E_TMP/follow.out"; then
        tap_ok "logs -f ends (exit 0) when stop ends the VM, with its last words"
    else
        tap_fail "logs -f ends when stop ends the VM" "rc=$follow_rc" \
            "$(tail -n 5 "$E2E_TMP/follow.out" "$E2E_TMP/follow.err")"
    fi
fi

if [ "$(cat "$E2E_TMP/stop1.rc")" = 0 ] &&
   until_true 20 grep -qE '^web1: exited 143 after' "$L/up.log"; then
    tap_ok "stop ends web1; the supervisor's up.log records exit 143"
else
    tap_fail "stop ends web1 with 143 in up.log" \
        "$(cat "$E2E_TMP/stop1.out" "$E2E_TMP/stop1.err" "$L/up.log")"
fi

# From elsewhere, without --log-dir: found through the runtime dir's link.
link=$VMSPEC_RUNTIME_DIR/vmspec/web1.log
stopped_log=$(cd / && "$VMSPEC" logs web1 2>&1)
if [ "$(readlink "$link")" = "$L/web1.log" ] &&
   grep -qaF 'VMSPEC: booted' <<<"$stopped_log"; then
    tap_ok "logs of the stopped VM still works (through $link)"
else
    tap_fail "logs of the stopped VM" "link -> $(readlink "$link")" \
        "$(tail -n 5 <<<"$stopped_log")"
fi

run_capture stop2 60 "$VMSPEC" stop web2
if [ -n "$sup" ] && until_true 20 ended "$sup" &&
   grep -q '^0 of 2 VMs exited 0$' "$L/up.log" &&
   grep -qE '^web2: exited 143 after' "$L/up.log"; then
    tap_ok "the supervisor exits once every VM has stopped"
else
    tap_fail "the supervisor exits once every VM has stopped" "pid=$sup" \
        "$(cat "$L/up.log")"
fi

# A VM that check accepts but cannot start: its disk image is locked by
# another running VM.  up -d fails with its reason; the other one runs.
truncate -s 16M "$E2E_TMP/shared.img"
disk="disks: [{id: root, path: $E2E_TMP/shared.img}]"
spec "$E2E_TMP/holder" holder wait "$disk"
spec "$E2E_TMP/clash" clash wait "$disk"
spec "$E2E_TMP/clash" fine wait
run_capture holder 120 "$VMSPEC" up -d --log-dir "$L" "$E2E_TMP/holder"
supervisors+=("$(supervisor_of "$E2E_TMP/holder.out")")
run_capture clash 120 "$VMSPEC" up -d --log-dir "$L" "$E2E_TMP/clash"
supervisors+=("$(supervisor_of "$E2E_TMP/clash.out")")
if [ "$(cat "$E2E_TMP/holder.rc")" = 0 ] && [ "$(cat "$E2E_TMP/clash.rc")" = 1 ] &&
   grep -qx 'clash: failed: exit 1' "$E2E_TMP/clash.out" &&
   grep -A1 '^clash: failed' "$E2E_TMP/clash.out" |
       grep -q "^  vmspec: clash: .*in use by another VM" &&
   grep -qE '^fine: running \(pid [0-9]+\)' "$E2E_TMP/clash.out" &&
   "$VMSPEC" ps | grep -qE '^fine +[0-9]+ running'; then
    tap_ok "a VM that fails at start fails up -d with its reason; the other runs"
else
    tap_fail "a VM that fails at start fails up -d" \
        "rc=$(cat "$E2E_TMP/holder.rc") $(cat "$E2E_TMP/clash.rc")" \
        "$(cat "$E2E_TMP/holder.out" "$E2E_TMP/clash.out" "$E2E_TMP/clash.err")"
fi
"$VMSPEC" stop holder fine >/dev/null 2>&1

# An invalid spec: nothing starts, no supervisor, no up.log.
d=$E2E_TMP/invalid
spec "$d" good wait
printf 'vmspec: 1\nname: broken\nmachine: {type: nosuch}\n' >"$d/broken.yaml"
run_capture invalid 60 "$VMSPEC" up -d --log-dir "$E2E_TMP/logs-invalid" "$d"
sleep 1
if [ "$(cat "$E2E_TMP/invalid.rc")" = 1 ] &&
   grep -q "unknown machine type 'nosuch'" "$E2E_TMP/invalid.err" &&
   ! grep -q '^supervisor:' "$E2E_TMP/invalid.out" &&
   [ ! -e "$E2E_TMP/logs-invalid/up.log" ] &&
   ! pgrep -f -- "$E2E_TMP/logs-invalid" >/dev/null &&
   ! "$VMSPEC" ps | grep -q '^good '; then
    tap_ok "an invalid spec: up -d starts nothing, exit 1, no supervisor"
else
    tap_fail "an invalid spec starts nothing" \
        "$(cat "$E2E_TMP/invalid.out" "$E2E_TMP/invalid.err")"
fi

run_capture unknown 30 "$VMSPEC" logs --log-dir "$L" nosuch
if [ "$(cat "$E2E_TMP/unknown.rc")" = 1 ] &&
   grep -q '^vmspec: no log for nosuch (' "$E2E_TMP/unknown.err"; then
    tap_ok "logs of an unknown name exits 1"
else
    tap_fail "logs of an unknown name exits 1" "rc=$(cat "$E2E_TMP/unknown.rc")" \
        "$(cat "$E2E_TMP/unknown.err")"
fi
