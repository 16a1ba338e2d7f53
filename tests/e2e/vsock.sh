#!/usr/bin/env bash
# End-to-end: virtio-vsock with Firecracker's host protocol, and `vmspec
# ssh` over it.  Boots the test guest's sshd scenario (dropbear on vsock
# port 22 and on TCP 22, a SHA-256 sink on vsock port 5000) with a vsock
# device and a user-mode NIC.  Checks: 64 MiB host -> guest and guest ->
# host, SHA-256 compared; connecting to a guest port nobody listens on
# fails at once, and so does the guest's connect to a host port without a
# listener; `vmspec ssh NAME -- uname -a` prints the guest's kernel and
# `-- false` exits 1; stdin and stdout stream (tar through ssh); `ssh -F`
# with `vmspec ssh-config`, and scp both ways; a VM without vsock is
# reached through its forward to port 22.  Then a guest that drives the
# vsock device by hand with malformed packets (scenario vsock-hostile):
# the device asks for a reset, vmspec runs on, and after the reset the
# guest's own driver works again.
. "$(dirname "$0")/lib.sh"
for tool in ssh ssh-keygen scp python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "1..1"
        tap_skip "vsock end-to-end" "$tool missing (tests/install-deps)"
        exit 0
    fi
done
guest_ensure || { echo "1..1"; tap_fail "test guest builds"; exit 0; }
e2e_need_kvm "$@"

