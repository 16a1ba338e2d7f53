#!/usr/bin/env bash
# A short libFuzzer run of every target under tests/fuzz (clang, ASan,
# UBSan, leak detection): no crash, no leak, no timeout.  FUZZ_SECONDS per
# target (default 10 here; `make fuzz-smoke` alone defaults to 20).
set -u
seconds=${FUZZ_SECONDS:-10}
n=0
if ! make -s fuzz >build/fuzz-build.log 2>&1; then
    echo "not ok 1 - fuzz targets build"; sed 's/^/# /' build/fuzz-build.log | tail -20
    echo "1..1"; exit 0
fi
for src in tests/fuzz/fuzz-*.c; do
    name=$(basename "$src" .c)
    n=$((n + 1))
    out=$(make -s fuzz-smoke FUZZ_BINS=build/fuzz/$name FUZZ_SECONDS="$seconds" 2>&1)
    if [ $? -eq 0 ]; then
        runs=$(grep -o 'number_of_executed_units: [0-9]*' <<<"$out" | grep -o '[0-9]*$')
        echo "ok $n - $name: ${runs:-?} inputs in ${seconds}s, no crash or leak"
    else
        echo "not ok $n - $name"; sed 's/^/# /' <<<"$out" | tail -40
    fi
done
echo "1..$n"
