#!/usr/bin/env bash
# The files a spec is and names, as a careless or hostile tree has them:
# FIFOs (whose open(2) would wait for a writer), sockets and dangling
# symlinks are placed errors, never hangs (every such command runs under
# `timeout`, so a regression fails instead of hanging the suite); check
# tests access for the user who runs it; standard input is a spec; one
# file spelled two ways is one file; an unreadable directory is a
# diagnostic like any other; `--` ends the options.
set -u
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
case $VMSPEC in /*) ;; *) VMSPEC=$PWD/$VMSPEC ;; esac
dir=$(mktemp -d)
trap 'chmod -R u+rwx "$dir"; rm -rf "$dir"' EXIT
chmod 755 "$dir"    # the unprivileged user's checks traverse it
cd "$dir" || exit 1
n=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

# expect DESC RC TEXT CMD...: CMD exits RC and prints a line holding TEXT.
expect() {
    local desc=$1 want=$2 text=$3 out rc
    shift 3
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq "$want" ] && grep -qF -- "$text" <<<"$out"; then
        ok "$desc"
    else
        fail "$desc" "rc=$rc, want $want" "want: $text" "$out"
    fi
}

# spec FILE NAME [KERNEL]: a valid spec of VM NAME (kernel vmlinuz).
spec() {
    printf 'vmspec: 1\nname: %s\nmachine: {type: microvm}\nboot: {kernel: %s}\n' \
        "$2" "${3:-vmlinuz}" >"$1"
}
: >vmlinuz
truncate -s 1M disk.img

# --- 1. FIFOs are refused, not waited on ----------------------------------
mkfifo fifo.yaml kfifo
expect "a FIFO as the spec is a placed error" 1 \
    "fifo.yaml: cannot read spec: not a regular file" \
    timeout 1 "$VMSPEC" check fifo.yaml
expect "plan of a FIFO too" 1 "fifo.yaml: cannot read spec: not a regular file" \
    timeout 1 "$VMSPEC" plan fifo.yaml
printf 'extends: fifo.yaml\nname: child\n' >child.yaml
expect "a FIFO as the extends base: an error at the extends, not a hang" 1 \
    "child.yaml:1:10: can't read base spec 'fifo.yaml': not a regular file" \
    timeout 1 "$VMSPEC" check child.yaml
spec kfifo.yaml k kfifo
expect "a FIFO as the kernel: at the value" 1 \
    "kfifo.yaml:4:16: kernel: $dir/kfifo is not a regular file" \
    timeout 1 "$VMSPEC" check kfifo.yaml
spec pinned.yaml p "{path: kfifo, sha256: $(printf 'a%.0s' {1..64})}"
expect "a pinned FIFO kernel: at the value, nothing hashed" 1 \
    "pinned.yaml:4:23: kernel: $dir/kfifo is not a regular file" \
    timeout 1 "$VMSPEC" check pinned.yaml
spec devnull.yaml n /dev/null
expect "a device as the kernel" 1 \
    "devnull.yaml:4:16: kernel: /dev/null is not a regular file" \
    timeout 1 "$VMSPEC" check devnull.yaml
spec dfifo.yaml d
printf 'disks:\n  - {id: d, path: kfifo}\n' >>dfifo.yaml
expect "a FIFO as a disk image: at the value" 1 \
    "dfifo.yaml:6:19: path: $dir/kfifo is not a regular file or block device" \
    timeout 1 "$VMSPEC" check dfifo.yaml

# --- 2. check asks for the access of the user who runs it -----------------
# as_user CMD...: CMD as an unprivileged user (root passes every access
# check); "" when that cannot be done here.
if [ "$(id -u)" -ne 0 ]; then
    as_user=()
elif command -v setpriv >/dev/null &&
     setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
elif command -v runuser >/dev/null && runuser -u nobody -- true 2>/dev/null; then
    as_user=(runuser -u nobody --)
else
    as_user=(none)
fi
if [ "${as_user[0]-}" != none ] && ! "${as_user[@]}" "$VMSPEC" --version >/dev/null 2>&1; then
    as_user=(none)  # the build is not reachable by that user
fi
spec_access=(
    "a kernel the user cannot read"
    "a writable disk the user cannot write"
    "a readonly disk needs only read access"
    "a snapshot disk needs only read access"
    "a spec the user cannot read"
    "an unreadable directory is a placed diagnostic"
    "  ... counted in the summary"
    "  ... and one JSON object"
)
if [ "${as_user[0]-}" = none ]; then
    for d in "${spec_access[@]}"; do skip "$d (no way to run as an unprivileged user)"; done
else
    : >secret-kernel; chmod 000 secret-kernel
    spec secret.yaml s secret-kernel
    expect "${spec_access[0]}" 1 \
        "secret.yaml:4:16: kernel: cannot read $dir/secret-kernel: Permission denied" \
        timeout 2 "${as_user[@]}" "$VMSPEC" check secret.yaml
    cp disk.img ro.img; chmod 444 ro.img
    spec rw.yaml rw
    printf 'disks:\n  - {id: d, path: ro.img}\n' >>rw.yaml
    expect "${spec_access[1]}" 1 \
        "rw.yaml:6:19: path: cannot write $dir/ro.img (the guest may write it): Permission denied" \
        timeout 2 "${as_user[@]}" "$VMSPEC" check rw.yaml
    spec readonly.yaml ro
    printf 'disks:\n  - {id: d, path: ro.img, readonly: true}\n' >>readonly.yaml
    expect "${spec_access[2]}" 0 "1 spec OK" \
        timeout 2 "${as_user[@]}" "$VMSPEC" check readonly.yaml
    spec snap.yaml sn
    printf 'disks:\n  - {id: d, path: ro.img, snapshot: true}\n' >>snap.yaml
    expect "${spec_access[3]}" 0 "1 spec OK" \
        timeout 2 "${as_user[@]}" "$VMSPEC" check snap.yaml
    spec hidden.yaml h; chmod 000 hidden.yaml
    expect "${spec_access[4]}" 1 "hidden.yaml: cannot read spec: Permission denied" \
        timeout 2 "${as_user[@]}" "$VMSPEC" check hidden.yaml

    # --- 5. an unreadable directory ---------------------------------------
    mkdir closed; spec closed/a.yaml c; chmod 000 closed
    out=$(timeout 2 "${as_user[@]}" "$VMSPEC" check closed 2>&1); rc=$?
    if [ $rc -eq 1 ] &&
       [ "$(head -1 <<<"$out")" = "closed: cannot read directory: Permission denied" ]; then
        ok "${spec_access[5]}"
    else
        fail "${spec_access[5]}" "rc=$rc" "$out"
    fi
    if [ "$(tail -1 <<<"$out")" = "1 error in 1 of 1 spec" ]; then
        ok "${spec_access[6]}"
    else
        fail "${spec_access[6]}" "$out"
    fi
    out=$(timeout 2 "${as_user[@]}" "$VMSPEC" check --format json closed 2>&1); rc=$?
    if [ $rc -eq 1 ] && python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
d = json.loads(lines[0])
sys.exit(not (len(lines) == 1 and d["file"] == "closed" and
              d["message"] == "cannot read directory: Permission denied"))
' <<<"$out" 2>/dev/null; then
        ok "${spec_access[7]}"
    else
        fail "${spec_access[7]}" "rc=$rc" "$out"
    fi
fi

# --- 3. standard input --------------------------------------------------
spec stdin.yaml in
printf 'disks:\n  - {id: d, path: missing.img}\n' >>stdin.yaml
for name in - /dev/stdin; do
    expect "check $name: a relative path resolves against the working directory" 1 \
        "$name:6:19: path: $dir/missing.img: No such file or directory" \
        timeout 2 "$VMSPEC" check "$name" <stdin.yaml
done
sed 's/missing.img/disk.img/' stdin.yaml >stdin-ok.yaml
expect "check - of a valid spec" 0 "1 spec OK" \
    timeout 2 "$VMSPEC" check - <stdin-ok.yaml
expect "plan /dev/stdin shows the resolved disk" 0 "path: $dir/disk.img" \
    timeout 2 "$VMSPEC" plan /dev/stdin <stdin-ok.yaml
expect "plan - shows the resolved kernel" 0 "boot.kernel: $dir/vmlinuz" \
    timeout 2 "$VMSPEC" plan - <stdin-ok.yaml
expect "run - loads the spec from standard input" 1 \
    "-:6:19: path: $dir/missing.img: No such file or directory" \
    timeout 2 "$VMSPEC" run - <stdin.yaml
spec base.yaml base
printf 'extends: base.yaml\nname: derived\n' >derived.txt
expect "extends in a spec on standard input: relative to the working directory" 0 \
    "name: derived" timeout 2 "$VMSPEC" plan - <derived.txt
expect "a spec piped in, not redirected" 0 "1 spec OK" \
    timeout 2 bash -c "cat stdin-ok.yaml | '$VMSPEC' check -"

# --- 4. one file, however it is spelled ---------------------------------
spec one.yaml one
expect "a spec named twice is checked once, not its own duplicate" 0 "1 spec OK" \
    timeout 2 "$VMSPEC" check one.yaml one.yaml ./one.yaml "$dir/one.yaml"
mkdir same; spec same/a.yaml twin ../vmlinuz; spec same/b.yaml twin ../vmlinuz
expect "a duplicate name across spellings of one directory" 1 \
    "./same/b.yaml:2:7: duplicate VM name 'twin': same/a.yaml uses it too" \
    timeout 2 "$VMSPEC" check same/a.yaml ./same/b.yaml
ln -s same alias
expect "... and through a symlinked directory" 1 \
    "alias/b.yaml:2:7: duplicate VM name 'twin': same/a.yaml uses it too" \
    timeout 2 "$VMSPEC" check same/a.yaml alias/b.yaml
spec same/b.yaml other ../vmlinuz
expect "a spec both in DIR and named is checked once" 0 "2 specs OK" \
    timeout 2 "$VMSPEC" check same same/a.yaml ./same/b.yaml

# --- 6. -- ends the options -----------------------------------------------
spec ./-dash.yaml dash
expect "check -- -dash.yaml checks -dash.yaml" 0 "1 spec OK" \
    timeout 2 "$VMSPEC" check -- -dash.yaml
expect "check -- -missing.yaml names the spec, not --" 1 \
    "-missing.yaml: cannot read spec: No such file or directory" \
    timeout 2 "$VMSPEC" check -- -missing.yaml
out=$(timeout 2 "$VMSPEC" check -- -missing.yaml 2>&1)
if grep -q '^--:' <<<"$out"; then fail "-- is not a spec" "$out"; else ok "-- is not a spec"; fi
expect "plan -- -dash.yaml plans -dash.yaml" 0 "name: dash" \
    timeout 2 "$VMSPEC" plan -- -dash.yaml
expect "stop -- -vm looks for -vm, not --" 1 "no VM named -vm" \
    env VMSPEC_RUNTIME_DIR="$PWD/run" timeout 2 "$VMSPEC" stop -- -vm

# --- 7. what a checked directory holds ----------------------------------
mkdir odd
spec odd/good.yaml good ../vmlinuz
mkfifo odd/fifo.yaml
ln -s nowhere.yaml odd/dangling.yaml
have_socket=false
if command -v python3 >/dev/null &&
   python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("odd/socket.yaml")' 2>/dev/null; then
    have_socket=true
fi
out=$(timeout 2 "$VMSPEC" check odd 2>&1); rc=$?
if [ $rc -eq 1 ]; then
    ok "a directory of odd entries: exit 1, no hang"
else
    fail "a directory of odd entries: exit 1, no hang" "rc=$rc" "$out"
fi
# has_line LINE: the output of that check holds LINE.
has_line() {
    if grep -qxF -- "$1" <<<"$out"; then ok "placed: $1"; else fail "placed: $1" "$out"; fi
}
has_line "odd/fifo.yaml: cannot read spec: not a regular file"
has_line "odd/dangling.yaml: cannot read spec: dangling symbolic link (its target does not exist)"
if $have_socket; then
    has_line "odd/socket.yaml: cannot read spec: not a regular file"
    want="3 errors in 3 of 4 specs"
else
    skip "a socket entry (python3 cannot make a socket here)"
    want="2 errors in 2 of 3 specs"
fi
if [ "$(tail -1 <<<"$out")" = "$want" ]; then
    ok "the good spec is checked too: $want"
else
    fail "the good spec is checked too: $want" "$out"
fi
echo "1..$n"
