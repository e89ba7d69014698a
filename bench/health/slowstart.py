#!/usr/bin/env python3
"""slowstart and maxconn: forwarder against HAProxy, same config, same steps.

One server (`maxconn 4 slowstart 3s check port CHK inter 100 rise 1 fall 1`), its checks
answered by a separate listener. The check listener is closed (the server goes DOWN), then
opened again (UP: the ramp starts), and at once four clients connect and hold. Each proxy's
`show stat` (stats socket) is read every 250 ms for 5 s: the server's scur and the backend's
qcur. HAProxy ramps maxconn from 1 (srv_dynamic_maxconn), so clients wait in the queue and are
let in as the ramp grows, without any stream ending.
Bounded: fixed durations, every process started here is stopped by its pid.
Usage: slowstart.py <java> <forwarder.jar>
"""
import os, socket, subprocess, sys, tempfile, threading, time


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


class Listener:
    """Accepts and holds every connection (hold=True), or accepts and closes (a check target)."""
    def __init__(self, port, hold):
        self.sock = socket.socket(); self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port)); self.sock.listen(64); self.hold = hold; self.held = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.hold:
                self.held.append(c)
            else:
                c.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.held:
            c.close()


def stat(sock_path):
    """(server scur, backend qcur) from show stat."""
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sock_path)
    s.sendall(b"show stat\n"); out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    scur = qcur = None
    for line in out.decode().splitlines():
        f = line.split(",")
        if len(f) > 4 and f[0] == "l" and f[1] == "s1":
            scur = f[4]
        if len(f) > 4 and f[0] == "l" and f[1] == "BACKEND":
            qcur = f[2]
    return scur, qcur


def run(name, cmd_for):
    fe, srv, chk = free_port(), free_port(), free_port()
    d = tempfile.mkdtemp()
    sock = os.path.join(d, "stats.sock")
    cfg = os.path.join(d, "p.cfg")
    with open(cfg, "w") as f:
        f.write("""global
    stats socket %s level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout queue 30s
listen l
    bind 127.0.0.1:%d
    server s1 127.0.0.1:%d maxconn 4 slowstart 3s check port %d inter 100 rise 1 fall 1
""" % (sock, fe, srv, chk))
    server = Listener(srv, hold=True)
    p = subprocess.Popen(cmd_for(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients = []
    rows = []
    try:
        deadline = time.time() + 15
        while time.time() < deadline and not os.path.exists(sock):
            time.sleep(0.05)
        time.sleep(1.0)  # checks fail (nothing on CHK): DOWN
        checks = Listener(chk, hold=False)  # checks pass: UP, the ramp starts
        time.sleep(0.35)
        for _ in range(4):
            clients.append(socket.create_connection(("127.0.0.1", fe), timeout=5))
        t0 = time.time()
        while time.time() - t0 < 5:
            time.sleep(0.25)
            rows.append((round(time.time() - t0, 2),) + stat(sock))
        checks.close()
    finally:
        for c in clients:
            c.close()
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        server.close()
    print("%-9s  t(s) after the clients: (server scur, backend qcur)" % name)
    print("           " + "  ".join("%.2f:(%s,%s)" % r for r in rows))


def main():
    if len(sys.argv) != 3:
        print(__doc__); return 2
    java, jar = sys.argv[1], sys.argv[2]
    run("haproxy", lambda cfg: ["/usr/sbin/haproxy", "-f", cfg, "-db"])
    run("forwarder", lambda cfg: [java, "--enable-native-access=ALL-UNNAMED", "-jar", jar, "-f", cfg])
    return 0


if __name__ == "__main__":
    sys.exit(main())
