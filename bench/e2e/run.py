#!/usr/bin/env python3
"""End-to-end relay comparison: every relay, every case, interleaved in one run (make bench-e2e).

Why one runner: relays measured in separate sessions drift apart with whatever else the machine
does (two shared cores here). This runner keeps one backend of each kind (iperf3 server,
EchoServer, redis-server) and one set of clients for the whole run, and interleaves the targets
round by round: for round in 1..REPEAT, for target in TARGETS, a freshly started relay runs every
case, then is stopped. Drift then spreads over all targets instead of favouring one, and the
report gives medians over the rounds with their min-max.

A relay has one backend address, so per round and target it is started once per backend kind
(iperf3, echo, redis): fresh, optionally WARMUP seconds of load, that kind's cases, stop.

Rules kept here: every wait has a deadline; processes are started in their own session and
stopped by their process group only; only 127.0.0.1 is used; a failed run becomes a FAILED row
with its reason and the run goes on; echoed bytes are verified by LoadClient (errors counted),
redis answers are checked with a SET/GET of a random token through the relay before each case.
Standard library only; the plots run in a Python that has matplotlib (see plot()).
"""

import argparse
import csv
import json
import os
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HAPROXY_TEMPLATE = os.path.join(ROOT, "bench", "e2e", "haproxy.cfg.in")

# ------------------------------------------------------------------------------------ targets
ALL_TARGETS = ["direct", "haproxy-copy", "haproxy-splice", "socat", "forwarder-copy", "forwarder-splice",
               "forwarder-splice-auto", "netty-copy", "netty-splice", "nio"]
JAVA_RELAY_CLASS = {"netty-copy": "org.forwarder.bench.relay.NettyRelay",
                    "netty-splice": "org.forwarder.bench.relay.NettyRelay",
                    "nio": "org.forwarder.bench.relay.NioRelay"}


def reference(target):
    """The HAProxy row a target is compared with."""
    return "haproxy-splice" if "splice" in target else "haproxy-copy"


# -------------------------------------------------------------------------------------- cases
# name -> (group, backend kind, parameters)
CASES = {
    "iperf-p1": ("iperf", "iperf", {"streams": 1, "reverse": False}),
    "iperf-p8": ("iperf", "iperf", {"streams": 8, "reverse": False}),
    "iperf-p1-r": ("iperf", "iperf", {"streams": 1, "reverse": True}),
    "iperf-p8-r": ("iperf", "iperf", {"streams": 8, "reverse": True}),
    "pingpong-1": ("pingpong", "echo", {"conns": 1}),
    "pingpong-50": ("pingpong", "echo", {"conns": 50}),
    "connrate-1": ("connrate", "echo", {"conns": 1}),
    "connrate-50": ("connrate", "echo", {"conns": 50}),
    "redis-set": ("redis", "redis", {"test": "set"}),
    "redis-get": ("redis", "redis", {"test": "get"}),
}
GROUPS = ["iperf", "pingpong", "connrate", "redis"]
BACKENDS = ["iperf", "echo", "redis"]

CSV_FIELDS = ["stamp", "round", "target", "case", "group", "status", "reason", "seconds",
              "gbps", "bytes", "relay_cpu_s", "cpu_s_per_gb",
              "rate", "ops", "all_ops", "p50_us", "p99_us", "p999_us", "max_us", "errors", "cpu_us_per_op",
              "rps", "p50_ms", "p99_ms", "max_ms", "requests"]

LISTEN_WAIT_S = 20   # a listener must appear within this
STOP_WAIT_S = 10     # after SIGTERM, SIGKILL after this
CLIENT_JVM = ["-XX:+UseSerialGC", "-Xms64m", "-Xmx1g"]   # as bench/threads/run.sh


