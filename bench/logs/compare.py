#!/usr/bin/env python3
"""HAProxy's tcplog vs forwarder's, scenario by scenario (not part of `make test`).

Each scenario runs against /usr/sbin/haproxy and then against forwarder with the same
configuration ('option tcplog', 'log 127.0.0.1:PORT local0'); a UDP socket here collects the
syslog datagrams. The lines are printed one under the other and compared field by field:
header shape, names, bytes, termination state, which times are -1, the counters. Times differ
by nature and are not compared. Everything listens on 127.0.0.1 only; every wait is bounded.

usage: bench/logs/compare.py [--only NAME ...]   (build first: make build)
"""
import os, socket, subprocess, sys, tempfile, threading, time, struct, re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JAVA = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java")
JAR = os.path.join(ROOT, "forwarder", "target", "forwarder.jar")
FE, SRV, SYSLOG = 15350, 15351, 15352
# health checks of s1 (checked on CHK), and a second server for the backup scenario
CHK, SRV2 = 15353, 15354

CFG = """global
    log 127.0.0.1:{syslog} local0
defaults
    mode tcp
    log global
    option tcplog
    retries {retries}
    timeout connect {tconnect}
    timeout client {tclient}
    timeout server {tserver}
    timeout queue {tqueue}
listen l1
    bind 127.0.0.1:{fe}
    server s1 127.0.0.1:{srv}{srvopts}
"""


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def listener(backlog=16, port=SRV):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def stop(lsock):
    """Closes a listener; shutdown first wakes a thread blocked in accept (else the port stays bound)."""
    try:
        lsock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    lsock.close()


def serve(lsock, handler, count=1):
    def run():
        lsock.settimeout(10)
        try:
            for _ in range(count):
                c, _ = lsock.accept()
                threading.Thread(target=handler, args=(c,), daemon=True).start()
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def client(send=b"", hold=0.0, reset=False, read=True, shut=False):
    c = socket.create_connection(("127.0.0.1", FE), timeout=10)
    if send:
        c.sendall(send)
    if shut:
        c.shutdown(socket.SHUT_WR)
    got = 0
    if hold:
        time.sleep(hold)
    if reset:
        linger0(c)
        c.close()
        return got
    if read:
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += len(d)
        except OSError:
            pass
    c.close()
    return got


# ---- scenarios: (name, config overrides, function) --------------------------------------

def normal():
    ls = listener()
    def h(c):
        c.recv(5); c.sendall(b"x" * 1000); c.close()
    serve(ls, h)
    client(b"hello", shut=True)
    stop(ls)


def client_reset_data():
    ls = listener()
    def h(c):
        c.recv(5); time.sleep(1.5); c.close()
    serve(ls, h)
    client(b"hello", hold=0.3, reset=True)
    time.sleep(0.3)
    stop(ls)


def client_closes_early():
    ls = listener()
    def h(c):
        c.recv(5)
        time.sleep(0.5)
        try:
            for _ in range(200):
                c.sendall(b"y" * 65536)
        except OSError:
            pass
        c.close()
    serve(ls, h)
    c = socket.create_connection(("127.0.0.1", FE), timeout=10)
    c.sendall(b"hello")
    time.sleep(0.2)
    c.close()  # FIN with nothing unread: later bytes from the server meet a reset
    time.sleep(1.5)
    stop(ls)


def server_reset_data():
    ls = listener()
    def h(c):
        c.recv(5); c.sendall(b"z" * 100); time.sleep(0.2); linger0(c); c.close()
    serve(ls, h)
    client(b"hello")
    stop(ls)


def refused():
    client(b"hello")


def client_timeout():
    ls = listener()
    def h(c):
        time.sleep(2.0); c.close()
    serve(ls, h)
    client(b"", hold=1.5, read=False)
    stop(ls)


def server_timeout():
    ls = listener()
    def h(c):
        c.recv(5); time.sleep(2.0); c.close()
    serve(ls, h)
    client(b"hello")
    stop(ls)


