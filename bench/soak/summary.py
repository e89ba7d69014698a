#!/usr/bin/env python3
"""The soak's verdict: reads the samples CSV (and run facts from the environment, set by run.sh),
prints the Markdown summary, draws a PNG if matplotlib imports, exits 1 unless flat and clean.

Why a least-squares slope over the steady part: RSS jumps while heaps and pools size themselves
in the first minutes and then saw-tooths with GC; start-vs-end alone would judge one tooth. The
fit over everything after the warm-up says whether the trend rises; the end-start bound catches
a late step the slope averages away.
"""
import csv
import os
import sys

e = os.environ
KINDS = ("bulk", "halfclose", "reset", "pingpong", "connrate")


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


rows = []
with open(e["SOAK_CSV"]) as f:
    for r in csv.DictReader(f):
        rows.append(r)
warm = float(e["WARMUP"])
max_slope, max_growth = float(e["MAX_SLOPE_MIB_H"]), float(e["MAX_GROWTH_MIB"])
pts = [(num(r["elapsed_s"]), num(r["rss_kib"]) / 1024) for r in rows if num(r["rss_kib"]) is not None]
steady = [p for p in pts if p[0] >= warm]
problems = []
if len(steady) < 3:
    problems.append("fewer than 3 samples after the warm-up: no trend can be fitted")
    slope = start = end = mx = None
else:
    n = len(steady)
    mt = sum(t for t, _ in steady) / n
    mr = sum(r for _, r in steady) / n
    den = sum((t - mt) ** 2 for t, _ in steady)
    slope = (sum((t - mt) * (r - mr) for t, r in steady) / den * 3600) if den else 0.0
    start, end = steady[0][1], steady[-1][1]
    mx = max(r for _, r in pts)
fds = [int(r["fds"]) for r in rows if r["fds"]]
last = rows[-1] if rows else {}


def count(k, what):
    v = num(last.get("%s_%s" % (k, what)))
    return int(v) if v is not None else 0


ok = {k: count(k, "ok") for k in KINDS}
fail = {k: count(k, "fail") for k in KINDS}
integ = int(num(last.get("integrity_fail")) or 0)
nbytes = int(num(last.get("bytes")) or 0)
ib = e.get("IDLE_BEFORE", "").split("|")
ia = e.get("IDLE_AFTER", "").split("|")
while len(ib) < 5:
    ib.append("")
while len(ia) < 5:
    ia.append("")

flat = True
if slope is None or slope >= max_slope:
    flat = False
if start is not None and end - start >= max_growth:
    flat = False
if not ib[0] or not ia[0] or ib[0] != ia[0]:
    flat = False
if e.get("FWD_ALIVE") != "1":
    problems.append("the forwarder died during the mix")
if e.get("PRIME_AFTER_ERR"):
    problems.append(e["PRIME_AFTER_ERR"])
if integ:
    problems.append("%d integrity failures (hash mismatch or truncation)" % integ)
if any(fail.values()):
    problems.append("failed operations: " + ", ".join("%s %d" % (k, v) for k, v in fail.items() if v))
idle_kinds = [k for k in KINDS if ok[k] == 0]
if idle_kinds:
    problems.append("kinds that never ran: " + ", ".join(idle_kinds))

wall = num(e.get("MIX_WALL")) or float(e["DURATION"])
mix_status = e.get("SOAK_MIX_STATUS", "")
mix_cpu = None
for w in mix_status.split():
    if w.startswith("cpu_s="):
        mix_cpu = num(w[6:])
cpus = [num(e.get(k)) for k in ("FWD_CPU", "ECHO_CPU", "PEER_CPU")]


def f1(v, d=1):
    return "n/a" if v is None else ("%." + str(d) + "f") % v


def kib_mib(v):
    v = num(v)
    return "n/a" if v is None else "%.1f" % (v / 1024)


verdict = "flat" if flat else "NOT FLAT"
out = []
p = out.append
p("# forwarder soak, %s" % e.get("STAMP", ""))
p("")
p("**Verdict: %s**%s" % (verdict, "" if not problems else "; **FAILED: " + "; ".join(problems) + "**"))
p("")
p("- mix: %s s (ran %.0f s), a sample every %s s, steady part after %s s; nbthread %s; forwarder JVM flags: %s"
  % (e["DURATION"], wall, e["SAMPLE"], e["WARMUP"], e["NBTHREAD"], e.get("FORWARDER_JVM") or "(none)"))
p("- java: %s; jar %s; machine: %d cores" % (e.get("JAVA_VERSION", "?"), e.get("JAR", "?"), os.cpu_count() or 0))
if float(e["DURATION"]) < 1800:
    p("- note: a run under 30 min says little about an hourly slope (one GC tooth extrapolates to many MiB/h)")
