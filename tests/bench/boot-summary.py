#!/usr/bin/python3
"""Summarizes tests/bench/boot.sh: medians per VMM and ratios to QEMU microvm."""
import json, statistics, sys
runs, sys_ = {}, {}
for line in open(sys.argv[1]):
    vmm, kind, data = line.split(" ", 2)
    d = json.loads(data)
    (runs if kind == "run" else sys_).setdefault(vmm, []).append(d)
def med(vmm, key):
    vals = [r[key] for r in runs[vmm] if r[key] is not None]
    return statistics.median(vals) if vals else float("nan")
base = "qemu-microvm"
print(f"boot benchmark: medians of {sys.argv[2]}, 256 MiB, 1 vCPU")
print(f"{'':14} {'to marker':>10} {'to exit':>9} {'RSS-guest':>10} "
      f"{'vs microvm (marker)':>20}")
for vmm in ("vmspec", "qemu-microvm", "qemu-pc", "vmspec-cold"):
    if vmm not in runs:
        continue
    m, e, r = med(vmm, "marker_s"), med(vmm, "exit_s"), med(vmm, "rss_kib")
    print(f"{vmm:14} {m:9.2f}s {e:8.2f}s {r/1024:8.1f}Mi "
          f"{m / med(base, 'marker_s'):19.2f}x")
print("(vmspec-cold: vmspec's first boot of this kernel, one run, which "
      "decodes it into an empty boot cache)")
print()
print(f"{'':14} {'syscalls before KVM_RUN':>24} {'exec to KVM_RUN':>16}"
      f"   (medians of {sys.argv[2]}, under strace)")
def sys_med(vmm):
    return {k: statistics.median(r[k] for r in sys_[vmm])
            for k in ("syscalls", "to_kvm_run_s")}
q = sys_med(base)
for vmm in ("vmspec", "qemu-microvm", "kvm-floor"):
    if vmm not in sys_:
        continue
    s = sys_med(vmm)
    print(f"{vmm:14} {s['syscalls']:>24g} {s['to_kvm_run_s']:15.3f}s"
          f"   {s['syscalls'] / q['syscalls']:.2f}x"
          f" {s['to_kvm_run_s'] / q['to_kvm_run_s']:.2f}x")
print("(ratios to qemu-microvm; kvm-floor: only the KVM calls and the copies "
      "of bzImage and initrd\n that any VMM makes, the floor of this "
      "measurement)")
bad = [vmm for vmm in runs for r in runs[vmm] if r["rc"] != 0 or r["marker_s"] is None]
if bad:
    print("FAILED runs:", ", ".join(sorted(set(bad))))
    sys.exit(1)
