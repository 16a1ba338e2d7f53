#!/usr/bin/env bash
# What vmspec writes holds against what it echoes: control characters,
# C1 controls and invalid UTF-8 in specs, file names, arguments and a VM's
# status replies come out escaped (text) or as valid UTF-8 JSON; a write
# error on stdout is exit 1 with a message; plan --dtb writes into the file
# it names as a shell's `>` would.
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
# Raw bytes a terminal acts on: C0 but newline, DEL, C1 (UTF-8 C2 80..9F),
# and 0xff (invalid UTF-8, what these tests feed in).
has_raw_controls() {
    LC_ALL=C grep -qP '[\x00-\x09\x0b-\x1f\x7f\xff]|\xc2[\x80-\x9f]' "$1"
}
is_utf8() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; }
has() { grep -qF -- "$1" "$tmp/out"; }

cd "$tmp" || exit 1
: >vmlinuz
# YAML double-quoted escapes: \n, \e (ESC), \a (BEL), \x85 (U+0085, a C1
# control), \u2028 (line separator).
cat >nl.yaml <<'SPEC'
vmspec: 1
name: hello
machine: {type: microvm}
boot:
  kernel: vmlinuz
  cmdline: "a\nb/machine (evil)\e[31mred\a\x85\u2028"
SPEC
cat >quotes.yaml <<'SPEC'
vmspec: 1
name: quotes
machine: {type: microvm}
boot:
  kernel: vmlinuz
  cmdline: '"q" \ x # not a comment'
SPEC
cat >plain.yaml <<'SPEC'
vmspec: 1
name: plain
machine: {type: microvm}
boot:
  kernel: vmlinuz
  cmdline: console=ttyS0 quiet
SPEC
cat >esc.yaml <<'SPEC'
vmspec: 1
name: "x\e]0;pwn\a\x9b"
machine: {type: microvm}
boot: {kernel: vmlinuz}
SPEC
cp esc.yaml $'bad\xff.yaml'

# --- 1. Text output escapes what it echoes ---------------------------------

$VMSPEC plan nl.yaml >out 2>&1
expect "plan: a cmdline with a newline is one quoted, escaped line" \
    has '  boot.cmdline: "a\nb/machine (evil)\x1b[31mred\x07\u0085\u2028"'
expect "plan: the forged object line is not a line" \
    [ "$(grep -c '^/machine (' out)" -eq 1 ]
expect "plan: no raw control character reaches the output" \
    eval '! has_raw_controls out'

$VMSPEC plan quotes.yaml >out 2>&1
expect "plan: a value starting with a quote is quoted, \\\" and \\\\ escaped" \
    has '  boot.cmdline: "\"q\" \\ x # not a comment"'
$VMSPEC plan plain.yaml >out 2>&1
expect "plan: a plain value stays unquoted" \
    has '  boot.cmdline: console=ttyS0 quiet'

$VMSPEC check esc.yaml >out 2>&1
expect "check: ESC, BEL and a C1 control in a diagnostic are escaped" \
    has "esc.yaml:2:7: name: 'x\\x1b]0;pwn\\x07\\u009b' is not a valid name"
expect "check: no raw control character reaches the terminal" \
    eval '! has_raw_controls out'

$VMSPEC check $'bad\xff.yaml' >out 2>&1
expect "check: an invalid UTF-8 byte in a file name prints as \\xff" \
    has 'bad\xff.yaml:2:7: name:'
expect "check: the text output is valid UTF-8" is_utf8 out

$VMSPEC $'ty\epes' >out 2>&1
expect "an unknown command is echoed escaped" \
    has "vmspec: unknown command 'ty\\x1bpes'"
$VMSPEC plan $'--\e[2J' plain.yaml >out 2>&1
expect "an unknown option is echoed escaped" \
    has 'vmspec plan: Unknown option --\x1b[2J'
$VMSPEC check --format $'js\aon' plain.yaml >out 2>&1
expect "an unknown format is echoed escaped" \
    has "vmspec check: unknown format 'js\\x07on'"
$VMSPEC describe $'ma\e[2Jchine' >out 2>&1
expect "describe: an unknown type is echoed escaped" \
    has "vmspec: unknown type 'ma\\x1b[2Jchine'"
VMSPEC_RUNTIME_DIR=$tmp/run $VMSPEC stop $'vm\e[2J' >out 2>&1
expect "stop: a VM name is echoed escaped" has 'no VM named vm\x1b[2J is running'

# ps against a stand-in VM whose status reply is hostile: control
# characters in its name, state and spec path, a "pid" that is no number.
mkdir -p run/vmspec
if command -v python3 >/dev/null; then
    timeout 10 python3 - "$tmp/run/vmspec/evil.sock" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(2)
for _ in range(2):
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b'{"ok": true, "name": "evil\\u001b]0;pwn\\u0007", '
              b'"pid": "1,\\"x\\":2", "state": "running\\nforged", '
              b'"uptime_s": 5, "spec": "/s/\\u009b.yaml", "cpus": 1, '
              b'"memory": "256M"}\n')
    c.close()
PY
    server_pid=$!
    for _ in $(seq 50); do [ -S run/vmspec/evil.sock ] && break; sleep 0.1; done
    VMSPEC_RUNTIME_DIR=$tmp/run timeout 5 "$VMSPEC" ps >out 2>&1
    expect "ps: a status reply's name, state and spec are escaped, one line" \
        eval "has 'evil\\x1b]0;pwn\\x07' && has 'running\\nforged' &&
              has '/s/\\u009b.yaml' && [ \$(wc -l <out) -eq 2 ]"
    VMSPEC_RUNTIME_DIR=$tmp/run timeout 5 "$VMSPEC" ps --format json >out 2>&1
    expect "ps --format json: a pid that is no number is a string" \
        python3 -c '