def queued_client_gone():
    ls = listener()
    def h(c):
        time.sleep(1.5); c.close()
    serve(ls, h, count=2)
    first = socket.create_connection(("127.0.0.1", FE), timeout=10)
    time.sleep(0.2)
    client(b"", hold=0.3, reset=True)
    time.sleep(1.6)
    first.close()
    stop(ls)


def queue_timeout():
    ls = listener()
    def h(c):
        time.sleep(1.5); c.close()
    serve(ls, h, count=2)
    first = socket.create_connection(("127.0.0.1", FE), timeout=10)
    time.sleep(0.2)
    client(b"hello")
    first.close()
    time.sleep(0.2)
    stop(ls)


def connect_timeout():
    # a listener that never accepts, its backlog full: further SYNs are dropped, connects hang
    ls = listener(backlog=0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(("127.0.0.1", SRV))
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    client(b"hello")
    for f in fillers:
        f.close()
    stop(ls)


def client_reset_connecting():
    # the connect hangs (full backlog, as above); the client resets meanwhile
    ls = listener(backlog=0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(("127.0.0.1", SRV))
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    client(b"hello", hold=0.2, reset=True)
    time.sleep(0.5)
    for f in fillers:
        f.close()
    stop(ls)


def no_usable_server():
    client(b"hello")


def checks_accept(port, until):
    """A health-check target on port: accepts and closes until the event until is set."""
    ls = listener(port=port)
    ls.settimeout(0.1)

    def run():
        while not until.is_set():
            try:
                c, _ = ls.accept()
                c.close()
            except OSError:
                pass
        stop(ls)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def holding(c):
    """A server side that answers nothing and holds the connection until its peer goes."""
    try:
        c.settimeout(8)
        while c.recv(65536):
            pass
    except OSError:
        pass
    c.close()


def marked_down_kills():
    # s1 is UP (its checks pass), a stream to it is established; then its checks fail (fall 1):
    # on-marked-down shutdown-sessions ends the stream
    down = threading.Event()
    checks = checks_accept(CHK, down)
    ls = listener()
    serve(ls, holding)
    time.sleep(0.8)  # a few checks pass
    t = threading.Thread(target=client, args=(b"hello",), daemon=True)
    t.start()
    time.sleep(0.5)
    down.set()  # the check port closes: refused from now on
    t.join(5)
    checks.join(2)
    stop(ls)


def marked_up_kills_backup():
    # s2 (active) is down at first (nothing on its check port), so the stream goes to the backup
    # s1; then s2's checks pass: on-marked-up shutdown-backup-sessions ends the backup's stream
    ls = listener()
    serve(ls, holding)
    s2 = listener(port=SRV2)
    time.sleep(0.8)  # s2 seen DOWN
    t = threading.Thread(target=client, args=(b"hello",), daemon=True)
    t.start()
    time.sleep(0.5)
    up = threading.Event()
    checks = checks_accept(CHK, up)
    t.join(5)
    up.set()
    checks.join(2)
    stop(s2)
    stop(ls)


BASE = dict(retries=0, tconnect="500ms", tclient="5s", tserver="5s", tqueue="5s", srvopts="")
SCENARIOS = [
    ("normal --", {}, normal),
    ("client reset during data CD", {}, client_reset_data),
    # the bytes read from the server before the client's reset depend on buffer sizes: not compared
    ("client closes early, server still sending", {"ignore": "bytes"}, client_closes_early),
    ("server reset during data SD", {}, server_reset_data),
    ("refused server SC", {"retries": 1}, refused),
    ("client timeout cD", {"tclient": "500ms"}, client_timeout),
    ("server timeout sD", {"tserver": "500ms"}, server_timeout),
    ("client reset while queued (HAProxy 2.6: CD, not CQ)", {"srvopts": " maxconn 1"}, queued_client_gone),
    ("queue timeout sQ", {"srvopts": " maxconn 1", "tqueue": "500ms"}, queue_timeout),
    ("connect timeout sC", {}, connect_timeout),
    ("client reset while connecting (HAProxy 2.6: CD, not CC)", {"tconnect": "2s"}, client_reset_connecting),
    ("no usable server (weight 0)", {"srvopts": " weight 0"}, no_usable_server),
    ("server marked down, on-marked-down shutdown-sessions",
     {"srvopts": " check port %d inter 200 fall 1 rise 1 on-marked-down shutdown-sessions" % CHK}, marked_down_kills),
    ("active server marked up, on-marked-up shutdown-backup-sessions",
     {"srvopts": " backup\n    server s2 127.0.0.1:%d check port %d inter 200 fall 1 rise 1"
                 " on-marked-up shutdown-backup-sessions" % (SRV2, CHK)}, marked_up_kills_backup),
]


def collect(sock, until):
    out = []
    while time.time() < until:
        sock.settimeout(max(0.01, until - time.time()))
        try:
            out.append(sock.recv(65535).decode(errors="replace").rstrip("\n"))
        except socket.timeout:
            break
    return out


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def run(kind, cfgtext, fn):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "p.cfg")
        with open(cfg, "w") as f:
            f.write(cfgtext)
        sl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sl.bind(("127.0.0.1", SYSLOG))
        if kind == "haproxy":
            cmd = ["/usr/sbin/haproxy", "-f", cfg, "-db"]
        else:
            cmd = [JAVA, "--enable-native-access=ALL-UNNAMED", "-jar", JAR, "-f", cfg]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # wait for the listener by watching for the start without connecting (a probe would log a line)
            deadline = time.time() + 15
            while time.time() < deadline:
                if subprocess.run(["ss", "-Hltn", "sport = :%d" % FE], capture_output=True, text=True).stdout.strip():
                    break
                time.sleep(0.05)
            collect(sl, time.time() + 0.2)  # start-up notices
            fn()
            lines = collect(sl, time.time() + 2.5)
        finally:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
            sl.close()
    # the streams' lines only (not the server state events: "proxy l1 has no server available!")
    return [l for l in lines if " l1 l1/" in l]


HDR = re.compile(r"^<(\d+)>(\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+)\[(\d+)\]: (.*)$")


def fields(line):
    m = HDR.match(line)
    if not m:
        return None
    f = m.group(5).split(" ")
    return {"pri": m.group(1), "body": f}


def compare(h, w, ignore=""):
    fh, fw = fields(h), fields(w)
    if fh is None or fw is None:
        return ["header shape differs"]
    diffs = []
    if fh["pri"] != fw["pri"]:
        diffs.append("PRI %s vs %s" % (fh["pri"], fw["pri"]))
    bh, bw = fh["body"], fw["body"]
    if len(bh) != len(bw):
        return diffs + ["%d fields vs %d" % (len(bh), len(bw))]
    names = ["client", "date", "frontend", "backend/server", "Tw/Tc/Tt", "bytes", "termination", "counters", "queues"]
    for i, n in enumerate(names):
        a, b = bh[i], bw[i]
        if n in ("client", "date") or n == ignore:
            continue
        if n == "Tw/Tc/Tt":
            ma = ["-1" if x == "-1" else "n" for x in a.split("/")]
            mb = ["-1" if x == "-1" else "n" for x in b.split("/")]
            if ma != mb:
                diffs.append("%s %s vs %s" % (n, a, b))
        elif a != b:
            diffs.append("%s %s vs %s" % (n, a, b))
    return diffs


def main():
    only = sys.argv[sys.argv.index("--only") + 1:] if "--only" in sys.argv else None
    bad = 0
    for name, over, fn in SCENARIOS:
        if only and not any(o in name for o in only):
            continue
        params = dict(BASE, **over)
        ignore = params.pop("ignore", "")
        cfg = CFG.format(syslog=SYSLOG, fe=FE, srv=SRV, **params)
        h = run("haproxy", cfg, fn)
        w = run("forwarder", cfg, fn)
        print("== " + name)
        print("  haproxy  : " + (" | ".join(h) or "(no line)"))
        print("  forwarder: " + (" | ".join(w) or "(no line)"))
        if len(h) != len(w):
            print("  DIFFERS: %d lines vs %d" % (len(h), len(w)))
            bad += 1
            continue
        for a, b in zip(h, w):
            d = compare(a, b, ignore)
            print("  " + ("same shape" if not d else "DIFFERS: " + "; ".join(d)))
            bad += 1 if d else 0
    print("%d difference(s)" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
