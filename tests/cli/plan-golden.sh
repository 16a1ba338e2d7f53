#!/usr/bin/env bash
# `vmspec plan` of every example against its checked-in output
# (tests/cli/golden/NAME.plan): a change to what a spec resolves to
# (defaults, derived MACs, the resources each device is assigned) shows up
# as a diff here.  The examples run from a scratch copy of the tree with
# empty stand-ins for the build's files, so the output does not depend on
# what was built; the copy's path prints as ROOT.
# VMSPEC_UPDATE_GOLDEN=1 rewrites the golden files instead.
set -u
unset VMSPEC_VIRTIOFSD   # plans name the default virtiofsd
VMSPEC=${VMSPEC:-$PWD/build/vmspec}
GOLDEN=$PWD/tests/cli/golden
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp -r examples schemas "$root/"
mkdir -p "$root/build/guest" "$root/build/guest-aarch64" "$root/build/demo"
: >"$root/build/guest/vmlinuz"
: >"$root/build/guest/initrd.cpio.gz"
: >"$root/build/guest-aarch64/Image"
: >"$root/build/guest-aarch64/initrd.cpio.gz"
: >"$root/build/demo/data.img"
# examples/dev.yaml: the dev image's files, its disk a real (empty) qcow2
# (the plan reads its header); the seed's state directory in the copy and
# the host user as under `sudo` by uid 1000, whoever runs this.
mkdir -p "$root/build/dev-image"
: >"$root/build/dev-image/vmlinuz"
: >"$root/build/dev-image/initrd.img"
qemu-img create -q -f qcow2 "$root/build/dev-image/dev.qcow2" 8G
export VMSPEC_STATE_DIR=$root/state SUDO_UID=1000 SUDO_GID=1000
n=0
cd "$root"
for f in $(find examples -name '*.yaml' | sort); do
    name=$(echo "${f#examples/}" | tr / -); name=${name%.yaml}
    out=$($VMSPEC plan "$f" 2>&1 | sed "s|$root|ROOT|g"); rc=$?
    n=$((n + 1))
    if [ "${VMSPEC_UPDATE_GOLDEN:-0}" = 1 ]; then
        printf '%s\n' "$out" >"$GOLDEN/$name.plan"
        echo "ok $n - $f: golden output written"
    elif [ ! -f "$GOLDEN/$name.plan" ]; then
        echo "not ok $n - $f: no golden output $GOLDEN/$name.plan"
    elif d=$(diff -u "$GOLDEN/$name.plan" - <<<"$out"); then
        echo "ok $n - $f: plan matches $name.plan"
    else
        echo "not ok $n - $f: plan differs from $name.plan"
        sed 's/^/# /' <<<"$d"
    fi
done
echo "1..$n"
