#!/usr/bin/env bash
# Hostile and careless input at scale: specs with 100,000 list items or a
# 16-file extends chain of big bases, --set paths of 30,000 components,
# and the --set rules (ids before indexes, no extends, UTF-8 in any
# locale).  Each command runs under `timeout 1` and a memory limit, so
# that a quadratic walk or a tree held per level fails here at once
# instead of taking minutes.
set -u
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
: > vmlinuz; : > a.img; : > b.img
n=0

# check DESC EXPECTED_RC PATTERN CMD...: CMD exits EXPECTED_RC within a
# second, in at most $mem_kib KiB of address space, and prints a line
# matching PATTERN (grep -E).  An ASan build (VMSPEC=build/asan/vmspec)
# reserves terabytes of shadow memory and runs slower: no memory limit,
# and 3 seconds.
mem_kib=524288
seconds=1
if grep -qa __asan_init "$VMSPEC"; then
    seconds=3
fi
check() {
    local desc=$1 want=$2 pattern=$3 out rc
    shift 3
    n=$((n + 1))
    if [ "$seconds" = 1 ]; then
        out=$( (ulimit -v "$mem_kib" && exec timeout 1 "$@") 2>&1); rc=$?
    else
        out=$(timeout "$seconds" "$@" 2>&1); rc=$?
    fi
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc (rc=$rc, want $want, pattern '$pattern')"
        head -c 2000 <<<"$out" | sed 's/^/# /'
    fi
}

header() {
    printf 'vmspec: 1\nname: big\nmachine: {type: microvm, cpus: 1, memory: 128M}\nboot: {kernel: vmlinuz}\n'
}

# list KEY N ITEM: "KEY: [ITEM,ITEM,...]" with N items; %d in ITEM is the
# item's index.
list() {
    awk -v key="$1" -v n="$2" -v item="$3" 'BEGIN {
        printf "%s: [", key
        for (i = 0; i < n; i++) { printf (i ? "," : ""); printf item, i }
        print "]"
    }'
}

# 99,900 empty NIC entries (300 KB, the issue's case): each is a valid
# user-mode NIC, so the machine runs out of slots; quickly.
{ header; list nics 99900 '{}'; } > nics.yaml
check "99,900 list items fail fast" 1 \
    "virtio-net 'net16': the microvm machine has 16 virtio-mmio slots" \
    "$VMSPEC" check nics.yaml
# 99,900 entries that are each wrong: all are counted and placed.
{ header; list nics 99900 'x'; } > bad-nics.yaml
check "99,900 bad list items: every one counted" 1 \
    '^99900 errors in 1 of 1 spec$' "$VMSPEC" check bad-nics.yaml
check "... and each is placed" 1 \
    "^bad-nics.yaml:5:8: nics\[0\]: expected a map, not a scalar" \
    "$VMSPEC" check bad-nics.yaml

# 30,000 NICs that are each fine: the machine runs out of slots.
{ header; list nics 30000 '{tap: t%d}'; } > taps.yaml
check "30,000 devices: out of virtio slots, fast" 1 \
    "virtio-net 'net16': the microvm machine has 16 virtio-mmio slots; all are taken" \
    "$VMSPEC" check taps.yaml

# A map of 49,000 keys: every key looked up once.
{ header; printf 'labels: {'; awk 'BEGIN { for (i = 0; i < 49000; i++)
    printf "%sk%d: v", (i ? ", " : ""), i }'; echo '}'; } > keys.yaml
check "49,000 keys in one map fail fast" 1 "unknown key 'labels'" \
    "$VMSPEC" check keys.yaml

# 16 files of 19,000 disks each: the chain gets one file's node budget,
# so it stops at the second file instead of holding all sixteen (which
# took 440 MiB and minutes).
for i in $(seq 0 15); do
    { if [ "$i" -lt 15 ]; then echo "extends: b$((i + 1)).yaml"; else header; fi
      list disks 19000 "{id: d${i}x%d, path: a.img}"; } > "b$i.yaml"
done
mem_kib=131072
check "a chain of 16 big bases: bounded time and memory" 1 \
    "^b0.yaml:1:10: 'extends' chain too large: more than 100000 nodes in all its files \(b0.yaml -> b1.yaml\)$" \
    "$VMSPEC" check b0.yaml
mem_kib=524288

header > small.yaml
deep=$(awk 'BEGIN { for (i = 0; i < 30000; i++) printf (i ? ".a" : "a") }')
check "--set: a 30,000-component path is refused at once" 1 \
    ': key path too deep: 30000 components \(limit 64\)$' \
    "$VMSPEC" check --set "$deep=1" small.yaml
deep=$(awk 'BEGIN { for (i = 0; i < 64; i++) printf (i ? ".a" : "a") }')
check "--set: 64 components are a path like any other" 1 \
    "^--set $deep=1: unknown key 'a' in the spec" \
    "$VMSPEC" check --set "$deep=1" small.yaml
check "--set extends is refused, not ignored" 1 \
    "^--set extends=small.yaml: 'extends' can't be set with --set" \
    "$VMSPEC" check --set extends=small.yaml small.yaml

# Ids before indexes: disks.0 is the disk with id "0" (the second one),
# disks.#0 the first; a number that is no id is still an index.
{ header; printf 'disks:\n  - {id: first, path: a.img}\n  - {id: "0", path: b.img}\n'; } > ids.yaml
readonly_of() {   # readonly_of SET ID: the readonly value plan shows for ID
    timeout "$seconds" "$VMSPEC" plan --set "$1" ids.yaml |
        awk -v id="$2" '$0 ~ "^/machine/" id " " { on = 1; next }
                        /^\// { on = 0 } on && $1 == "readonly:" { print $2 }'
}
n=$((n + 1))
if [ "$(readonly_of disks.0.readonly=true 0)" = true ] &&
   [ "$(readonly_of disks.0.readonly=true first)" = false ]; then
    echo "ok $n - --set disks.0 is the disk with id 0, not the first"
else
    echo "not ok $n - --set disks.0 is the disk with id 0, not the first"
fi
n=$((n + 1))
if [ "$(readonly_of 'disks.#0.readonly=true' first)" = true ] &&
   [ "$(readonly_of 'disks.#0.readonly=true' 0)" = false ]; then
    echo "ok $n - --set disks.#0 is the first disk"
else
    echo "not ok $n - --set disks.#0 is the first disk"
fi
n=$((n + 1))
if [ "$(readonly_of disks.1.readonly=true 0)" = true ]; then
    echo "ok $n - --set disks.1 (no such id) is still the second disk"
else
    echo "not ok $n - --set disks.1 (no such id) is still the second disk"
fi
check "--set disks.#2: out of range" 1 \
    "^--set disks.#2.readonly=true: index #2 is out of range: 'disks' has 2 items$" \
    "$VMSPEC" check --set 'disks.#2.readonly=true' ids.yaml

# UTF-8 in --set, whatever the locale (vmspec never calls setlocale()).
for locale in C POSIX C.UTF-8; do
    check "--set takes UTF-8 (LC_ALL=$locale)" 0 'boot.cmdline: café €$' \
        env LC_ALL=$locale "$VMSPEC" plan --set 'boot.cmdline=café €' small.yaml
done
check "--set: not UTF-8 is a placed error" 1 '^--set name=.+: not valid UTF-8$' \
    "$VMSPEC" check --set $'name=\xff' small.yaml
check "--set: not UTF-8 is refused by run too" 1 '^--set name=.+: not valid UTF-8$' \
    "$VMSPEC" run --set $'name=\xff' small.yaml

echo "1..$n"