import json, sys
vm = json.load(open(sys.argv[1]))[0]
sys.exit(not (vm["pid"] == "1,\"x\":2" and vm["uptime_s"] == 5 and
              vm["name"] == "evil\x1b]0;pwn\x07"))' out
    wait "$server_pid"
    server_pid=
else
    ok "ps: a status reply is escaped # SKIP no python3"
    ok "ps --format json: a pid that is no number is a string # SKIP no python3"
fi

# --- 2. A write error on stdout is an error -----------------------------

for cmd in "plan plain.yaml" "plan --format json plain.yaml" \
           "check plain.yaml" "check --format json esc.yaml" "schema" \
           "describe microvm" "types" "--help" "--version" "plan --help"; do
    # shellcheck disable=SC2086 # the words of cmd are its arguments
    $VMSPEC $cmd >/dev/full 2>out; rc=$?
    expect "$cmd >/dev/full: exit 1, 'No space left on device', once" \
        eval "[ $rc -eq 1 ] &&
              has 'vmspec: writing standard output: No space left on device' &&
              [ \$(grep -c 'writing standard output' out) -eq 1 ]"
done
$VMSPEC types >/dev/null 2>out; rc=$?
expect "types >/dev/null: exit 0, nothing on stderr" eval "[ $rc -eq 0 ] && [ ! -s out ]"

# --- 3. JSON output is valid UTF-8 ---------------------------------------

$VMSPEC check --format json $'bad\xff.yaml' >out 2>&1
expect "check --format json: valid UTF-8 for an invalid file name" is_utf8 out
expect "check --format json: the invalid byte is U+FFFD, controls \\u00XX" \
    eval "has '\"file\":\"bad\\ufffd.yaml\"' && has 'x\\u001b]0;pwn\\u0007\\u009b'"
expect "check --format json: each line is one JSON object" \
    python3 -c '
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
sys.exit(not lines or any(json.loads(l)["file"] != "bad\ufffd.yaml"
                          for l in lines))' out
$VMSPEC plan --format json nl.yaml >out 2>&1
expect "plan --format json: a cmdline with controls reads back as written" \
    python3 -c '
import json, sys
tree = json.load(open(sys.argv[1], encoding="utf-8"))
m = tree["children"][0]
sys.exit(m["properties"]["boot.cmdline"] !=
         "a\nb/machine (evil)\x1b[31mred\x07\x85\u2028")' out
expect "plan --format json: no raw control character" eval '! has_raw_controls out'

# --- 4. plan --dtb writes like > -----------------------------------------
# Through links in $tmp only: a vmspec that replaced the file it names
# (rename over it) must not, run as root, replace the real /dev/null.

cat >virt.yaml <<'SPEC'
vmspec: 1
name: dt
machine: {type: virt}
boot: {kernel: vmlinuz}
SPEC
dtb_magic() { [ "$(od -An -tx1 -N4 "$1" | tr -d ' ')" = d00dfeed ]; }
: >target.dtb
ln -s target.dtb link.dtb
$VMSPEC plan --dtb link.dtb virt.yaml >out 2>&1; rc=$?
expect "--dtb through a symlink: the link stays, its target gets the tree" \
    eval "[ $rc -eq 0 ] && [ -L link.dtb ] && [ \"\$(readlink link.dtb)\" = target.dtb ] &&
          dtb_magic target.dtb"
ln -s /proc/self/fd/1 stdout
$VMSPEC plan --dtb stdout virt.yaml 2>out >stdout.dtb; rc=$?
expect "--dtb to a link to /dev/stdout writes the tree into stdout" \
    eval "[ $rc -eq 0 ] && [ -L stdout ] && dtb_magic stdout.dtb"
expect "--dtb ... | wc -c: the tree goes through a pipe" \
    eval "[ \"\$($VMSPEC plan --dtb stdout virt.yaml | wc -c)\" -gt 40 ]"
ln -s /dev/null null
$VMSPEC plan --dtb null virt.yaml >out 2>&1; rc=$?
expect "--dtb to a link to /dev/null: exit 0, both stay as they are" \
    eval "[ $rc -eq 0 ] && [ -L null ] && [ -c /dev/null ]"
if mknod chardev c 1 3 2>/dev/null; then
    $VMSPEC plan --dtb chardev virt.yaml >out 2>&1; rc=$?
    expect "--dtb to a character device (a null of its own) keeps it one" \
        eval "[ $rc -eq 0 ] && [ -c chardev ]"
else
    ok "--dtb to a character device keeps it one # SKIP mknod needs root"
fi
ln -s /dev/full full
$VMSPEC plan --dtb full virt.yaml >out 2>&1; rc=$?
expect "--dtb to /dev/full: exit 1 with the reason" \
    eval "[ $rc -eq 1 ] && [ -L full ] &&
          has 'writing the device tree to full: No space left on device'"
$VMSPEC plan --dtb - virt.yaml >/dev/full 2>out; rc=$?
expect "--dtb - >/dev/full: exit 1 with the reason" \
    eval "[ $rc -eq 1 ] && has 'writing standard output: No space left on device'"
$VMSPEC plan --dtb nodir/x.dtb virt.yaml >out 2>&1; rc=$?
expect "--dtb into a missing directory: exit 1 naming it" \
    eval "[ $rc -eq 1 ] && has 'nodir/x.dtb: No such file or directory'"
echo "1..$n"