def log(msg):
    print("[e2e] " + msg, file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(2)


def fmt_s(s):
    s = int(max(0, s))
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


# ----------------------------------------------------------------------------- configuration
def env_int(name, default, lo, hi):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        die("%s=%r is not a whole number" % (name, v))
    if not lo <= n <= hi:
        die("%s=%d is out of range %d..%d" % (name, n, lo, hi))
    return n


def env_float(name, default, lo, hi):
    v = os.environ.get(name, "")
    if v == "":
        return default
    try:
        n = float(v)
    except ValueError:
        die("%s=%r is not a number" % (name, v))
    if not lo <= n <= hi:
        die("%s=%s is out of range %s..%s" % (name, v, lo, hi))
    return n


def expand_cases(words, where):
    out = []
    for w in words:
        if w in CASES:
            picked = [w]
        elif w in GROUPS:
            picked = [c for c in CASES if CASES[c][0] == w]
        else:
            die("unknown case '%s' in %s (cases: %s; groups: %s)" % (w, where, " ".join(CASES), " ".join(GROUPS)))
        for c in picked:
            if c in out:
                die("case '%s' given twice in %s" % (c, where))
            out.append(c)
    if not out:
        die("%s is empty" % where)
    return out


def parse_config(argv):
    ap = argparse.ArgumentParser(
        prog="bench/e2e/run.py",
        description="Interleaved end-to-end comparison of TCP relays on 127.0.0.1 (see bench/e2e/README.md). "
                    "Flags override the environment variables of the same name.")
    ap.add_argument("--targets", help="space-separated targets [env TARGETS; all]")
    ap.add_argument("--cases", help="space-separated cases or groups [env CASES; all]")
    ap.add_argument("--repeat", type=int, help="rounds [env REPEAT; 3, QUICK 1]")
    ap.add_argument("--duration", type=float, help="measured seconds per iperf3/LoadClient case [env DURATION; 4, QUICK 1]")
    ap.add_argument("--warmup", type=float, help="seconds of load on each fresh relay before measuring, 0 = none [env WARMUP; 2, QUICK 1]")
    ap.add_argument("--quick", action="store_true", help="the QUICK=1 profile")
    ap.add_argument("--out-dir", help="report directory [env OUT_DIR; bench/results]")
    ap.add_argument("--plan", action="store_true", help="print the plan and its estimated time, run nothing")
    ap.add_argument("--plot", nargs=2, metavar=("CSV", "PREFIX"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.plot:
        return a
    quick = a.quick or os.environ.get("QUICK", "0") == "1"
    c = argparse.Namespace(plot=None, plan=a.plan, quick=quick)
    targets = (a.targets if a.targets is not None else os.environ.get("TARGETS", " ".join(ALL_TARGETS))).split()
    for t in targets:
        if t not in ALL_TARGETS:
            die("unknown target '%s' (known: %s)" % (t, " ".join(ALL_TARGETS)))
    if len(set(targets)) != len(targets):
        die("a target is given twice in TARGETS")
    if not targets:
        die("TARGETS is empty")
    c.targets = targets
    c.cases = expand_cases((a.cases if a.cases is not None else os.environ.get("CASES", " ".join(GROUPS))).split(),
                           "CASES")
    c.repeat = a.repeat if a.repeat is not None else env_int("REPEAT", 1 if quick else 3, 1, 100)
    c.duration = a.duration if a.duration is not None else env_float("DURATION", 1.0 if quick else 4.0, 0.5, 3600)
    c.warmup = a.warmup if a.warmup is not None else env_float("WARMUP", 1.0 if quick else 2.0, 0, 600)
    if not 1 <= c.repeat <= 100:
        die("--repeat must be 1..100")
    if not 0.5 <= c.duration <= 3600:
        die("--duration must be 0.5..3600")
    if not 0 <= c.warmup <= 600:
        die("--warmup must be 0..600")
    c.client_warmup = env_float("CLIENT_WARMUP", 0.5 if quick else 1.0, 0, 600)
    c.redis_requests = env_int("REDIS_REQUESTS", 5000 if quick else 50000, 100, 100_000_000)
    c.redis_clients = env_int("REDIS_CLIENTS", 50, 1, 10000)
    c.size = env_int("MSG_SIZE", 64, 1, 1 << 20)
    c.out_dir = os.path.abspath(a.out_dir or os.environ.get("OUT_DIR", os.path.join(ROOT, "bench", "results")))
    c.jar = os.path.abspath(os.environ.get("JAR", os.path.join(ROOT, "forwarder", "target", "forwarder.jar")))
    # the forwarder rows run bin/forwarder (the launcher's JVM settings and AOT cache), unless a
    # JAR is named (an A/B of builds) or LAUNCHER=0: then plain java -jar with RELAY_JVM_OPTS
    c.launcher = "JAR" not in os.environ and os.environ.get("LAUNCHER", "1") == "1"
    c.bench_jar = os.path.abspath(os.environ.get("BENCH_JAR", os.path.join(ROOT, "bench", "target", "benchmarks.jar")))
    c.bench_cp = os.path.abspath(os.environ.get("BENCH_CP", os.path.join(ROOT, "bench", "target", "classes")))
    c.relay_jvm = shlex.split(os.environ.get("RELAY_JVM_OPTS", ""))
    c.keep_tmp = os.environ.get("KEEP_TMP", "0") == "1"
    global BASE_PORT, NEXT_PORT
    BASE_PORT = NEXT_PORT = env_int("BASE_PORT", 17300, 1024, 30000)
    c.java = os.environ.get("JAVA") or find_java()
    return c


def find_java():
    homes = [os.environ.get("JAVA_HOME", "")]
    try:
        homes += sorted((os.path.join("/usr/lib/jvm", d) for d in os.listdir("/usr/lib/jvm")), reverse=True)
    except OSError:
        pass
    for h in homes:
        j = os.path.join(h, "bin", "java") if h else ""
        if not j or not os.access(j, os.X_OK):
            continue
        try:
            out = subprocess.run([j, "-XshowSettings:properties", "-version"], capture_output=True, text=True,
                                 timeout=30).stderr
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in out.splitlines():
            if "java.specification.version =" in line:
                try:
                    if int(line.split("=")[1].strip().split(".")[0]) >= 25:
                        return j
                except ValueError:
                    pass
    return None


# ---------------------------------------------------------------------------------- tools
APT_UPDATED = False


def ensure_tools(c):
    """Install the missing Debian packages the selected targets and cases need (when root)."""
    global APT_UPDATED
    need = {}
    groups = {CASES[x][0] for x in c.cases}
    if "iperf" in groups:
        need["iperf3"] = "iperf3"
    if "redis" in groups:
        need["redis-server"] = "redis-server"
        need["redis-benchmark"] = "redis-tools"
    if any(t.startswith("haproxy") for t in c.targets):
        need["haproxy"] = "haproxy"
    if "socat" in c.targets:
        need["socat"] = "socat"
    pkgs = sorted({p for cmd, p in need.items() if shutil.which(cmd) is None})
    if not plot_python():
        pkgs.append("python3-matplotlib")
    if not pkgs:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log("missing: %s (not root or no apt-get: install them yourself)" % " ".join(pkgs))
        return
    envx = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in (0, 1):
        if attempt and not APT_UPDATED:   # the package lists may be stale or missing: update once, retry
            log("apt-get update")
            subprocess.run(["apt-get", "update"], stdout=sys.stderr, stderr=sys.stderr, env=envx, timeout=600)
            APT_UPDATED = True
        log("apt-get install -y " + " ".join(pkgs))
        r = subprocess.run(["apt-get", "install", "-y"] + pkgs, stdout=sys.stderr, stderr=sys.stderr, env=envx,
                           timeout=900)
        if r.returncode == 0:
            return
    log("apt-get could not install: " + " ".join(pkgs))


def plot_python():
    """A python that can import matplotlib: this one, else Debian's /usr/bin/python3 (pyenv may shadow it)."""
    for py in [sys.executable, "/usr/bin/python3"]:
        if py and os.access(py, os.X_OK):
            try:
                if subprocess.run([py, "-c", "import matplotlib"], capture_output=True, timeout=60).returncode == 0:
                    return py
            except (OSError, subprocess.TimeoutExpired):
                pass
    return None


def version_of(cmd, pick=0):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
        return lines[pick].strip() if len(lines) > pick else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not available"


# ------------------------------------------------------------------------------- processes
class Proc:
    """A process started in its own session (pgid == pid), stopped by its group only."""

    def __init__(self, name, argv, logpath):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self.logf = open(logpath, "wb")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True, cwd=ROOT)
        self.pid = self.p.pid
        STARTED.append(self)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                log("%s (pid %d) did not stop within %d s: SIGKILL" % (self.name, self.pid, STOP_WAIT_S))
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    self.p.wait(timeout=STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    pass
        else:   # the leader is gone; its forked children (socat) may not be
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.logf.close()
        if self in STARTED:
            STARTED.remove(self)

    def last_line(self):
        try:
            with open(self.logpath, "rb") as fh:
                lines = [x.decode("utf-8", "replace").strip() for x in fh.read()[-8192:].splitlines()]
        except OSError:
            return ""
        lines = [x for x in lines if x]
        for x in lines:
            if "[ALERT]" in x or x.lower().startswith("error") or "Exception" in x:
                return x[:200]
        return lines[-1][:200] if lines else ""


STARTED = []
HANDED_OUT = set()
BASE_PORT = 17300   # env BASE_PORT
NEXT_PORT = BASE_PORT


def free_port():
    """A port below the ephemeral range (so that no client's outgoing connection holds it), with no
    listener and free to bind now, never handed out before in this run."""
    global NEXT_PORT
    for _ in range(2000):
        p = NEXT_PORT
        NEXT_PORT = NEXT_PORT + 1 if NEXT_PORT < 32000 else BASE_PORT
        if p in HANDED_OUT or listening(p):
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        HANDED_OUT.add(p)
        return p
    raise RuntimeError("no free port in %d..32000" % BASE_PORT)


def listening(port):
    """Is a TCP socket in LISTEN state on this port (any address)? Read /proc, connect nothing."""
    hexport = ":%04X" % port
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if parts[1].endswith(hexport) and parts[3] == "0A":
                        return True
        except (OSError, StopIteration):
            pass
    return False


def wait_listen(proc, port, secs=LISTEN_WAIT_S):
    """None once port listens, else why not."""
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if not proc.alive():
            return "exited (status %s) before listening on 127.0.0.1:%d: %s" % (proc.p.returncode, port,
                                                                                proc.last_line())
        if listening(port):
            return None
        time.sleep(0.05)
    return "nothing listening on 127.0.0.1:%d after %d s: %s" % (port, secs, proc.last_line())


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """utime+stime (all threads) + reaped children's + live descendants' of pid."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            f = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    total = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    for child in children(pid):
        total += cpu_ticks(child)
    return total


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def wait_no_children(pid, secs=5):
    deadline = time.monotonic() + secs
    while children(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def run_client(argv, timeout_s, out_path):
    """Foreground client with a deadline; (returncode or 'timeout', stdout text, stderr text)."""
    with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        try:
            rc = p.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    pass
            rc = "timeout"
        except BaseException:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)
            raise
    with open(out_path, "rb") as fh:
        so = fh.read().decode("utf-8", "replace")
    with open(out_path + ".err", "rb") as fh:
        se = fh.read().decode("utf-8", "replace")
    return rc, so, se


def last_nonempty(text):
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    return lines[-1][:200] if lines else ""


# --------------------------------------------------------------------------------- backends
class Backends:
    def __init__(self, c, tmp):
        self.c, self.tmp = c, tmp
        self.procs = {}
        self.ports = {}

    def ensure(self, kind, restart=False):
        """Port of a live backend of this kind, started or restarted as needed; raises on failure.
        A restart keeps the port if it can: the running relay still forwards to it."""
        p = self.procs.get(kind)
        if p is not None and p.alive() and not restart:
            return self.ports[kind]
        if p is not None:
            if not p.alive():
                log("%s backend died (%s): restarting it" % (kind, p.last_line()))
            p.stop()
        old = self.ports.get(kind)
        why = None
        for port in ([old] if old else []) + [free_port()]:
            proc = self._start(kind, port)
            why = wait_listen(proc, port)
            if not why:
                self.procs[kind], self.ports[kind] = proc, port
                return port
            proc.stop()
        self.procs.pop(kind, None)
        raise RuntimeError("%s backend: %s" % (kind, why))

    def _start(self, kind, port):
        c = self.c
        if kind == "iperf":
            # --idle-timeout: a server stuck after a broken test restarts itself; --rcv-timeout: a test
            # whose data stops flowing ends with an error instead of hanging
            argv = ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port), "--idle-timeout", "20",
                    "--rcv-timeout", "15000"]
        elif kind == "echo":
            argv = [c.java] + CLIENT_JVM + ["-cp", c.bench_cp, "org.forwarder.bench.load.EchoServer",
                                            "--port", str(port), "--threads", "1", "--lifetime", "86400"]
        else:
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--dir", self.tmp, "--logfile", ""]
        return Proc(kind + "-backend", argv, os.path.join(self.tmp, "%s-backend-%d.log" % (kind, port)))

    def stop_all(self):
        for p in self.procs.values():
            p.stop()
        self.procs.clear()


# ----------------------------------------------------------------------------------- relays
def skip_reason(c, target):
    """Why a target cannot run here at all (checked once), or None."""
    if target.startswith("haproxy"):
        if not shutil.which("haproxy"):
            return "haproxy not installed"
        if not os.path.isfile(HAPROXY_TEMPLATE):
            return "missing " + HAPROXY_TEMPLATE
    if target == "socat" and not shutil.which("socat"):
        return "socat not installed"
    if target.startswith("forwarder") or target in JAVA_RELAY_CLASS:
        if not c.java:
            return "no java >= 25 found (set JAVA or JAVA_HOME)"
    if target.startswith("forwarder") and not os.path.isfile(c.jar):
        return "%s not found (run make build)" % os.path.relpath(c.jar, ROOT)
    if target in JAVA_RELAY_CLASS:
        cls = JAVA_RELAY_CLASS[target]
        try:
            with zipfile.ZipFile(c.bench_jar) as z:
                z.getinfo(cls.replace(".", "/") + ".class")
        except FileNotFoundError:
            return "%s not found (run make build)" % os.path.relpath(c.bench_jar, ROOT)
        except (KeyError, zipfile.BadZipFile, OSError):
            return "class %s is not in %s" % (cls, os.path.relpath(c.bench_jar, ROOT))
    return None


def relay_argv(c, target, port, backend, tmp):
    listen, server = "127.0.0.1:%d" % port, "127.0.0.1:%d" % backend
    if target.startswith("haproxy"):
        with open(HAPROXY_TEMPLATE) as fh:
            t = fh.read()
        splice = target == "haproxy-splice"
        t = (t.replace("@LISTEN_PORT@", str(port)).replace("@SERVER_PORT@", str(backend))
             .replace("@GLOBAL_EXTRA@", "" if splice else "nosplice")
             .replace("@SPLICE_OPTIONS@", "option splice-request\n    option splice-response" if splice else ""))
        cfg = os.path.join(tmp, "%s-%d.cfg" % (target, port))
        with open(cfg, "w") as fh:
            fh.write(t)
        return ["haproxy", "-db", "-f", cfg]
    if target == "socat":
        # backlog=1024: socat's default listen backlog is 5, which would drop SYNs at 50 concurrent
        # connects and measure the backlog instead of the relay (HAProxy and the forwarder use large ones).
        return ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,backlog=1024" % port, "TCP:" + server]
    if target.startswith("forwarder"):
        extra = {"forwarder-copy": [], "forwarder-splice": ["--splice-request", "--splice-response"],
                 "forwarder-splice-auto": ["--splice-auto"]}[target]
        args = ["--listen", listen, "--server", server, "--nbthread", "1",
                "--timeout-client", "1m", "--timeout-server", "1m"] + extra
        if c.launcher:
            # as shipped: bin/forwarder's JVM settings and AOT cache (exec: the pid is the JVM's)
            return (["env", "JAVA_HOME=" + os.path.dirname(os.path.dirname(c.java)),
                     "FORWARDER_JVM_OPTS=" + " ".join(shlex.quote(o) for o in c.relay_jvm),
                     os.path.join(ROOT, "bin", "forwarder")] + args)
        return [c.java, "--enable-native-access=ALL-UNNAMED"] + c.relay_jvm + ["-jar", c.jar] + args
    if target in JAVA_RELAY_CLASS:
        return ([c.java, "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"] +
                c.relay_jvm + ["-cp", c.bench_jar, JAVA_RELAY_CLASS[target], "--listen", listen, "--connect", server] +
                (["--splice"] if target == "netty-splice" else []))
    raise ValueError(target)


# ------------------------------------------------------------------------------------ cases
class CaseFailed(Exception):
    pass


def run_iperf(c, tmp, port, relay, params, secs, tag):
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-P", str(params["streams"]), "-t", "%g" % secs, "-J",
            "--connect-timeout", "3000"] + (["-R", "--rcv-timeout", "15000"] if params["reverse"] else [])
    t0 = cpu_ticks(relay.pid) if relay else 0
    rc, out, err = run_client(argv, secs + 25, os.path.join(tmp, tag + ".json"))
    if relay:
        wait_no_children(relay.pid)
    t1 = cpu_ticks(relay.pid) if relay else 0
    if rc == "timeout":
        raise CaseFailed("iperf3 timed out after %g s" % (secs + 25))
    try:
        d = json.loads(out)
    except ValueError:
        raise CaseFailed("iperf3 exit %s, no JSON: %s" % (rc, last_nonempty(err)))
    if d.get("error"):
        raise CaseFailed("iperf3: " + " ".join(str(d["error"]).split()))
    s = (d.get("end") or {}).get("sum_received") or {}
    if "bits_per_second" not in s or not s.get("bytes"):
        raise CaseFailed("iperf3 JSON has no bytes received (exit %s)" % rc)
    if rc != 0:
        raise CaseFailed("iperf3 exited with status %s" % rc)
    r = {"gbps": s["bits_per_second"] / 1e9, "bytes": int(s["bytes"])}
    if relay:
        cpu = (t1 - t0) / CLK_TCK
        r["relay_cpu_s"] = cpu
        r["cpu_s_per_gb"] = cpu / (r["bytes"] / 1e9)
    return r


def run_load(c, tmp, port, relay, mode, conns, secs, warm, tag):
    argv = ([c.java] + CLIENT_JVM + ["-cp", c.bench_cp, "org.forwarder.bench.load.LoadClient", "--mode", mode,
                                     "--port", str(port), "--conns", str(conns), "--threads", "1",
                                     "--size", str(c.size), "--warmup", "%g" % warm, "--duration", "%g" % secs])
    t0 = cpu_ticks(relay.pid) if relay else 0
    rc, out, err = run_client(argv, warm + secs + 45, os.path.join(tmp, tag + ".out"))
    if relay:
        wait_no_children(relay.pid)
    t1 = cpu_ticks(relay.pid) if relay else 0
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise CaseFailed("LoadClient %s: %s" % ("timed out" if rc == "timeout" else "exit %s" % rc,
                                                 last_nonempty(err) or last_nonempty(out)))
    kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)

    def num(k):
        try:
            return float(kv[k])
        except (KeyError, ValueError):
            return None
    r = {k: num(k) for k in ("rate", "ops", "all_ops", "p50_us", "p99_us", "p999_us", "max_us", "errors")}
    if relay and r["all_ops"]:
        # Sampled around the whole client run (its start-up and warm-up too), so that forked
        # children (socat) are counted; the relay idles while the client JVM starts.
        r["relay_cpu_s"] = (t1 - t0) / CLK_TCK
        r["cpu_us_per_op"] = r["relay_cpu_s"] * 1e6 / r["all_ops"]
    if r["errors"]:
        raise CaseFailed("%d errors (%s; stop=%s)" % (r["errors"], " ".join(
            "%s=%s" % (k, v) for k, v in kv.items() if (k.startswith("err_") and v != "0") or k == "first_other"),
            kv.get("stop")), r)
    if not r["ops"]:
        raise CaseFailed("no operation completed (stop=%s)" % kv.get("stop"), r)
    if rc != 0:
        raise CaseFailed("LoadClient exit %s: %s" % (rc, kv.get("failure") or last_nonempty(err) or
                                                      "stop=%s" % kv.get("stop")), r)
    return r


def redis_check(port):
    """SET a random token through the relay and GET it back: the relay must carry bytes faithfully."""
    token = "%032x" % random.getrandbits(128)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        s.sendall(("*3\r\n$3\r\nSET\r\n$9\r\ne2e:check\r\n$32\r\n%s\r\n*2\r\n$3\r\nGET\r\n$9\r\ne2e:check\r\n" % token)
                  .encode())
        want = ("+OK\r\n$32\r\n%s\r\n" % token).encode()
        got = b""
        deadline = time.monotonic() + 5
        while len(got) < len(want) and time.monotonic() < deadline:
            b = s.recv(4096)
            if not b:
                break
            got += b
    if got != want:
        raise CaseFailed("redis SET/GET check through the relay: expected %r, got %r" % (want[:60], got[:60]))


def run_redis(c, tmp, port, relay, test, tag):
    redis_check(port)
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", test, "-c", str(c.redis_clients),
            "-n", str(c.redis_requests), "--csv"]
    tmo = 30 + c.redis_requests / 1000.0
    t0 = cpu_ticks(relay.pid) if relay else 0
    rc, out, err = run_client(argv, tmo, os.path.join(tmp, tag + ".csv"))
    if relay:
        wait_no_children(relay.pid)
    t1 = cpu_ticks(relay.pid) if relay else 0
    if rc == "timeout":
        raise CaseFailed("redis-benchmark timed out after %g s" % tmo)
    rows = list(csv.DictReader(x for x in out.splitlines() if x.startswith('"')))
    row = next((x for x in rows if x.get("test", "").upper() == test.upper()), None)
    if rc != 0 or row is None:
        raise CaseFailed("redis-benchmark exit %s: %s" % (rc, last_nonempty(err) or last_nonempty(out)))
    r = {"requests": c.redis_requests}
    for src, dst in (("rps", "rps"), ("p50_latency_ms", "p50_ms"), ("p99_latency_ms", "p99_ms"),
                     ("max_latency_ms", "max_ms")):
        try:
            r[dst] = float(row[src])
        except (KeyError, TypeError, ValueError):
            r[dst] = None
    if relay:
        r["relay_cpu_s"] = (t1 - t0) / CLK_TCK
    if "error" in err.lower():
        raise CaseFailed("redis-benchmark: " + last_nonempty(err), r)
    return r


# --------------------------------------------------------------------------------- planning
def step_cost(c, case):
    group = CASES[case][0]
    if group == "iperf":
        return c.duration + 1.0
    if group in ("pingpong", "connrate"):
        return c.client_warmup + c.duration + 1.5
    return 1.0 + c.redis_requests / 15000.0


def relay_cost(c, target):
    return (0 if target == "direct" else (1.5 if target.startswith(("forwarder", "netty", "nio")) else 0.3)) + \
        (c.warmup if target != "direct" else 0) + 0.3


def build_plan(c):
    """Steps in run order: (round, target, backend kind, [cases])."""
    plan = []
    for rnd in range(1, c.repeat + 1):
        for t in c.targets:
            for b in BACKENDS:
                cs = [x for x in c.cases if CASES[x][1] == b]
                if cs:
                    plan.append((rnd, t, b, cs))
    return plan


def estimate(c, plan):
    return sum(relay_cost(c, t) + sum(step_cost(c, x) for x in cs) for _, t, _, cs in plan)


# ------------------------------------------------------------------------------------- main
class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted("signal %d" % signum)


def machine(c):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((x.split(":", 1)[1].strip() for x in fh if x.startswith("model name")), "?")
    except OSError:
        pass
    return {
        "cpu": cpu, "nproc": os.cpu_count(), "kernel": " ".join(os.uname()[2:3] + os.uname()[4:5]),
        "java": (version_of([c.java, "-version"]) + " (" + c.java + ")") if c.java else "none",
        "haproxy": version_of(["haproxy", "-v"]), "socat": version_of(["socat", "-V"], 1),
        "iperf3": version_of(["iperf3", "--version"]), "redis-server": version_of(["redis-server", "--version"]),
        "redis-benchmark": version_of(["redis-benchmark", "--version"]),
        "python": sys.version.split()[0],
    }


def loadavg():
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def main(argv):
    c = parse_config(argv)
    if c.plot:
        return plot(c.plot[0], c.plot[1])
    plan = build_plan(c)
    total_est = estimate(c, plan)
    nsteps = sum(len(cs) for _, _, _, cs in plan)
    log("plan: %d rounds x %d targets x %d cases = %d steps, estimated %s (DURATION=%g WARMUP=%g "
        "CLIENT_WARMUP=%g REDIS_REQUESTS=%d%s)" % (c.repeat, len(c.targets), len(c.cases), nsteps,
                                                  fmt_s(total_est), c.duration, c.warmup, c.client_warmup,
                                                  c.redis_requests, ", QUICK" if c.quick else ""))
    if c.plan:
        for rnd, t, b, cs in plan:
            print("round %d %-22s %-6s %s" % (rnd, t, b, " ".join(cs)))
        return 0
    if not c.java:
        die("no java >= 25 found (set JAVA or JAVA_HOME)")
    ensure_tools(c)
    for what, path in (("bench classes", c.bench_cp),):
        if not os.path.exists(path):
            die("%s not found: %s (run make build)" % (what, path))
    groups = {CASES[x][0] for x in c.cases}
    if "iperf" in groups and not shutil.which("iperf3"):
        die("iperf3 is required for the iperf cases (or CASES without iperf)")
    if "redis" in groups and not (shutil.which("redis-server") and shutil.which("redis-benchmark")):
        die("redis-server and redis-benchmark (redis-tools) are required for the redis cases (or CASES without redis)")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, on_signal)   # also when started in the background (SIGINT ignored then)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(c.out_dir, exist_ok=True)
    base = os.path.join(c.out_dir, "e2e-" + stamp)
    tmp = tempfile.mkdtemp(prefix="bench-e2e.")
    info = machine(c)
    info["load_before"] = loadavg()
    info["command"] = " ".join(shlex.quote(x) for x in [sys.argv[0]] + argv)
    info["env"] = " ".join("%s=%s" % (k, shlex.quote(os.environ[k])) for k in
                           ("QUICK", "TARGETS", "CASES", "REPEAT", "DURATION", "WARMUP", "CLIENT_WARMUP",
                            "REDIS_REQUESTS", "REDIS_CLIENTS", "MSG_SIZE", "OUT_DIR", "JAR", "BENCH_JAR", "BENCH_CP",
                            "RELAY_JVM_OPTS", "JAVA") if k in os.environ) or "(none of the runner's variables set)"
    info["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    skipped = {t: skip_reason(c, t) for t in c.targets}
    for t, why in skipped.items():
        if why:
            log("%s skipped: %s" % (t, why))
    total_est = estimate(c, [x for x in plan if not skipped[x[1]]])
    if any(skipped.values()):
        log("estimated %s without the skipped targets" % fmt_s(total_est))
    results = []
    csvf = open(base + ".csv", "w", newline="")
    writer = csv.DictWriter(csvf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    backends = Backends(c, tmp)
    t_start = time.monotonic()
    state = {"k": 0, "planned_done": 0.0}
    interrupted = None

    def record(rnd, t, case, status, reason="", r=None, secs=0.0):
        row = {"stamp": stamp, "round": rnd, "target": t, "case": case, "group": CASES[case][0],
               "status": status, "reason": reason, "seconds": "%.1f" % secs}
        for k, v in (r or {}).items():
            row[k] = ("%.6g" % v) if isinstance(v, float) else v
        results.append({"round": rnd, "target": t, "case": case, "status": status, "reason": reason,
                        "values": dict(r or {})})
        writer.writerow(row)
        csvf.flush()

    def progress(rnd, t, case, what):
        state["k"] += 1
        el = time.monotonic() - t_start
        done = state["planned_done"]
        scale = el / done if done > 5 else 1.0
        left = max(0.0, (total_est - done) * scale)
        log("step %d/%d round %d/%d %s %s: %s (elapsed %s, ~%s left)" % (
            state["k"], nsteps, rnd, c.repeat, t, case, what, fmt_s(el), fmt_s(left)))

    try:
        for rnd, t, kind, cs in plan:
            if skipped[t]:
                for case in cs:
                    record(rnd, t, case, "skipped", skipped[t])
                    progress(rnd, t, case, "skipped: " + skipped[t])
                continue
            state["planned_done"] += relay_cost(c, t)
            relay, port, start_err = None, None, None
            try:
                bport = backends.ensure(kind)
                if t == "direct":
                    port = bport
                else:
                    port = free_port()
                    relay = Proc(t, relay_argv(c, t, port, bport, tmp), os.path.join(tmp, "%s-%s-r%d.log" % (t, kind, rnd)))
                    why = wait_listen(relay, port)
                    if why:
                        raise RuntimeError("%s did not start: %s" % (t, why))
                if c.warmup > 0:
                    try:
                        warm_up(c, tmp, kind, port, relay, "%s-%s-r%d-warm" % (t, kind, rnd))
                    except CaseFailed as e:   # once more, with a restarted backend (same port)
                        log("%s %s: %s; restarting the %s backend, warm-up again" % (t, kind, e.args[0], kind))
                        if relay and not relay.alive():
                            raise
                        backends.ensure(kind, restart=True)
                        warm_up(c, tmp, kind, port, relay, "%s-%s-r%d-warm2" % (t, kind, rnd))
            except (RuntimeError, OSError, CaseFailed) as e:
                start_err = str(e)
            for case in cs:
                case_t0 = time.monotonic()
                tag = "%s-%s-r%d" % (t, case, rnd)
                params = CASES[case][2]
                group = CASES[case][0]
                status, reason, r = "ok", "", None
                try:
                    if start_err:
                        raise CaseFailed(start_err)
                    if relay and not relay.alive():
                        raise CaseFailed("relay exited (status %s) before this case: %s" % (relay.p.returncode,
                                                                                          relay.last_line()))
                    if not backends.procs[kind].alive():
                        raise CaseFailed("%s backend exited: %s" % (kind, backends.procs[kind].last_line()))
                    if group == "iperf":
                        r = run_iperf(c, tmp, port, relay, params, c.duration, tag)
                    elif group in ("pingpong", "connrate"):
                        r = run_load(c, tmp, port, relay, group, params["conns"], c.duration, c.client_warmup, tag)
                    else:
                        r = run_redis(c, tmp, port, relay, params["test"], tag)
                    if relay and not relay.alive():
                        raise CaseFailed("relay exited during the run", r)
                except CaseFailed as e:
                    status, reason = "FAILED", str(e.args[0])
                    if relay and not relay.alive() and "relay exited" not in reason:
                        reason = "relay exited (status %s) during the run: %s (log: %s)" % (
                            relay.p.returncode, reason, relay.last_line())
                    if len(e.args) > 1:
                        r = e.args[1]
                    if kind == "iperf" and not start_err:
                        try:   # a failed test can leave the iperf3 server stuck
                            backends.ensure("iperf", restart=True)
                        except RuntimeError as e2:
                            reason += "; " + str(e2)
                except OSError as e:
                    status, reason = "FAILED", "%s: %s" % (type(e).__name__, e)
                state["planned_done"] += step_cost(c, case)
                record(rnd, t, case, status, reason, r, time.monotonic() - case_t0)
                progress(rnd, t, case, summary(group, status, reason, r))
            if relay:
                relay.stop()
    except (KeyboardInterrupt, Interrupted) as e:
        interrupted = str(e) or "interrupted"
        log("interrupted (%s): stopping, writing the report of what ran" % interrupted)
    finally:
        for p in list(STARTED):
            p.stop()
        backends.stop_all()
        csvf.close()
        if c.keep_tmp:
            log("temp dir kept: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    info["load_after"] = loadavg()
    info["elapsed"] = fmt_s(time.monotonic() - t_start)
    info["estimated"] = fmt_s(total_est)
    pngs = []
    plot_note = "skipped: matplotlib not available (python3-matplotlib)"
    py = plot_python()
    if py:
        rc = subprocess.run([py, os.path.abspath(__file__), "--plot", base + ".csv", base], cwd=ROOT,
                            timeout=300).returncode
        pngs = [base + s for s in ("-throughput.png", "-latency.png") if os.path.isfile(base + s)]
        plot_note = "none: plotting failed (status %d)" % rc if rc != 0 else "none: no successful run"
        if rc != 0:
            log("plotting failed (status %d)" % rc)
    else:
        log("matplotlib not available: plots skipped (CSV and Markdown written)")
    md = report(c, info, results, skipped, pngs, interrupted, plot_note)
    with open(base + ".md", "w") as fh:
        fh.write(md.replace("@PNG@", "e2e-" + stamp))
    if os.environ.get("E2E_LATEST", "1") != "0":
        with open(os.path.join(c.out_dir, "e2e-latest.md"), "w") as fh:
            fh.write(md.replace("@PNG@", "e2e-latest"))
        for s in ("-throughput.png", "-latency.png"):
            latest = os.path.join(c.out_dir, "e2e-latest" + s)
            if os.path.isfile(base + s):
                shutil.copyfile(base + s, latest)
            elif os.path.isfile(latest):
                os.remove(latest)   # a stale plot must not sit next to a new report
    sys.stdout.write(md.replace("@PNG@", "e2e-" + stamp))
    log("report: %s.md, %s.csv%s%s; elapsed %s" % (
        base, base, "".join(", " + p for p in pngs),
        " (copies: e2e-latest.*)" if os.environ.get("E2E_LATEST", "1") != "0" else "", info["elapsed"]))
    return 130 if interrupted else 0


def warm_up(c, tmp, kind, port, relay, tag):
    """WARMUP seconds of unmeasured load of the backend's kind through the fresh relay."""
    w = c.warmup
    if kind == "iperf":
        argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-P", "2", "-t", "%g" % max(1.0, w), "-J",
                "--connect-timeout", "3000"]
        tmo = w + 25
    elif kind == "echo":
        # half new connections, half ping-pong: the cases measure both the accept/connect/close path
        # and the data path, so both are warmed
        for mode, secs in (("connrate", w / 2), ("pingpong", w - w / 2)):
            argv = [c.java] + CLIENT_JVM + ["-cp", c.bench_cp, "org.forwarder.bench.load.LoadClient", "--mode",
                                            mode, "--port", str(port), "--conns", "10", "--warmup", "0",
                                            "--duration", "%g" % max(0.5, secs)]
            rc, out, err = run_client(argv, secs + 45, os.path.join(tmp, tag + "-" + mode + ".out"))
            if rc != 0:
                raise CaseFailed("warm-up (LoadClient %s) failed: %s" % (mode, "timed out" if rc == "timeout" else
                                 "exit %s %s" % (rc, last_nonempty(err) or last_nonempty(out))))
        if relay:
            wait_no_children(relay.pid)
        return
    else:
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "ping", "-c", "10", "-n",
                str(int(max(1000, w * 10000))), "-q"]
        tmo = w + 30
    rc, out, err = run_client(argv, tmo, os.path.join(tmp, tag + ".out"))
    if rc != 0:
        raise CaseFailed("warm-up (%s) failed: %s" % (argv[0].rsplit("/", 1)[-1],
                                                       "timed out" if rc == "timeout" else
                                                       "exit %s %s" % (rc, last_nonempty(err) or last_nonempty(out))))
    if relay:
        wait_no_children(relay.pid)


def summary(group, status, reason, r):
    if status != "ok":
        return "%s: %s" % (status, reason)
    if group == "iperf":
        return "%.2f Gbps%s" % (r["gbps"], ", %.2f CPU s/GB" % r["cpu_s_per_gb"] if "cpu_s_per_gb" in r else "")
    if group in ("pingpong", "connrate"):
        return "%.0f/s p50 %g p99 %g p99.9 %g us" % (r["rate"], r["p50_us"], r["p99_us"], r["p999_us"])
    return "%.0f req/s p50 %s p99 %s max %s ms" % (r["rps"], r["p50_ms"], r["p99_ms"], r["max_ms"])


# ----------------------------------------------------------------------------------- report
METRICS = {   # group -> [(key, header, decimals, better)] ; better: +1 higher is better, -1 lower
    "iperf": [("gbps", "Gbps", 2, 1), ("cpu_s_per_gb", "relay CPU s/GB", 3, -1)],
    "pingpong": [("rate", "round trips/s", 0, 1), ("p50_us", "p50 us", 0, -1), ("p99_us", "p99 us", 0, -1),
                 ("p999_us", "p99.9 us", 0, -1), ("cpu_us_per_op", "relay CPU us/round trip", 2, -1)],
    "connrate": [("rate", "conn/s", 0, 1), ("p50_us", "p50 us", 0, -1), ("p99_us", "p99 us", 0, -1),
                 ("p999_us", "p99.9 us", 0, -1), ("cpu_us_per_op", "relay CPU us/conn", 1, -1)],
    "redis": [("rps", "req/s", 0, 1), ("p50_ms", "p50 ms", 3, -1), ("p99_ms", "p99 ms", 3, -1),
              ("max_ms", "max ms", 3, -1)],
}
RATIO_KEYS = {"iperf": ["gbps", "cpu_s_per_gb"], "pingpong": ["rate", "p99_us", "p999_us"],
              "connrate": ["rate", "p99_us", "p999_us", "cpu_us_per_op"], "redis": ["rps", "p99_ms"]}
GROUP_TITLE = {
    "iperf": "iperf3 bulk throughput (-P streams; -r = reverse, server sends)",
    "pingpong": "request/response: 64-byte ping-pong (LoadClient -> relay -> EchoServer), every byte verified",
    "connrate": "new connection per request (connect, 64-byte echo, close)",
    "redis": "redis-benchmark through the relay (redis-server backend)",
}


def stats(results, target, case, key):
    vals = [x["values"].get(key) for x in results
            if x["target"] == target and x["case"] == case and x["status"] == "ok"]
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fnum(v, d):
    return ("{:,.%df}" % d).format(v).replace(",", " ") if d == 0 and v >= 10000 else "%.*f" % (d, v)


def cell(st, d):
    if st is None:
        return "n/a"
    m, lo, hi = st
    if lo == hi:
        return fnum(m, d)
    return "%s (%s-%s)" % (fnum(m, d), fnum(lo, d), fnum(hi, d))


# Issue 11's targets, each a ratio of medians against HAProxy in the same run:
# (label, forwarder target, case, metric key, HAProxy target, bound, "min" | "max")
TARGET_CHECKS = [
    ("new connections/s, 1 at a time", "forwarder-copy", "connrate-1", "rate", "haproxy-copy", 1.0, "min"),
    ("new connections/s, 50 concurrent", "forwarder-copy", "connrate-50", "rate", "haproxy-copy", 1.2, "min"),
    ("CPU per connection, 1 at a time", "forwarder-copy", "connrate-1", "cpu_us_per_op", "haproxy-copy", 1.0, "max"),
    ("CPU per connection, 50 concurrent", "forwarder-copy", "connrate-50", "cpu_us_per_op", "haproxy-copy", 1.0, "max"),
    ("ping-pong round trips/s, 50 connections", "forwarder-copy", "pingpong-50", "rate", "haproxy-copy", 1.2, "min"),
] + [("%s %s" % (case, label), "forwarder-copy", case, key, "haproxy-copy", 1.0, "max")
     for case in ("pingpong-1", "pingpong-50", "connrate-1", "connrate-50")
     for key, label in (("p99_us", "p99"), ("p999_us", "p99.9"))] + [
    ("redis-benchmark %s p99" % t, "forwarder-copy", "redis-" + t, "p99_ms", "haproxy-copy", 1.0, "max")
    for t in ("set", "get")] + [
    ("bulk %s, copy" % case, "forwarder-copy", case, "gbps", "haproxy-copy", 1.3, "min")
    for case in ("iperf-p1", "iperf-p8", "iperf-p1-r", "iperf-p8-r")] + [
    ("bulk %s, splice" % case, "forwarder-splice", case, "gbps", "haproxy-splice", 1.3, "min")
    for case in ("iperf-p1", "iperf-p8", "iperf-p1-r", "iperf-p8-r")]


def target_lines(results):
    """The issue's targets as a table: the forwarder's median, HAProxy's, the ratio, met or not."""
    L = ["| target | forwarder | HAProxy | ratio | wanted | met |", "|---|---:|---:|---:|---:|---|"]
    shown = 0
    for label, fwd, case, key, hap, bound, kind in TARGET_CHECKS:
        a, b = stats(results, fwd, case, key), stats(results, hap, case, key)
        if not a or not b or not b[0]:
            continue
        r = a[0] / b[0]
        met = r >= bound if kind == "min" else r <= bound
        L.append("| %s (%s) | %.4g | %.4g | %.2f | %s %.1f | %s |" % (
            label, fwd, a[0], b[0], r, ">=" if kind == "min" else "<=", bound, "yes" if met else "**no**"))
        shown += 1
    return L if shown else []


def report(c, info, results, skipped, pngs, interrupted, plot_note):
    L = []
    L.append("# End-to-end relay comparison (%s)" % info["started"])
    L.append("")
    if interrupted:
        L.append("**Interrupted (%s): the tables hold only what ran.**" % interrupted)
        L.append("")
    L.append("- machine: %s, nproc %s, kernel %s; everything (clients, relay, backends) shares these %s cores, "
             "so rows compare with each other, not with a dedicated machine" % (info["cpu"], info["nproc"],
                                                                              info["kernel"], info["nproc"]))
    L.append("- load average: before %s, after %s" % (info["load_before"], info["load_after"]))
    L.append("- java: %s" % info["java"])
    L.append("- haproxy: %s; socat: %s; iperf3: %s; redis: %s / %s; python %s" % (
        info["haproxy"], info["socat"], info["iperf3"], info["redis-server"], info["redis-benchmark"], info["python"]))
    L.append("- command: `%s`; env: `%s`" % (info["command"], info["env"]))
    L.append("- parameters: targets `%s`; cases `%s`; REPEAT=%d DURATION=%gs WARMUP=%gs CLIENT_WARMUP=%gs "
             "REDIS_REQUESTS=%d REDIS_CLIENTS=%d MSG_SIZE=%d%s" % (
                 " ".join(c.targets), " ".join(c.cases), c.repeat, c.duration, c.warmup, c.client_warmup,
                 c.redis_requests, c.redis_clients, c.size, " (QUICK profile)" if c.quick else ""))
    L.append("- elapsed %s (estimated %s)" % (info["elapsed"], info["estimated"]))
    L.append("- method: rounds interleave the targets; per round and target each backend kind gets a freshly "
             "started relay, WARMUP s of unmeasured load, then its cases. Cells: median over rounds (min-max). "
             "Relay CPU = utime+stime of the relay and its children from /proc (CLK_TCK=%d); direct has none. "
             "Ratios: each row against HAProxy with the same data path (haproxy-copy for copy relays, socat, nio "
             "and direct; haproxy-splice for *-splice*), as median/median; for throughput >1 is better, for "
             "latency and CPU <1 is better. Forwarder: --nbthread 1; HAProxy: nbthread 1." % CLK_TCK)
    for t, why in skipped.items():
        if why:
            L.append("- %s skipped: %s" % (t, why))
    if pngs:
        L.append("")
        L.append("![throughput](@PNG@-throughput.png)")
        L.append("")
        L.append("![latency](@PNG@-latency.png)")
    else:
        L.append("- plots: " + plot_note)
    tl = target_lines(results)
    if tl:
        L.append("")
        L.append("## Issue 11's targets (medians of this run; ratio = forwarder / HAProxy)")
        L.append("")
        L.extend(tl)
    for g in GROUPS:
        cases = [x for x in c.cases if CASES[x][0] == g]
        if not cases:
            continue
        mets = METRICS[g]
        rk = RATIO_KEYS[g]
        L.append("")
        L.append("## " + GROUP_TITLE[g])
        L.append("")
        hdr = ["case", "target"] + [m[1] for m in mets] + ["errors", "vs"] + \
              ["ratio " + next(m[1] for m in mets if m[0] == k) for k in rk] + ["runs", "note"]
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "|".join(["---", "---"] + ["---:"] * (len(mets) + 1) + ["---"] + ["---:"] * len(rk) +
                                ["---:", "---"]) + "|")
        for case in cases:
            for t in c.targets:
                rows = [x for x in results if x["target"] == t and x["case"] == case]
                ok = [x for x in rows if x["status"] == "ok"]
                errs = sum(int(x["values"].get("errors") or 0) for x in rows)
                note = ""
                if skipped.get(t):
                    note = "skipped: " + skipped[t]
                elif len(ok) < len(rows) or not rows:
                    reasons = sorted({x["reason"] for x in rows if x["status"] != "ok"})
                    note = ("FAILED: " if not ok else "some runs FAILED: ") + "; ".join(reasons)[:300]
                ref = reference(t)
                ratios = []
                for k in rk:
                    a, b = stats(results, t, case, k), stats(results, ref, case, k)
                    if t == ref:
                        ratios.append("ref" if a else "n/a")
                    elif a and b and b[0]:
                        ratios.append("%.2f" % (a[0] / b[0]))
                    else:
                        ratios.append("n/a")
                cells = [cell(stats(results, t, case, m[0]), m[2]) for m in mets]
                L.append("| " + " | ".join([case, t] + cells + [str(errs) if g in ("pingpong", "connrate") else "-",
                                                               ref] + ratios +
                                          ["%d/%d" % (len(ok), len(rows)), note.replace("|", "/")]) + " |")
    failed = [x for x in results if x["status"] == "FAILED"]
    if failed:
        L.append("")
        L.append("## Failed runs")
        L.append("")
        L.append("| round | target | case | reason |")
        L.append("|---:|---|---|---|")
        for x in failed:
            L.append("| %d | %s | %s | %s |" % (x["round"], x["target"], x["case"], x["reason"].replace("|", "/")))
    L.append("")
    L.append("Raw numbers, one row per target x case x round: the CSV next to this file.")
    L.append("")
    return "\n".join(L)


