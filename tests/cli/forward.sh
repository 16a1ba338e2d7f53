#!/usr/bin/env bash
# vmspec forward NAME add|remove|list and ps's forwards, against stand-in
# VMs serving control sockets (a booted VM's forwards are
# tests/e2e's): the requests the CLI sends (arguments, "nic" only when
# given, nothing over the request bound), how it shows replies (text,
# JSON, escaped), what the VM refuses (exit 1, its message once), replies
# that are not the protocol's, and usage errors (exit 2, nothing sent).
set -u
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
tmp=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# expect DESC CONDITION...: ok when the command succeeds, else the output.
expect() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else fail "$desc" "$(cat -A "$tmp/out" 2>/dev/null)"; fi
}
has() { grep -qF -- "$1" "$tmp/out"; }
# vm ARGS...: vmspec with the stand-ins' runtime directory; rc is its status.
vm() { VMSPEC_RUNTIME_DIR=$tmp/run timeout 10 "$VMSPEC" "$@" >"$tmp/out" 2>&1; rc=$?; }
# sent JSON: the last request the stand-ins got is that object.
sent() {
    python3 -c 'import json, sys
last = open(sys.argv[1]).read().splitlines()[-1]
sys.exit(json.loads(last) != json.loads(sys.argv[2]))' "$tmp/requests" "$1"
}
requests() { wc -l <"$tmp/requests"; }

cd "$tmp" || exit 1
if ! command -v python3 >/dev/null; then
    ok "forward against stand-in VMs # SKIP no python3"
    echo "1..$n"
    exit 0
fi

# The stand-ins: web1 answers as a VM with user-mode NICs net0 and net1
# would; odd answers forward-add with what its rule names (not JSON, too
# deep, duplicate keys, an endless line, ...).
mkdir -p run/vmspec
: >requests
python3 - "$tmp/run/vmspec" "$tmp/requests" <<'PY' &
import json, os, socket, sys, threading
d, log = sys.argv[1], sys.argv[2]
FWDS = {"net0": ["tcp:127.0.0.1:2222-10.0.2.15:22"], "net1": []}
def web1(req):
    cmd = req.get("cmd")
    if cmd == "status":
        return {"ok": True, "name": "web1", "pid": 42, "state": "running",
                "uptime_s": 3.5, "spec": "/s/web1.yaml", "cpus": 1,
                "memory": "256M", "forwards": FWDS}
    if cmd == "forward-list":
        return {"ok": True, "forwards": FWDS}
    if cmd in ("forward-add", "forward-remove"):
        rule = req.get("rule")
        if rule == "bad":
            return {"ok": False, "error": "'bad': not a rule\x1b[31m\nforged"}
        if "nic" not in req:
            return {"ok": False, "error": "the VM has 2 user-mode NICs "
                    "(net0, net1): name one"}
        return {"ok": True, "nic": req["nic"],
                "forward": "tcp:127.0.0.1:8080-10.0.2.15:80"}
    return {"ok": False, "error": "unknown command '%s'" % cmd}
ODD = {
    "notjson": b'{"ok": tru}\n',
    "dup": b'{"ok": true, "ok": true}\n',
    "deep": b'{"ok": true, "x": ' + b'[' * 9 + b']' * 9 + b'}\n',
    "deep8": b'{"ok": true, "x": ' + b'[' * 8 + b']' * 8 + b'}\n',
    "trailing": b'{"ok": true} x\n',
    "endless": b'{"ok": true, "x": "' + b'a' * 100000,
    "noerror": b'{"ok": false}\n',
    "nested": b'{"ok": true, "nic": "net0", "forward": "f", '
              b'"x": {"a": [1, -2.5e3, true, null, "\\u001b"]}}\n',
    "list": b'{"ok": true, "forwards": {"net0": [1]}}\n',
    "status": b'{"ok": true, "name": "odd", "pid": 7, "state": "running", '
              b'"uptime_s": 1, "spec": "/o.yaml", "cpus": 1, '
              b'"memory": "1G"}\n',
}
def odd(req):
    if req.get("cmd") == "forward-list":
        return ODD["list"]
    if req.get("cmd") == "status":
        return ODD["status"]
    return ODD.get(req.get("rule"), b'{"ok": true}\n')
def serve(name, answer):
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(d, name + ".sock"))
    s.listen(8)
    while True:
        c, _ = s.accept()
        buf = b""
        while b"\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
        if b"\n" in buf:
            line = buf.split(b"\n")[0]
            with open(log, "ab") as f:
                f.write(line + b"\n")
            reply = answer(json.loads(line))
            if isinstance(reply, dict):
                reply = json.dumps(reply).encode() + b"\n"
            try:
                c.sendall(reply)
            except OSError:
                pass
        c.close()
for name, answer in (("web1", web1), ("odd", odd)):
    threading.Thread(target=serve, args=(name, answer), daemon=True).start()
threading.Event().wait(60)
PY
server_pid=$!
for _ in $(seq 50); do
    [ -S run/vmspec/web1.sock ] && [ -S run/vmspec/odd.sock ] && break
    sleep 0.1
done

# --- 1. Requests and their replies ---------------------------------------

vm forward web1 add tcp::8080-:80 --nic net0
expect "add: exit 0, says what the VM added" \
    eval "[ $rc -eq 0 ] && [ \"\$(cat out)\" = 'web1: net0: added tcp:127.0.0.1:8080-10.0.2.15:80' ]"
expect "add: sends cmd, rule and nic" \
    sent '{"cmd": "forward-add", "rule": "tcp::8080-:80", "nic": "net0"}'
vm forward web1 remove --nic net1 tcp::8080-:80
expect "remove: exit 0, options before the rule too" \
    eval "[ $rc -eq 0 ] && has 'web1: net1: removed tcp:127.0.0.1:8080-10.0.2.15:80'"
