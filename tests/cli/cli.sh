#!/usr/bin/env bash
# The CLI skeleton against the real registry: help, version, types,
# describe, and the usage errors (exit 2) with did-you-mean hints.
set -u
VMSPEC=${VMSPEC:-build/vmspec}
n=0
check() {   # check DESC EXPECTED_RC PATTERN CMD...
    local desc=$1 want=$2 pattern=$3 out rc
    shift 3
    n=$((n + 1))
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc (rc=$rc, want $want, pattern '$pattern')"
        sed 's/^/# /' <<<"$out"
    fi
}

check "--help lists the commands" 0 'describe TYPE' $VMSPEC --help
check "--version" 0 '^vmspec [0-9]+\.[0-9]+' $VMSPEC --version
check "no command is a usage error" 2 'Usage: vmspec COMMAND' $VMSPEC
check "unknown command suggests" 2 "unknown command 'tpyes'; did you mean 'types'\?" $VMSPEC tpyes
check "types shows the tree root" 0 '^object \(abstract\)' $VMSPEC types
check "types marks machine abstract" 0 '`-- machine \(abstract\)|\|-- machine \(abstract\)' $VMSPEC types
check "types shows device" 0 '-- device \(abstract\)' $VMSPEC types
check "types rejects arguments" 2 'takes no arguments' $VMSPEC types extra
check "describe machine: cpus" 0 'cpus +int 1\.\.255 +1 +Number of virtual CPUs' $VMSPEC describe machine
check "describe machine: memory" 0 'memory +size 16M\.\.64T +256M' $VMSPEC describe machine
check "describe unknown type suggests" 1 "unknown type 'machin'; did you mean 'machine'\?" $VMSPEC describe machin
check "describe needs a type" 2 'expected one TYPE' $VMSPEC describe
check "describe bad option" 2 'Unknown option --frob' $VMSPEC describe --frob machine
echo "1..$n"