p("")
p("## Memory and fds")
p("")
p("| | value |")
p("|---|---:|")
p("| RSS at steady start (t=%s s), MiB | %s |" % (f1(steady[0][0], 0) if steady else "n/a", f1(start)))
p("| RSS at end, MiB | %s |" % f1(end))
p("| RSS end - steady start, MiB (limit < %s) | %s |" % (e["MAX_GROWTH_MIB"], f1(None if start is None else end - start)))
p("| RSS max, MiB | %s |" % f1(mx))
p("| RSS least-squares slope over the steady part, MiB/h (limit < %s) | %s |" % (e["MAX_SLOPE_MIB_H"], f1(slope, 2)))
p("| fds during the mix: min / max | %s / %s |" % ((min(fds), max(fds)) if fds else ("n/a", "n/a")))
p("")
p("Idle (no connections; after a forced GC), before the mix (after a priming pass) and after it:")
p("")
p("| | before | after |")
p("|---|---:|---:|")
p("| fds | %s | %s |" % (ib[0] or "n/a", ia[0] or "n/a"))
p("| fd kinds | %s | %s |" % (ib[1] or "n/a", ia[1] or "n/a"))
p("| threads | %s | %s |" % (ib[2] or "n/a", ia[2] or "n/a"))
p("| VmRSS, MiB | %s | %s |" % (kib_mib(ib[3]), kib_mib(ia[3])))
p("| Java heap in use after GC, MiB | %s | %s |" % (kib_mib(ib[4]), kib_mib(ia[4])))


def nmt(path):
    """committed KiB per NMT category of a 'VM.native_memory summary' file"""
    import re
    d = {}
    try:
        for l in open(path):
            m = re.match(r"\s*(?:-\s+)?(.+?) \(reserved=\d+KB, committed=(\d+)KB", l)
            if m:
                d[m.group(1).strip()] = int(m.group(2))
            m = re.match(r"\s*Total: reserved=\d+KB, committed=(\d+)KB", l)
            if m:
                d["Total"] = int(m.group(1))
    except OSError:
        pass
    return d


nb, na = nmt(e.get("NMT_BEFORE", "")), nmt(e.get("NMT_AFTER", ""))
if nb and na:
    p("")
    p("Native Memory Tracking, committed at idle before -> after (categories that moved by 256 KiB or more):")
    p("")
    p("| category | before KiB | after KiB | change |")
    p("|---|---:|---:|---:|")
    for k in nb:
        if abs(na.get(k, 0) - nb[k]) >= 256 or k == "Total":
            p("| %s | %d | %d | %+d |" % (k, nb[k], na.get(k, 0), na.get(k, 0) - nb[k]))
p("")
p("## Operations")
p("")
p("| kind | done | failed |")
p("|---|---:|---:|")
for k in KINDS:
    p("| %s | %d | %d |" % (k, ok[k], fail[k]))
p("")
p("Bulk/half-close bytes checked: %.2f GiB; integrity failures: %d." % (nbytes / 2 ** 30, integ))
cpu_total = sum(c for c in cpus + [mix_cpu] if c is not None)
p("CPU over the mix, s: forwarder %s, echo server %s, test peer %s (whole run), clients %s (mix.py and its LoadClients)"
  " = %.0f%% of one core on average." % (f1(cpus[0]), f1(cpus[1]), f1(cpus[2]), f1(mix_cpu), 100 * cpu_total / wall if wall else 0))
if e.get("SOAK_MIX_LOG"):
    p("")
    p("First failures reported by the mix:")
    p("")
    p("```")
    p(e["SOAK_MIX_LOG"])
    p("```")
p("")
p("Samples: `%s`" % os.path.relpath(e["SOAK_CSV"]))

png = e.get("SOAK_PNG")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = [num(r["elapsed_s"]) for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(t, [num(r["rss_kib"]) / 1024 for r in rows], label="VmRSS (MiB)", color="tab:blue")
    ax.axvline(warm, color="grey", linestyle=":", label="steady part starts")
    ax.set_xlabel("seconds")
    ax.set_ylabel("MiB")
    ax2 = ax.twinx()
    ax2.plot(t, [num(r["fds"]) for r in rows], label="open fds", color="tab:orange", alpha=0.7)
    ax2.set_ylabel("fds")
    fig.legend(loc="lower right")
    ax.set_title("forwarder soak: RSS and fds (%s)" % verdict)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    p("Plot: `%s`" % os.path.relpath(png))
except ImportError:
    p("Plot: none (python3 matplotlib is not installed)")
except Exception as ex:  # a plot must not hide the verdict
    p("Plot: failed (%s)" % ex)

print("\n".join(out))
sys.exit(0 if flat and not problems else 1)
