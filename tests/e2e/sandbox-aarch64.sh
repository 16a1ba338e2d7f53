#!/usr/bin/env bash
# tests/kvm-sandbox --arch aarch64: CMD runs on arm64 in the same working
# directory, with the sandbox's busybox as /bin/sh, its output and status
# come back, and KVM works there: kvm-probe-aarch64.c (built here with
# aarch64-linux-gnu-gcc -static) gets its MMIO and PSCI exits.  Runs on the
# host: it starts the sandbox itself (twice, ~5 s each when emulated).
set -u
source "$(dirname "$0")/lib.sh"

tap_plan 7
cc=aarch64-linux-gnu-gcc
if ! command -v "$cc" >/dev/null; then
    for _ in $(seq 7); do
        tap_skip "kvm-sandbox --arch aarch64" "no $cc (tests/install-deps)"
    done
    exit 0
fi
if ! "$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -static \
        -o "$E2E_TMP/kvm-probe" "$E2E_ROOT/tests/e2e/kvm-probe-aarch64.c" \
        2>"$E2E_TMP/cc.err"; then
    for _ in $(seq 7); do
        tap_fail "build kvm-probe-aarch64" "$(cat "$E2E_TMP/cc.err")"
    done
    exit 1
fi

# The job, for busybox sh; the probe and the script live in $E2E_TMP,
# which the sandbox sees at the same path.  env makes the kernel exec
# /bin/sh itself (busybox sh would read a script it cannot exec itself).
cat >"$E2E_TMP/hello.sh" <<'EOF'
#!/bin/sh
echo "hello.sh ran with $*"
EOF
chmod +x "$E2E_TMP/hello.sh"
cat >"$E2E_TMP/job.sh" <<EOF
echo "arch=\$(uname -m) pwd=\$(pwd)"
[ -c /dev/kvm ] && echo "dev-kvm present"
env "$E2E_TMP/hello.sh" 1 2
env /bin/sh -c 'echo "bin-sh -c works"'
"$E2E_TMP/kvm-probe"
echo "probe-status=\$?"
echo "to-stderr" >&2
exit 3
EOF

start=$SECONDS
cd "$E2E_TMP" || exit 1
run_capture job 600 "$E2E_ROOT/tests/kvm-sandbox" --arch aarch64 \
    --timeout 300 sh "$E2E_TMP/job.sh"
echo "# sandbox start and job: $((SECONDS - start)) s"
out=$E2E_TMP/job.out
rc=$(cat "$E2E_TMP/job.rc")

if [ "$rc" = 3 ]; then
    tap_ok "CMD's exit status comes back"
else
    tap_fail "CMD's exit status comes back" "status $rc, not 3" \
        "$(tail -n 20 "$E2E_TMP/job.err")"
fi
if assert_contains "$out" "arch=aarch64 pwd=$E2E_TMP"; then
    tap_ok "CMD runs on aarch64 in the caller's working directory"
else
    tap_fail "CMD runs on aarch64 in the caller's working directory"
fi
if assert_contains "$E2E_TMP/job.err" "to-stderr"; then
    tap_ok "CMD's stderr comes back"
else
    tap_fail "CMD's stderr comes back"
fi
if assert_contains "$out" "hello.sh ran with 1 2" &&
   assert_contains "$out" "bin-sh -c works"; then
    tap_ok "/bin/sh and #!/bin/sh scripts run"
else
    tap_fail "/bin/sh and #!/bin/sh scripts run"
fi
if assert_contains "$out" "dev-kvm present"; then
    tap_ok "/dev/kvm in the sandbox"
else
    tap_fail "/dev/kvm in the sandbox"
fi
notes=()
for s in "kvm-probe: mmio write addr=0x9000000 len=8 data=0x42" \
         "kvm-probe: mmio write addr=0x9000008 len=8 data=0x1122334455667788" \
         "kvm-probe: system event type=1" "kvm-probe: ok" "probe-status=0"; do
    grep -qF -- "$s" "$out" || notes+=("no '$s'")
done
if [ ${#notes[@]} -eq 0 ]; then
    tap_ok "KVM probe: MMIO write, read, write back, PSCI SYSTEM_OFF"
else
    tap_fail "KVM probe: MMIO write, read, write back, PSCI SYSTEM_OFF" \
        "${notes[@]}" "$(grep -a 'kvm-probe' "$out")"
fi

# An x86 program cannot run there: refused with 126, not a shell's
# syntax errors.
if [ "$(uname -m)" = aarch64 ]; then
    tap_skip "an x86 CMD is refused" "native arm64"
else
    run_capture x86 600 "$E2E_ROOT/tests/kvm-sandbox" --arch aarch64 \
        --timeout 300 /usr/bin/true
    if [ "$(cat "$E2E_TMP/x86.rc")" = 126 ] &&
       assert_contains "$E2E_TMP/x86.err" "is not an arm64 program"; then
        tap_ok "an x86 CMD is refused"
    else
        tap_fail "an x86 CMD is refused" "status $(cat "$E2E_TMP/x86.rc")" \
            "$(tail -n 5 "$E2E_TMP/x86.err")"
    fi
fi
