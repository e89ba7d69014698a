#!/usr/bin/env python3
"""How fast a dead server stops receiving clients: HAProxy and the forwarder, same config, one run.

Two echo servers behind a proxy (`balance roundrobin`, `server ... check inter 1s fall 2 rise 2`,
`retries 0` so a client sent to a dead server fails at once instead of being retried). A client
opens a connection every PERIOD ms, sends one byte and waits for its echo. After WARMUP s, server
s1 dies (its listener and connections close: further connects are refused). Reported per proxy
and run: how many clients failed after the kill, and when the first and the last failure came
(ms after the kill): the last one is when the proxy stopped sending clients to the dead server.
With inter 1s and fall 2, HAProxy's own bound is about 2 s (two failed checks) plus up to one
interval of phase.

Usage: bench/checks/dead_server.py [--repeat N] [--jar forwarder/target/forwarder.jar]
Everything binds 127.0.0.1; only the processes this script starts are stopped.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PERIOD_MS = 5
WARMUP_S = 3.0
AFTER_S = 5.0
CONNECT_TIMEOUT_S = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoServer:
    """An echo server on 127.0.0.1 that can die (listener and connections closed)."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(512)
        self.port = self.ls.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.alive = True
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while self.alive:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            with self.lock:
                if not self.alive:
                    c.close()
                    return
                self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            while True:
                b = c.recv(4096)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass
        finally:
            c.close()

    def die(self):
        with self.lock:
            self.alive = False
            self.ls.close()
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


CONFIG = """global
    maxconn 4096
{extra_global}
defaults
    mode tcp
    retries 0
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:{port}
    balance roundrobin
    server s1 127.0.0.1:{p1} check inter 1s fall 2 rise 2
    server s2 127.0.0.1:{p2} check inter 1s fall 2 rise 2
"""


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def one_client(port):
    """True when the one-byte echo came back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S) as c:
            c.settimeout(CONNECT_TIMEOUT_S)
            c.sendall(b"x")
            return c.recv(1) == b"x"
    except OSError:
        return False


def run_once(name, cmd_for, tmp):
    s1, s2 = EchoServer(), EchoServer()
    port = free_port()
    extra = ""
    cfg = os.path.join(tmp, name + ".cfg")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(extra_global=extra, port=port, p1=s1.port, p2=s2.port))
    log = open(os.path.join(tmp, name + ".log"), "w")
    proc = subprocess.Popen(cmd_for(cfg), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not wait_port(port, time.time() + 30):
            return {"error": "the proxy did not listen (see " + log.name + ")"}
        results = []  # (t, ok)
        t_end_warm = time.time() + WARMUP_S
        while time.time() < t_end_warm:
            results.append((time.time(), one_client(port)))
            time.sleep(PERIOD_MS / 1000)
        t_kill = time.time()
        s1.die()
        t_end = t_kill + AFTER_S
        n = 0
        while time.time() < t_end and n < 100_000:
            results.append((time.time(), one_client(port)))
            time.sleep(PERIOD_MS / 1000)
            n += 1
        before_fail = sum(1 for t, ok in results if t < t_kill and not ok)
        after = [(t, ok) for t, ok in results if t >= t_kill]
        fails = [t for t, ok in after if not ok]
        return {
            "clients": len(after),
            "failed": len(fails),
            "failed_before_kill": before_fail,
            "first_ms": round((fails[0] - t_kill) * 1000) if fails else None,
            "last_ms": round((fails[-1] - t_kill) * 1000) if fails else None,
        }
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        s2.die()


def find_java():
    for h in [os.environ.get("JAVA_HOME", "")] + sorted(
            (os.path.join("/usr/lib/jvm", d) for d in os.listdir("/usr/lib/jvm")), reverse=True):
        j = os.path.join(h, "bin", "java")
        if h and os.access(j, os.X_OK):
            out = subprocess.run([j, "-XshowSettings:properties", "-version"], capture_output=True, text=True).stderr
            for line in out.splitlines():
                if "java.specification.version" in line:
                    try:
                        if int(line.split("=")[1].strip().split(".")[0]) >= 25:
                            return j
                    except ValueError:
                        pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jar", default="forwarder/target/forwarder.jar")
    a = ap.parse_args()
    if not 1 <= a.repeat <= 20:
        sys.exit("--repeat must be 1..20")
    targets = []
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if haproxy:
        targets.append(("haproxy", lambda cfg: [haproxy, "-db", "-f", cfg]))
    else:
        print("NOTE: haproxy not found: the forwarder alone")
    java = find_java()
    if not java or not os.path.exists(a.jar):
        sys.exit("no java >= 25 or no jar at " + a.jar + " (make build)")
    targets.append(("forwarder", lambda cfg: [java, "--enable-native-access=ALL-UNNAMED", "-jar", a.jar, "-f", cfg]))
    tmp = tempfile.mkdtemp(prefix="dead-server.")
    rows = []
    try:
        for r in range(a.repeat):
            for name, cmd in targets:  # interleaved: one run of each, then again
                print(f"[dead-server] {name} run {r + 1}/{a.repeat}", file=sys.stderr, flush=True)
                res = run_once(name, cmd, tmp)
                print(f"[dead-server]   -> {res}", file=sys.stderr, flush=True)
                rows.append((name, r + 1, res))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"# Dead server: clients failed after the kill (inter 1s fall 2 rise 2, retries 0, a client every {PERIOD_MS} ms)\n")
    print("| proxy | run | clients after the kill | failed | first failure (ms after) | last failure (ms after) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r, res in rows:
        if "error" in res:
            print(f"| {name} | {r} | error: {res['error']} | | | |")
        else:
            print(f"| {name} | {r} | {res['clients']} | {res['failed']} | {res['first_ms']} | {res['last_ms']} |")


if __name__ == "__main__":
    main()
