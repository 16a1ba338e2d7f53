#!/usr/bin/env bash
# The spec corpus (tests/specs): every good spec passes `vmspec check` and
# the independent JSON Schema validator; every bad spec gets exactly one
# diagnostic, at the expected line:col with the expected text, and the
# validator agrees on the structural ones.  Also: the checked-in schema is
# what `vmspec schema` prints, and `plan` is deterministic.
set -u
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
SCHEMA=$PWD/schemas/vmspec.schema.json
VALIDATE="/usr/bin/python3 $PWD/tests/specs/validate.py $SCHEMA"
cd tests/specs
n=0
ok()   { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

for f in good/*.yaml; do
    out=$($VMSPEC check "$f" 2>&1); rc=$?
    [ $rc -eq 0 ] && ok "check accepts $f" || fail "check accepts $f" "$out"
    v=$($VALIDATE "$f" 2>&1)
    [[ $v == VALID* ]] && ok "validator accepts $f" || fail "validator accepts $f" "$v"
done

while IFS='|' read -r file class expect; do
    file=$(echo $file); class=$(echo $class); expect=${expect# }
    case "$file" in ''|\#*) continue ;; esac
    f=bad/$file
    out=$($VMSPEC check "$f" 2>&1); rc=$?
    diags=$(grep -c "^bad/" <<<"$out")
    want="$f:$expect"
    if [[ $expect == @* ]]; then    # "@other.yaml L:C: ...": error in another file
        other=${expect%% *}; want="bad/${other#@}:${expect#* }"
    fi
    [ "$file" = empty.yaml ] && want="$f: $expect"
    if [ $rc -eq 1 ] && [ "$diags" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then
        ok "check: $f -> $expect"
    else
        fail "check: $f -> $expect" "rc=$rc diagnostics=$diags" "$out"
    fi
    if [ "$class" = structural ]; then
        v=$($VALIDATE "$f" 2>&1)
        [[ $v == INVALID* ]] && ok "validator also rejects $f" ||
            fail "validator also rejects $f" "$v"
    fi
done < bad/EXPECTED

listed=$(grep -c '^[a-z]' bad/EXPECTED)
files=$(ls bad/*.yaml | grep -vc 'cycle-b')
[ "$listed" -eq "$files" ] && ok "every bad spec has an expectation" ||
    fail "every bad spec has an expectation" "listed $listed, files $files"

# A whole directory: all files checked, errors of every file reported.
nbad=$(ls bad/*.yaml | wc -l)
out=$($VMSPEC check bad 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "^$nbad errors in $nbad of $nbad specs$" <<<"$out" &&
    ok "check DIR reports every file" ||
    fail "check DIR reports every file" "$(tail -3 <<<"$out")"

out=$($VMSPEC check --format json bad/enum.yaml 2>&1)
[ "$out" = '{"file":"bad/enum.yaml","line":5,"column":12,"severity":"error","message":"on_reboot: '"'"'restrat'"'"' is not one of: exit, restart"}' ] &&
    ok "check --format json" || fail "check --format json" "$out"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp good/minimal.yaml "$tmp/a.yaml"; cp good/minimal.yaml "$tmp/b.yaml"
sed -i "s|\.\./files|$PWD/files|" "$tmp/a.yaml" "$tmp/b.yaml"
out=$($VMSPEC check "$tmp" 2>&1)
grep -qF "$tmp/b.yaml:2:7: duplicate VM name 'minimal': $tmp/a.yaml uses it too" <<<"$out" &&
    ok "duplicate VM names in a directory" ||
    fail "duplicate VM names in a directory" "$out"

# Host resources: the tails of messages the expectations above can't hold
# (they follow an absolute path).
out=$($VMSPEC check bad/console-dir.yaml 2>&1)
grep -qF "bad/console-dir.yaml:5:10: the console writes $PWD/files, which is a directory" <<<"$out" &&
    ok "a console file that is a directory" || fail "a console file that is a directory" "$out"
out=$($VMSPEC check bad/console-kernel.yaml 2>&1)
grep -qF "the kernel $PWD/files/vmlinuz (boot.kernel, bad/console-kernel.yaml:4:16)" <<<"$out" &&
    ok "a console on the kernel names the kernel's entry" ||
    fail "a console on the kernel names the kernel's entry" "$out"
# A readonly disk and a writable one on one image, spelled two ways.
printf 'vmspec: 1\nname: rw\nmachine: {type: microvm}\nboot: {kernel: %s/files/vmlinuz}\ndisks:\n  - {id: ro, path: %s/files/disk.img, readonly: true}\n  - {id: rw, path: %s/files/../files/disk.img}\n' \
    "$PWD" "$PWD" "$PWD" > "$tmp/rw.yaml"
out=$($VMSPEC check "$tmp/rw.yaml" 2>&1)
grep -qF "$tmp/rw.yaml:7:5: disk 'rw' writes the disk image $PWD/files/disk.img (disk 'ro', $tmp/rw.yaml:6:5)" <<<"$out" &&
    ok "a writable disk on a readonly disk's image" ||
    fail "a writable disk on a readonly disk's image" "$out"
out=$($VMSPEC plan "$tmp/rw.yaml" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qF "$tmp/rw.yaml:7:5: disk 'rw' writes" <<<"$out" &&
    ok "plan refuses what check refuses" || fail "plan refuses what check refuses" "rc=$rc" "$out"
# Across specs, `up` refuses before starting anything.
mkdir "$tmp/up"
for vm in one two; do
    printf 'vmspec: 1\nname: %s\nmachine: {type: microvm}\nboot: {kernel: %s/files/vmlinuz}\nnics: [{id: n, tap: vmspec-t0}]\n' \
        "$vm" "$PWD" > "$tmp/up/$vm.yaml"
done
out=$($VMSPEC up --log-dir "$tmp/logs" "$tmp/up" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qF "vmspec: one and two both use the tap vmspec-t0 ($tmp/up/one.yaml:5:8, $tmp/up/two.yaml:5:8)" <<<"$out" &&
    ! ls "$tmp/logs"/*.log >/dev/null 2>&1 &&
    ok "up: two specs on one tap start nothing" || fail "up: two specs on one tap start nothing" "rc=$rc" "$out"

out=$($VMSPEC check --set machine.memory=1X good/minimal.yaml 2>&1)
grep -qF -- "--set machine.memory=1X: memory: '1X' is not a size" <<<"$out" &&
    ok "--set errors point at the option" || fail "--set errors point at the option" "$out"

out=$($VMSPEC plan --set machine.cpus=3 --set disks.root.readonly=false good/child.yaml)
# The base's cpus: 2 is overridden by --set, so it must not show.
if grep -q '^  memory: 1G$' <<<"$out" && grep -q '^  cpus: 3$' <<<"$out" &&
   ! grep -q '^  cpus: 2$' <<<"$out" &&
   grep -q '^/machine/data (virtio-blk)$' <<<"$out" &&
   grep -A6 '^/machine/root' <<<"$out" | grep -q 'readonly: false'; then
    ok "plan: extends merged, --set applied"
else
    fail "plan: extends merged, --set applied" "$out"
fi

a=$($VMSPEC plan --format json good/full.yaml); b=$($VMSPEC plan --format json good/full.yaml)
if [ "$a" = "$b" ] && /usr/bin/python3 -c 'import json,sys; json.loads(sys.argv[1])' "$a"; then
    ok "plan --format json is valid and deterministic"
else
    fail "plan --format json is valid and deterministic"
fi
mac=$($VMSPEC plan good/full.yaml | sed -n '/net1/,/mac/p' | sed -n 's/.*mac: //p')
[ "$mac" = "$($VMSPEC plan good/full.yaml | sed -n '/net1/,/mac/p' | sed -n 's/.*mac: //p')" ] &&
    [[ $mac =~ ^[0-9a-f][26ae]:([0-9a-f]{2}:){4}[0-9a-f]{2}$ ]] &&
    ok "mac: auto is stable and locally administered ($mac)" ||
    fail "mac: auto is stable and locally administered" "$mac"
# Known answer: SHA-256("full/net1") starts 96 4b fa 58 76 da (its first
# octet is already locally administered and unicast).
[ "$mac" = 96:4b:fa:58:76:da ] && ok "mac: auto is SHA-256(NAME/ID), known answer" ||
    fail "mac: auto is SHA-256(NAME/ID), known answer" "got $mac, want 96:4b:fa:58:76:da"

if $VMSPEC schema | cmp -s - "$SCHEMA"; then
    ok "schemas/vmspec.schema.json is up to date"
else
    fail "schemas/vmspec.schema.json is up to date" "run: build/vmspec schema > schemas/vmspec.schema.json"
fi
for ex in ../../examples/*.yaml; do
    [ -e "$ex" ] || continue
    head -1 "$ex" | grep -q '^# yaml-language-server: \$schema=' &&
        ok "$(basename "$ex") carries the schema line" ||
        fail "$(basename "$ex") carries the schema line"
done
echo "1..$n"