# ------------------------------------------------------------------------------------ plots
def plot(csv_path, prefix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker as ticker
    with open(csv_path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok"]
    targets, cases = [], []
    with open(csv_path, newline="") as fh:
        for r in csv.DictReader(fh):
            if r["target"] not in targets:
                targets.append(r["target"])
            if r["case"] not in cases:
                cases.append(r["case"])

    def vals(t, case, key):
        out = []
        for r in rows:
            if r["target"] == t and r["case"] == case and r.get(key):
                try:
                    out.append(float(r[key]))
                except ValueError:
                    pass
        return out

    # Targets without a single good run (skipped, or failed throughout) get no empty slot: they are
    # named under the title instead.
    absent = [t for t in targets if not any(r["target"] == t for r in rows)]
    targets = [t for t in targets if t not in absent]
    note = ("not plotted (no successful run): " + ", ".join(absent)) if absent else ""
    if not targets:
        print("[e2e] no successful run: nothing to plot", file=sys.stderr)
        return 0
    from matplotlib.transforms import blended_transform_factory

    def mark_missing(ax, case, key):
        tr = blended_transform_factory(ax.transData, ax.transAxes)
        for j, t in enumerate(targets):
            if not vals(t, case, key):
                ax.text(j, 0.03, "FAILED", transform=tr, ha="center", va="bottom", fontsize=7, rotation=90,
                        color="#c44e52")

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    tcolor = {t: colors[i % len(colors)] for i, t in enumerate(targets)}
    thr = [(x, {"iperf": ("gbps", "Gbps"), "pingpong": ("rate", "round trips/s"), "connrate": ("rate", "conn/s"),
                "redis": ("rps", "requests/s")}[CASES[x][0]]) for x in cases if x in CASES]
    if thr:
        n = len(thr)
        cols = min(4, n)
        nrows = (n + cols - 1) // cols
        fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.6 * nrows + 0.8), squeeze=False)
        for i, (case, (key, unit)) in enumerate(thr):
            ax = axes[i // cols][i % cols]
            xs, meds, lo, hi, cs = [], [], [], [], []
            for j, t in enumerate(targets):
                v = vals(t, case, key)
                if not v:
                    continue
                m = statistics.median(v)
                xs.append(j)
                meds.append(m)
                lo.append(m - min(v))
                hi.append(max(v) - m)
                cs.append(tcolor[t])
            ax.bar(xs, meds, color=cs, yerr=[lo, hi], capsize=3)
            top = max([m + h for m, h in zip(meds, hi)] or [1])
            for x, m, h in zip(xs, meds, hi):
                ax.text(x, m + h + top * 0.01, ("%.3g" % m) if m < 100 else "%.0f" % m, ha="center", va="bottom",
                        fontsize=6)
            ax.set_ylim(0, top * 1.12)
            ax.grid(axis="y", alpha=0.3)
            ax.set_axisbelow(True)
            ax.set_title(case, fontsize=10)
            ax.set_ylabel(unit, fontsize=8)
            ax.set_xticks(range(len(targets)))
            ax.set_xticklabels(targets, rotation=60, ha="right", fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            mark_missing(ax, case, key)
        for i in range(n, nrows * cols):
            axes[i // cols][i % cols].axis("off")
        fig.suptitle("Throughput per case and relay (median over rounds, error bars = min-max; higher is better)"
                     + ("\n" + note if note else ""), fontsize=11)
        fig.tight_layout(rect=(0, 0, 1, 0.95 if note else 0.97))
        fig.savefig(prefix + "-throughput.png", dpi=90)
        plt.close(fig)
    lat = [x for x in cases if x in CASES and CASES[x][0] in ("pingpong", "connrate", "redis")]
    if lat:
        n = len(lat)
        cols = min(3, n)
        nrows = (n + cols - 1) // cols
        fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.8 * nrows + 0.8), squeeze=False)
        legend = []
        for i, case in enumerate(lat):
            ax = axes[i // cols][i % cols]
            redis = CASES[case][0] == "redis"
            keys = [("p50_ms", "p50", 1000), ("p99_ms", "p99", 1000), ("max_ms", "max", 1000)] if redis else \
                [("p50_us", "p50", 1), ("p99_us", "p99", 1), ("p999_us", "p99.9", 1)]
            w = 0.27
            for k, (key, label, mult) in enumerate(keys):
                xs, meds, lo, hi = [], [], [], []
                for j, t in enumerate(targets):
                    v = [x * mult for x in vals(t, case, key)]
                    if not v:
                        continue
                    m = statistics.median(v)
                    xs.append(j + (k - 1) * w)
                    meds.append(m)
                    lo.append(m - min(v))
                    hi.append(max(v) - m)
                ax.bar(xs, meds, w, yerr=[lo, hi], capsize=2, label=label,
                       color=["#4c72b0", "#dd8452", "#c44e52"][k])
            ax.set_yscale("log")
            # label the 2x, 5x minor ticks too when the panel spans few decades (else one label or none)
            ax.yaxis.set_minor_formatter(ticker.LogFormatterSciNotation(labelOnlyBase=False, minor_thresholds=(2, 1)))
            ax.tick_params(axis="y", which="minor", labelsize=6)
            ax.grid(axis="y", which="major", alpha=0.3)
            ax.set_axisbelow(True)
            mark_missing(ax, case, keys[0][0])
            ax.set_title(case + (" (redis-benchmark: p50, p99, max)" if redis else ""), fontsize=10)
            ax.set_ylabel("microseconds (log)", fontsize=8)
            ax.set_xticks(range(len(targets)))
            ax.set_xticklabels(targets, rotation=60, ha="right", fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            legend = ax.get_legend_handles_labels()[0] or legend
        for i in range(n, nrows * cols):
            axes[i // cols][i % cols].axis("off")
        fig.suptitle("Latency per case and relay (median over rounds, error bars = min-max; lower is better)"
                     + ("\n" + note if note else ""), fontsize=11)
        if legend:   # one legend for all panels, outside them: inside it would hide bars
            fig.legend(legend, ["p50", "p99", "p99.9 (redis panels: max)"][:len(legend)], loc="upper right",
                       ncol=3, fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 0.95 if note else 0.97))
        fig.savefig(prefix + "-latency.png", dpi=90)
        plt.close(fig)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        for p in list(STARTED):
            p.stop()
        sys.exit(130)
