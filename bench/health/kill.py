#!/usr/bin/env python3
"""How fast a dead server stops receiving clients: forwarder against HAProxy, same run, same config.

Two servers behind each proxy (`check inter 1s fall 2 rise 2`); s1 is killed (its listener closed,
so connects are refused) at t0; clients go through each proxy every 10 ms for 6 s. A client whose
connection closes without the server's line went to the dead server. Prints, per proxy, the
failed clients and when the first and the last of them were sent after t0 (the last one: the
checks had not yet taken the server out). Clients that waited on the dead server's retries still
count once each.
Bounded: fixed durations, every process started here is stopped by its pid.
Usage: kill.py <java> <forwarder.jar>
"""
import os, socket, subprocess, sys, tempfile, threading, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Server:
    def __init__(self, port):
        self.sock = socket.socket(); self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port)); self.sock.listen(200); self.alive = True
        threading.Thread(target=self.loop, daemon=True).start()
    def loop(self):
        while self.alive:
            try: c, _ = self.sock.accept()
            except OSError: return
            try: c.sendall(b"ok\n")
            except OSError: pass
            c.close()
    def kill(self):
        self.alive = False; self.sock.close()

def client(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
            c.settimeout(3)
            return c.recv(3) == b"ok\n"
    except OSError:
        return False

def main():
    java, jar = sys.argv[1], sys.argv[2]
    p1, p2, fw, hx = free_port(), free_port(), free_port(), free_port()
    s1, s2 = Server(p1), Server(p2)
    cfg = """defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen lb
    bind 127.0.0.1:%d
    server s1 127.0.0.1:%d check inter 1s fall 2 rise 2
    server s2 127.0.0.1:%d check inter 1s fall 2 rise 2
"""
    d = tempfile.mkdtemp()
    fcfg, hcfg = os.path.join(d, "fw.cfg"), os.path.join(d, "hx.cfg")
    open(fcfg, "w").write(cfg % (fw, p1, p2)); open(hcfg, "w").write(cfg % (hx, p1, p2))
    procs = [subprocess.Popen([java, "--enable-native-access=ALL-UNNAMED", "-jar", jar, "-f", fcfg],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen(["/usr/sbin/haproxy", "-db", "-f", hcfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(3)  # both up, first checks passed
        for name, port in (("forwarder", fw), ("haproxy", hx)):
            assert client(port), name + " does not forward"
        t0 = time.monotonic(); s1.kill()
        fails = {"forwarder": [], "haproxy": []}; counts = {"forwarder": 0, "haproxy": 0}
        lock = threading.Lock(); threads = []

        def one(name, port, start):
            if not client(port):
                with lock: fails[name].append(start)

        def sender(name, port):
            # a client every 10 ms, each on its own thread: a client held by retries does not delay the next
            while time.monotonic() - t0 < 6:
                start = time.monotonic() - t0
                t = threading.Thread(target=one, args=(name, port, start), daemon=True); t.start()
                with lock: threads.append(t); counts[name] += 1
                time.sleep(0.01)

        senders = [threading.Thread(target=sender, args=(n, p)) for n, p in (("forwarder", fw), ("haproxy", hx))]
        for t in senders: t.start()
        for t in senders: t.join()
        for t in list(threads): t.join(10)
        print("clients sent after the kill: forwarder %d, haproxy %d (one every ~10 ms each)"
              % (counts["forwarder"], counts["haproxy"]))
        for name, f in fails.items():
            f.sort()
            if f: print("%-9s failed %3d, sent from %.3f s to %.3f s after the kill" % (name, len(f), f[0], f[-1]))
            else: print("%-9s failed   0" % name)
    finally:
        for p in procs:
            p.terminate()
            try: p.wait(5)
            except subprocess.TimeoutExpired: p.kill()
        s2.kill()

main()
