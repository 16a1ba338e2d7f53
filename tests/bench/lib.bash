# Sourced by the benchmarks: the one way each gets real KVM.
#
# bench_under_kvm: true when this process already runs under real KVM,
# directly (the host's /dev/kvm) or inside tests/kvm-sandbox.
bench_under_kvm() {
    case ${VMSPEC_SANDBOX:-} in
        direct|inside) return 0 ;;
    esac
    return 1
}

# bench_enter_kvm TIMEOUT CMD...: unless under real KVM already, builds
# the test guest and re-runs CMD (normally `env VAR=... bash "$0" "$@"`)
# inside tests/kvm-sandbox, which picks direct KVM or the emulated machine
# and gives up after TIMEOUT seconds.  Returns only when under KVM.
bench_enter_kvm() {
    bench_under_kvm && return 0
    local timeout=$1
    shift
    tests/guest/build >&2
    exec tests/kvm-sandbox --timeout "$timeout" "$@"
}

# bench_field FILE MARKER KEY: KEY's value on the first "VMSPEC: MARKER"
# line the guest printed to FILE (empty if none).
bench_field() {
    grep -a "VMSPEC: $2" "$1" | tr -d '\r' | head -n 1 |
        sed -n "s/.* $3=\([^ ]*\).*/\1/p"
}