expect "remove: sends forward-remove with the nic" \
    sent '{"cmd": "forward-remove", "rule": "tcp::8080-:80", "nic": "net1"}'
vm forward web1 add tcp::8080-:80
expect "add without --nic: no \"nic\" member sent" \
    sent '{"cmd": "forward-add", "rule": "tcp::8080-:80"}'
expect "add without --nic: the VM's refusal is exit 1 with its message" \
    eval "[ $rc -eq 1 ] && [ \"\$(cat out)\" = 'vmspec: web1: the VM has 2 user-mode NICs (net0, net1): name one' ]"
vm forward web1 add bad --nic net0
expect "a refused rule: exit 1, the VM's message escaped, one line" \
    eval "[ $rc -eq 1 ] && has \"vmspec: web1: 'bad': not a rule\\x1b[31m\\nforged\" &&
          [ \$(wc -l <out) -eq 1 ]"
vm forward web1 add $'tcp::1-:1\x1b\xff"' --nic $'n\n0'
expect "odd bytes in a rule and a nic are sent as JSON strings" \
    sent '{"cmd": "forward-add", "rule": "tcp::1-:1\u001b\ufffd\"", "nic": "n\n0"}'
expect "... and the output shows them escaped" \
    eval "[ $rc -eq 0 ] && has 'web1: n\\n0: added' && [ \$(wc -l <out) -eq 1 ]"

vm forward web1 list
expect "list: a header and one line a forward, '-' for a NIC without" \
    eval "[ $rc -eq 0 ] && [ \"\$(cat out)\" = \"\$(printf '%-12s %s\n' NIC FORWARD net0 tcp:127.0.0.1:2222-10.0.2.15:22 net1 -)\" ]"
expect "list: sends forward-list alone" sent '{"cmd": "forward-list"}'
vm forward web1 list --format json
expect "list --format json: the VM's forwards object" \
    python3 -c 'import json, sys
sys.exit(json.load(open(sys.argv[1])) != {"net0": ["tcp:127.0.0.1:2222-10.0.2.15:22"], "net1": []})' out
vm ps --format json
expect "ps --format json: each VM's forwards ({} when its reply has none), numbers as numbers" \
    python3 -c 'import json, sys
vms = {v["name"]: v for v in json.load(open(sys.argv[1]))}
sys.exit(not (vms["web1"]["forwards"] == {"net0": ["tcp:127.0.0.1:2222-10.0.2.15:22"], "net1": []}
              and vms["web1"]["pid"] == 42 and vms["web1"]["uptime_s"] == 3.5
              and vms["odd"]["forwards"] == {}))' out
vm ps
expect "ps: the table is as it was (a line a VM, no forwards column)" \
    eval "[ $rc -eq 0 ] && [ \$(wc -l <out) -eq 3 ] && head -1 out | grep -q 'SPEC\$' &&
          grep -q '^web1 .*/s/web1.yaml\$' out"

# --- 2. Replies that are not the protocol's --------------------------------

for r in notjson dup deep trailing; do
    vm forward odd add "$r" --nic net0
    expect "a reply that is not the protocol's ($r): exit 1, said" \
        eval "[ $rc -eq 1 ] && has 'vmspec: odd: the reply is not a JSON object'"
done
vm forward odd add endless --nic net0
expect "a reply line over the bound: exit 1, no answer" \
    eval "[ $rc -eq 1 ] && has 'vmspec: odd: no answer on the control socket'"
vm forward odd add noerror --nic net0
expect "{\"ok\": false} without an error: exit 1, a message still" \
    eval "[ $rc -eq 1 ] && has 'vmspec: odd: the request failed'"
vm forward odd add nested --nic net0
expect "nested values in a reply are read" \
    eval "[ $rc -eq 0 ] && has 'odd: net0: added f'"
vm forward odd add deep8 --nic net0
expect "nesting 8 deep is read (9 is not)" \
    eval "[ $rc -eq 0 ] && has 'odd: net0: added deep8'"
vm forward odd list
expect "list: forwards that are not string arrays are an error" \
    eval "[ $rc -eq 1 ] && has \"the reply's \\\"forwards\\\" is not an object of string arrays\""
vm ps --format json
expect "ps lists a VM whose status has no forwards" \
    python3 -c 'import json, sys
sys.exit([v["name"] for v in json.load(open(sys.argv[1]))] != ["odd", "web1"])' out

# --- 3. Errors before anything is sent --------------------------------------

before=$(requests)
vm forward web1 add "$(head -c 5000 /dev/zero | tr '\0' x)" --nic net0
expect "a request over 4096 bytes: exit 1, not sent" \
    eval "[ $rc -eq 1 ] && has 'the request is over 4096 bytes' && [ \$(requests) -eq $before ]"
vm forward gone list
expect "no such VM: exit 1, says so" \
    eval "[ $rc -eq 1 ] && has 'no VM named gone is running'"
for args in "" "web1" "web1 frob" "web1 add" "web1 add a b" "web1 remove" \
            "web1 list x" "web1 list --nic net0" "web1 add r --format json" \
            "web1 list --format yaml" "web1 add r --bogus"; do
    # shellcheck disable=SC2086 # the words of args are the arguments
    vm forward $args
    expect "usage: 'forward $args' is exit 2 with a message" \
        eval "[ $rc -eq 2 ] && grep -q '^vmspec' out"
done
expect "usage errors send nothing" eval "[ \$(requests) -eq $before ]"
vm --help
expect "--help lists forward with its summary" \
    eval "has 'forward NAME add|remove|list' && has \"Change a running VM's host forwards\""

echo "1..$n"