VMSPEC=${VMSPEC_BIN:-$E2E_ROOT/build/vmspec}
# Sockets need a tmpfs: the sandbox's /tmp is 9p.
export VMSPEC_RUNTIME_DIR=$(mktemp -d /dev/shm/vmspec-vsock.XXXXXX)
RT=$VMSPEC_RUNTIME_DIR/vmspec
mkdir -p "$RT" && chmod 0700 "$VMSPEC_RUNTIME_DIR" "$RT"
pids=()
e2e_cleanup() {
    local p
    "$VMSPEC" stop --all --kill >/dev/null 2>&1
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$VMSPEC_RUNTIME_DIR"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
m() { grep -a "VMSPEC: $2" "$E2E_TMP/$1.log" | tr -d '\r' | head -n 1; }
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

ssh-keygen -q -t ed25519 -N '' -f "$E2E_TMP/key"
key=$(cut -d' ' -f2 "$E2E_TMP/key.pub")
SSH_AS=(-l root -i "$E2E_TMP/key")

# spec NAME SCENARIO-ARGS DEVICE-LINES: the test guest, 512 MiB (the
# guest keeps 64 MiB in RAM to send), console into $E2E_TMP/NAME.log.
spec() {
    {
        echo "vmspec: 1"
        echo "name: $1"
        echo "machine: {type: microvm, cpus: 1, memory: 512M}"
        echo "boot:"
        echo "  kernel: $E2E_GUEST/vmlinuz"
        echo "  initrd: $E2E_GUEST/initrd.cpio.gz"
        echo "  cmdline: console=ttyS0 quiet panic=-1 $2"
        echo "console: file:$E2E_TMP/$1.log"
        printf '%s\n' "$3"
    } >"$E2E_TMP/$1.yaml"
}
boot() {   # NAME: in the background; waits for its marker (or death)
    "$VMSPEC" run "$E2E_TMP/$1.yaml" </dev/null >"$E2E_TMP/$1.out" 2>&1 &
    vm_pid=$!
    pids+=("$vm_pid")
    wait_for "$E2E_TMP/$1.log" "VMSPEC: ${2:-sshd-ready}" 120
}

tap_plan 14

# The guest -> host sink: 64 MiB arrive on NAME.vsock_6000.
python3 - "$RT/vs1.vsock_6000" >"$E2E_TMP/g2h.out" <<'PY' &
import hashlib, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
s.settimeout(300)
c, _ = s.accept()
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)
PY
pids+=($!)
spec vs1 "vmspec.scenario=sshd vmspec.ssh_key=$key vmspec.vs_send=6000:64 vmspec.vs_refused=6001" \
"devices: [{type: virtio-vsock, cid: 7}]
nics: [{id: net0, forward: [\"tcp::0-:22\"]}]"
# A fixed forward port would clash with other tests: pick a free one.
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/tcp::0-:22/tcp::$fport-:22/" "$E2E_TMP/vs1.yaml"
# vs1 runs detached, under `up -d`: its console is logs/vs1.log.
run_capture up 180 "$VMSPEC" up -d --log-dir "$E2E_TMP/logs" "$E2E_TMP/vs1.yaml"
ln -sf "$E2E_TMP/logs/vs1.log" "$E2E_TMP/vs1.log"
vm_pid=$(sed -n 's/^vs1: running (pid \([0-9]*\)).*/\1/p' "$E2E_TMP/up.out")
"$VMSPEC" ps >"$E2E_TMP/ps.out" 2>&1
if [ "$(cat "$E2E_TMP/up.rc")" = 0 ] && grep -q "vs1: running" "$E2E_TMP/up.out" &&
   grep -q '^vs1 .*running' "$E2E_TMP/ps.out" &&
   wait_for "$E2E_TMP/vs1.log" "VMSPEC: sshd-ready" 120; then
    tap_ok "up -d returns once the sshd guest (vsock cid 7) runs; ps lists it"
else
    tap_fail "up -d returns once the sshd guest (vsock cid 7) runs; ps lists it" \
        "$(cat "$E2E_TMP/up.out" "$E2E_TMP/up.err" "$E2E_TMP/ps.out")" \
        "$(tail -n 20 "$E2E_TMP/vs1.log" 2>&1)"
fi

# 1. host -> guest: the sink answers with the SHA-256 of what it got.
head -c 64M /dev/urandom >"$E2E_TMP/h2g.bin"
start=$(date +%s.%N)
got=$(timeout 300 "$VMSPEC" vsock vs1 5000 <"$E2E_TMP/h2g.bin" 2>"$E2E_TMP/h2g.err")
secs=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")
if [ "$got" = "$(sha "$E2E_TMP/h2g.bin")" ]; then
    tap_ok "64 MiB host -> guest arrive intact (${secs}s)"
else
    tap_fail "64 MiB host -> guest arrive intact" "got '$got'" \
        "$(cat "$E2E_TMP/h2g.err")"
fi

# 2. guest -> host.
for _ in $(seq 600); do
    [ -s "$E2E_TMP/g2h.out" ] && break
    sleep 0.5
done
want=$(kv "$(m vs1 vs-send)" sha256)
read -r n have <"$E2E_TMP/g2h.out"
if [ "$n" = $((64 << 20)) ] && [ -n "$want" ] && [ "$have" = "$want" ]; then
    tap_ok "64 MiB guest -> host arrive intact"
else
    tap_fail "64 MiB guest -> host arrive intact" "host: $n $have" \
        "guest: $(m vs1 vs-send) / $(m vs1 vs-send-done)"
fi

# 3. Nobody listens: both directions fail at once.
wait_for "$E2E_TMP/vs1.log" "VMSPEC: vs-refused" 60
r=$(m vs1 vs-refused)
start=$(date +%s%N)
timeout 20 "$VMSPEC" vsock vs1 5999 </dev/null >"$E2E_TMP/ref.out" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$rc" = 1 ] && grep -q "nothing listens on the guest's vsock port 5999" \
       "$E2E_TMP/ref.out" && [ "$(kv "$r" rc)" != 0 ] &&
   [ -n "$(kv "$r" ms)" ] && [ "$(kv "$r" ms)" -lt 2000 ]; then
    tap_ok "connects to ports nobody listens on fail fast (host: ${ms} ms, guest: $(kv "$r" ms) ms)"
else
    tap_fail "connects to ports nobody listens on fail fast" "rc=$rc ${ms}ms: $(cat "$E2E_TMP/ref.out")" "guest: $r"
fi

# 4. ssh through vsock.
run_capture uname 120 "$VMSPEC" ssh "${SSH_AS[@]}" vs1 -- uname -a
if [ "$(cat "$E2E_TMP/uname.rc")" = 0 ] &&
   grep -qF "$(cat "$E2E_GUEST/kernel-version")" "$E2E_TMP/uname.out"; then
    tap_ok "vmspec ssh NAME -- uname -a prints the guest's kernel"
else
    tap_fail "vmspec ssh NAME -- uname -a prints the guest's kernel" \
        "rc=$(cat "$E2E_TMP/uname.rc")" "$(cat "$E2E_TMP/uname.out" "$E2E_TMP/uname.err")"
fi
run_capture false 120 "$VMSPEC" ssh "${SSH_AS[@]}" vs1 -- false
rc=$(cat "$E2E_TMP/false.rc")
run_capture exit7 120 "$VMSPEC" ssh "${SSH_AS[@]}" vs1 -- 'exit 7'
if [ "$rc" = 1 ] && [ "$(cat "$E2E_TMP/exit7.rc")" = 7 ]; then
    tap_ok "the remote command's exit status is vmspec's (false: 1, exit 7: 7)"
else
    tap_fail "the remote command's exit status is vmspec's" "false: $rc, exit 7: $(cat "$E2E_TMP/exit7.rc")"
fi

# 5. Streams: tar out of the guest and back in.
mkdir -p "$E2E_TMP/tree/sub" && head -c 300K /dev/urandom >"$E2E_TMP/tree/sub/f"
tar -C "$E2E_TMP" -c tree | timeout 120 "$VMSPEC" ssh "${SSH_AS[@]}" vs1 -- \
    'mkdir -p /tmp/in && tar -C /tmp/in -x && sha256sum /tmp/in/tree/sub/f' \
    >"$E2E_TMP/tar-in.out" 2>&1
mkdir -p "$E2E_TMP/back"
timeout 120 "$VMSPEC" ssh "${SSH_AS[@]}" vs1 -- tar -C /tmp/in -c tree </dev/null |
    tar -C "$E2E_TMP/back" -x 2>"$E2E_TMP/tar-out.err"
if grep -q "$(sha "$E2E_TMP/tree/sub/f")" "$E2E_TMP/tar-in.out" &&
   cmp -s "$E2E_TMP/tree/sub/f" "$E2E_TMP/back/tree/sub/f"; then
    tap_ok "stdin and stdout stream through vmspec ssh (tar both ways)"
else
    tap_fail "stdin and stdout stream through vmspec ssh (tar both ways)" \
        "$(cat "$E2E_TMP/tar-in.out" "$E2E_TMP/tar-out.err")"
fi

# 6. ssh-config: plain ssh and scp.
"$VMSPEC" ssh-config >"$E2E_TMP/ssh_config" 2>"$E2E_TMP/ssh-config.err"
timeout 120 ssh -F "$E2E_TMP/ssh_config" "${SSH_AS[@]}" vs1 echo via-config \
    </dev/null >"$E2E_TMP/cfg.out" 2>&1
timeout 120 scp -q -F "$E2E_TMP/ssh_config" -i "$E2E_TMP/key" \
    "$E2E_TMP/tree/sub/f" root@vs1:/tmp/scp.bin >"$E2E_TMP/scp.out" 2>&1 &&
timeout 120 scp -q -F "$E2E_TMP/ssh_config" -i "$E2E_TMP/key" \
    root@vmspec-vs1:/tmp/scp.bin "$E2E_TMP/scp.back" >>"$E2E_TMP/scp.out" 2>&1
if grep -qx via-config "$E2E_TMP/cfg.out" &&
   grep -q "ProxyCommand .*vsock .*vs1.vsock' 22" "$E2E_TMP/ssh_config" &&
   cmp -s "$E2E_TMP/tree/sub/f" "$E2E_TMP/scp.back"; then
    tap_ok "ssh -F <(vmspec ssh-config) and scp both ways work"
else
    tap_fail "ssh -F <(vmspec ssh-config) and scp both ways work" \
        "$(cat "$E2E_TMP/ssh_config" "$E2E_TMP/cfg.out" "$E2E_TMP/scp.out")"
fi

# 7. Without vsock: the forward to port 22.
spec fw1 "vmspec.scenario=sshd vmspec.ssh_key=$key" \
"nics: [{id: net0, forward: [\"tcp::$((fport + 1))-:22\"]}]"
if boot fw1; then
    run_capture fw 120 "$VMSPEC" ssh "${SSH_AS[@]}" fw1 -- echo via-forward
    "$VMSPEC" ssh-config fw1 >"$E2E_TMP/fw.cfg" 2>&1
fi
if grep -qx via-forward "$E2E_TMP/fw.out" 2>/dev/null &&
   grep -q "Port $((fport + 1))" "$E2E_TMP/fw.cfg"; then
    tap_ok "a VM without vsock is reached through its forward to port 22"
else
    tap_fail "a VM without vsock is reached through its forward to port 22" \
        "$(cat "$E2E_TMP/fw.out" "$E2E_TMP/fw.err" "$E2E_TMP/fw.cfg" 2>&1)"
fi
"$VMSPEC" stop fw1 >/dev/null 2>&1

# 8. A VM with neither says so.
spec none1 "vmspec.scenario=wait" ""
boot none1 "scenario=wait" >/dev/null
run_capture none 30 "$VMSPEC" ssh none1
if [ "$(cat "$E2E_TMP/none.rc")" = 1 ] &&
   grep -q "no virtio-vsock device and no forward to guest port 22" "$E2E_TMP/none.err"; then
    tap_ok "ssh to a VM with neither vsock nor a forward is a clear error"
else
    tap_fail "ssh to a VM with neither vsock nor a forward is a clear error" \
        "$(cat "$E2E_TMP/none.err")"
fi
"$VMSPEC" stop none1 >/dev/null 2>&1

# 9. The VM stops in order; its sockets are gone.
# 9. logs and console of the detached VM: a line the guest writes to its
# console (through ssh) reaches a console client; stop ends them both.
"$VMSPEC" logs vs1 >"$E2E_TMP/logs.out" 2>&1
"$VMSPEC" console vs1 </dev/null >"$E2E_TMP/cons.out" 2>&1 &
cons_pid=$!
pids+=("$cons_pid")
sleep 1
timeout 60 "$VMSPEC" ssh "${SSH_AS[@]}" vs1 -- \
    'echo console-check-$((6 * 7)) >/dev/console' </dev/null >/dev/null 2>&1
for _ in $(seq 40); do
    grep -q console-check-42 "$E2E_TMP/cons.out" && break
    sleep 0.25
done
"$VMSPEC" stop vs1 >"$E2E_TMP/stop.out" 2>&1
stop_rc=$?
wait "$cons_pid"
cons_rc=$?
if grep -q "VMSPEC: sshd-ready" "$E2E_TMP/logs.out" &&
   grep -q console-check-42 "$E2E_TMP/cons.out" && [ "$stop_rc" = 0 ] &&
   [ "$cons_rc" = 0 ]; then
    tap_ok "logs shows the detached VM's console; console follows it; stop ends both"
else
    tap_fail "logs shows the detached VM's console; console follows it; stop ends both" \
        "stop $stop_rc, console $cons_rc" "$(tail -n 5 "$E2E_TMP/logs.out")" \
        "$(tail -n 5 "$E2E_TMP/cons.out")" "$(cat "$E2E_TMP/stop.out")"
fi
for _ in $(seq 40); do
    grep -q "vs1: exited 143" "$E2E_TMP/logs/up.log" 2>/dev/null && break
    sleep 0.25
done
if [ ! -e "$RT/vs1.vsock" ] && ! "$VMSPEC" vsock vs1 22 </dev/null 2>/dev/null &&
   grep -q "vs1: exited 143" "$E2E_TMP/logs/up.log"; then
    tap_ok "after stop (exit 143 in up.log) the vsock socket is gone"
else
    tap_fail "after stop (exit 143 in up.log) the vsock socket is gone" \
        "$(ls -la "$RT")" "$(cat "$E2E_TMP/logs/up.log")"
fi

# 10. A hostile guest: malformed packets reset the device, not vmspec.
python3 - "$RT/hv1.vsock_7000" >"$E2E_TMP/after.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1); s.settimeout(300)
c, _ = s.accept()
print(c.recv(100).decode(errors="replace"), flush=True)
PY
pids+=($!)
spec hv1 "vmspec.scenario=vsock-hostile vmspec.vs_after=7000" \
"devices: [{type: virtio-vsock}, {type: virtio-rng}]"
"$VMSPEC" run "$E2E_TMP/hv1.yaml" </dev/null >"$E2E_TMP/hv1.out" 2>&1 &
vm_pid=$!
pids+=("$vm_pid")
wait_for "$E2E_TMP/hv1.log" "VMSPEC: vh-done" 180
wait "$vm_pid"
hv_rc=$?
after=$(m hv1 vs-after)
resets=$(grep -ac 'virtio-poke: .* needs-reset' "$E2E_TMP/hv1.log")
if [ "$hv_rc" = 0 ] && [ "$resets" -ge 1 ] &&
   grep -aq 'VMSPEC: virtio-poke: vsock-garbage done' "$E2E_TMP/hv1.log"; then
    tap_ok "malformed vsock packets put the device in NEEDS_RESET ($resets times); vmspec runs on to the guest's poweroff"
else
    tap_fail "malformed vsock packets put the device in NEEDS_RESET; vmspec runs on" \
        "vmspec exit $hv_rc, $resets resets" \
        "$(grep -a 'VMSPEC' "$E2E_TMP/hv1.log" | tail -n 40)" "$(cat "$E2E_TMP/hv1.out")"
fi
if [ "$(kv "$after" rc)" = 0 ] && grep -q hello "$E2E_TMP/after.out"; then
    tap_ok "after the reset the guest's own vsock driver works again"
else
    tap_fail "after the reset the guest's own vsock driver works again" "$after" "$(cat "$E2E_TMP/after.out")"
fi
