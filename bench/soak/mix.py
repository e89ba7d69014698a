#!/usr/bin/env python3
"""The soak's traffic: a test peer (serve) and the mixed load (load), Python 3 stdlib only.

Why a separate peer: the echo server answers ping-pong and connection bursts, but a soak must also
see data flowing one way only (uploads, downloads), servers that reset mid-transfer and clients
that do; those need a peer that speaks a one-line protocol. Why byte-exact checks: a leak hunt
that loses bytes unnoticed would measure the wrong program.

  mix.py serve --port P --lifetime S
      one thread per connection; the first line is the command:
        UP\\n              read to EOF, answer "<count> <sha256>\\n", close
        DOWN n off\\n      send n bytes of the stream at off, close
        RST n off\\n       send n bytes of the stream at off, then close with SO_LINGER 0 (RST)
  mix.py load --echo-copy P --echo-splice P --peer-copy P --peer-splice P ...
      runs every kind of operation concurrently, paced, until --duration (or SIGTERM), writes the
      counts to --status every second (atomically) and a final line at the end; exit 1 if any
      byte-exactness check failed (2 if another operation failed).

The stream is a fixed pseudo-random buffer of an odd size (seeded: peer and client share it),
read from a random offset, so consecutive transfers differ and a misplaced block shows.
"""
import argparse
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

BASE_SIZE = (64 << 20) + 4093
BASE = memoryview(random.Random(20261201).randbytes(BASE_SIZE))
CHUNK = 256 << 10
IO_TIMEOUT = 30.0          # no single socket call may block longer
KINDS = ("bulk", "halfclose", "reset", "pingpong", "connrate")


def stream(off, n):
    """memoryview chunks of the stream starting at off, n bytes in all"""
    off %= BASE_SIZE
    while n > 0:
        k = min(n, CHUNK, BASE_SIZE - off)
        yield BASE[off:off + k]
        n -= k
        off = (off + k) % BASE_SIZE


def stream_bytes(off, n):
    return b"".join(bytes(c) for c in stream(off, n))


def sha_of(off, n):
    h = hashlib.sha256()
    for c in stream(off, n):
        h.update(c)
    return h.hexdigest()


def rst_close(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


# ------------------------------------------------------------------ peer
def serve_conn(c):
    c.settimeout(IO_TIMEOUT)
    try:
        line = b""
        while not line.endswith(b"\n") and len(line) < 200:
            b = c.recv(1)
            if not b:
                return
            line += b
        w = line.split()
        if w[:1] == [b"UP"]:
            h = hashlib.sha256()
            n = 0
            buf = bytearray(CHUNK)
            while True:
                k = c.recv_into(buf)
                if k == 0:
                    break
                n += k
                h.update(memoryview(buf)[:k])
            c.sendall(("%d %s\n" % (n, h.hexdigest())).encode())
        elif w[:1] in ([b"DOWN"], [b"RST"]) and len(w) == 3:
            for ch in stream(int(w[2]), int(w[1])):
                c.sendall(ch)
            if w[0] == b"RST":
                rst_close(c)
                return
    except OSError:
        pass
    finally:
        try:
            c.close()
        except OSError:
            pass


def serve(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(512)
    ls.settimeout(0.5)
    end = time.monotonic() + a.lifetime
    live = threading.BoundedSemaphore(256)
    while time.monotonic() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        if not live.acquire(timeout=5):
            rst_close(c)
            continue

        def run(c=c):
            try:
                serve_conn(c)
            finally:
                live.release()
        threading.Thread(target=run, daemon=True).start()
    return 0


# ------------------------------------------------------------------ load
class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {k: 0 for k in KINDS}
        self.fail = {k: 0 for k in KINDS}
        self.integrity = 0
        self.bytes = 0
        self.reasons = []

    def good(self, kind, n=1, nbytes=0):
        with self.lock:
            self.ok[kind] += n
            self.bytes += nbytes

    def bad(self, kind, why, integrity=False, n=1):
        with self.lock:
            self.fail[kind] += n
            if integrity:
                self.integrity += 1
            if len(self.reasons) < 20:
                self.reasons.append("%s: %s" % (kind, why))
        print("[mix] %s FAILED%s: %s" % (kind, " (INTEGRITY)" if integrity else "", why), file=sys.stderr, flush=True)

    def line(self):
        with self.lock:
            f = ["%s_ok=%d %s_fail=%d" % (k, self.ok[k], k, self.fail[k]) for k in KINDS]
            return " ".join(f) + " integrity_fail=%d bytes=%d" % (self.integrity, self.bytes)


class Integrity(Exception):
    pass


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def recv_all(s, h, verify=None):
    """read to EOF, hashing; returns the byte count"""
    buf = bytearray(CHUNK)
    n = 0
    while True:
        k = s.recv_into(buf)
        if k == 0:
            return n
        mv = memoryview(buf)[:k]
        if verify is not None:
            verify(n, mv)
        h.update(mv)
        n += k


def op_echo(port, n, off, counts, kind):
    """send n bytes, shut the write side, read the echo to EOF: count and SHA-256 must match"""
    s = connect(port)
    try:
        hs = hashlib.sha256()
        err = []

        def send():
            try:
                for c in stream(off, n):
                    s.sendall(c)
                    hs.update(c)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=send, daemon=True)
        t.start()
        hr = hashlib.sha256()
        got = recv_all(s, hr)
        t.join(IO_TIMEOUT)
        if err:
            raise err[0]
        if t.is_alive():
            raise OSError("sender did not finish")
        if got != n:
            raise Integrity("echo: sent %d bytes, got %d back before EOF" % (n, got))
        if hr.hexdigest() != hs.hexdigest():
            raise Integrity("echo: SHA-256 of %d bytes differs" % n)
        counts.good(kind, nbytes=2 * n)
    finally:
        s.close()


def op_up(port, n, off, counts):
    s = connect(port)
    try:
        s.sendall(b"UP\n")
        h = hashlib.sha256()
        for c in stream(off, n):
            s.sendall(c)
            h.update(c)
        s.shutdown(socket.SHUT_WR)
        ans = b""
        while True:
            b = s.recv(256)
            if not b:
                break
            ans += b
        w = ans.split()
        if len(w) != 2:
            raise Integrity("upload: peer answered %r" % ans[:80])
        if int(w[0]) != n:
            raise Integrity("upload: sent %d bytes, peer got %s" % (n, w[0].decode()))
        if w[1].decode() != h.hexdigest():
            raise Integrity("upload: SHA-256 of %d bytes differs at the peer" % n)
        counts.good("bulk", nbytes=n)
    finally:
        s.close()


def op_down(port, n, off, counts):
    s = connect(port)
    try:
        s.sendall(b"DOWN %d %d\n" % (n, off))
        h = hashlib.sha256()
        got = recv_all(s, h)
        if got != n:
            raise Integrity("download: expected %d bytes, got %d before EOF" % (n, got))
        if h.hexdigest() != sha_of(off, n):
            raise Integrity("download: SHA-256 of %d bytes differs" % n)
        counts.good("bulk", nbytes=n)
    finally:
        s.close()


def prefix_checker(off, what):
    def verify(pos, mv):
        if bytes(mv) != stream_bytes(off + pos, len(mv)):
            raise Integrity("%s: bytes at %d..%d are not the stream's" % (what, pos, pos + len(mv)))
    return verify


def read_prefix(s, off, want, n, what):
    """reads want bytes of a transfer of n that started at pattern offset off, each one checked"""
    got = 0
    verify = prefix_checker(off, what)
    buf = bytearray(CHUNK)
    while got < want:
        k = s.recv_into(buf, min(CHUNK, want - got))
        if k == 0:
            raise Integrity("%s: EOF after %d of %d bytes" % (what, got, n))
        verify(got, memoryview(buf)[:k])
        got += k


def op_client_rst_echo(port, rnd):
    """send part of a transfer, read some echo back (verified), then RST"""
    off = rnd.randrange(BASE_SIZE)
    n = rnd.randint(64 << 10, 2 << 20)
    s = connect(port)
    try:
        for c in stream(off, n):
            s.sendall(c)
        read_prefix(s, off, rnd.randint(1, n // 2), n, "echo before client reset")
    finally:
        rst_close(s)


def op_client_rst_down(port, rnd):
    """start a download, read a random part of it (verified), then RST with data in flight"""
    off = rnd.randrange(BASE_SIZE)
    n = 16 << 20
    s = connect(port)
    try:
        s.sendall(b"DOWN %d %d\n" % (n, off))
        read_prefix(s, off, rnd.randint(1, n // 2), n, "download before client reset")
    finally:
        rst_close(s)


def op_server_rst(port, rnd):
    """the peer sends n bytes then resets: what arrives must be a prefix, then EOF or a reset"""
    off = rnd.randrange(BASE_SIZE)
    n = rnd.randint(1, 4 << 20)
    s = connect(port)
    try:
        s.sendall(b"RST %d %d\n" % (n, off))
        verify = prefix_checker(off, "download before server reset")
        buf = bytearray(CHUNK)
        got = 0
        try:
            while True:
                k = s.recv_into(buf)
                if k == 0:
                    break
                verify(got, memoryview(buf)[:k])
                got += k
                if got > n:
                    raise Integrity("server reset: %d bytes arrived, the peer sent %d" % (got, n))
        except ConnectionResetError:
            pass
    finally:
        s.close()


def op_halfclose(port, rnd, counts):
    n = rnd.randint(1, 256 << 10)
    op_echo(port, n, rnd.randrange(BASE_SIZE), counts, "halfclose")


class Load:
    def __init__(self, a):
        self.a = a
        self.stop = threading.Event()
        self.end = time.monotonic() + a.duration
        self.counts = Counts()
        self.procs = set()
        self.plock = threading.Lock()

    def running(self):
        return not self.stop.is_set() and time.monotonic() < self.end

    def pause(self, s):
        self.stop.wait(max(0.0, min(s, self.end - time.monotonic())))

    def guarded(self, kind, fn):
        try:
            fn()
            return True
        except Integrity as e:
            self.counts.bad(kind, str(e), integrity=True)
        except (OSError, ValueError) as e:
            self.counts.bad(kind, "%s: %s" % (type(e).__name__, e))
        return False

    def bulk_loop(self, seed):
        a, rnd = self.a, random.Random(seed)
        ops = [("echo", a.echo_copy), ("echo", a.echo_splice), ("up", a.peer_copy), ("up", a.peer_splice),
               ("down", a.peer_copy), ("down", a.peer_splice)]
        i = seed
        while self.running() and i - seed < a.max_ops:
            what, port = ops[i % len(ops)]
            i += 1
            n = rnd.randint(a.bulk_min << 20, a.bulk_max << 20)
            off = rnd.randrange(BASE_SIZE)
            if what == "echo":
                self.guarded("bulk", lambda: op_echo(port, n, off, self.counts, "bulk"))
            elif what == "up":
                self.guarded("bulk", lambda: op_up(port, n, off, self.counts))
            else:
                self.guarded("bulk", lambda: op_down(port, n, off, self.counts))
            self.pause(a.bulk_gap)

    def halfclose_loop(self):
        a, rnd = self.a, random.Random(2)
        i = 0
        while self.running() and i < a.max_ops:
            port = (a.echo_copy, a.echo_splice)[i % 2]
            i += 1
            self.guarded("halfclose", lambda: op_halfclose(port, rnd, self.counts))
            self.pause(a.halfclose_gap)

    def reset_loop(self):
        a, rnd = self.a, random.Random(3)
        ops = [lambda p, q: op_client_rst_echo(p, rnd), lambda p, q: op_client_rst_down(q, rnd),
               lambda p, q: op_server_rst(q, rnd)]
        i = 0
        while self.running() and i < a.max_ops:
            f = ops[i % 3]
            splice = (i // 3) % 2
            i += 1
            p = a.echo_splice if splice else a.echo_copy
            q = a.peer_splice if splice else a.peer_copy
            if self.guarded("reset", lambda: f(p, q)):
                self.counts.good("reset")
            self.pause(a.reset_gap)

    def burst_loop(self, kind, every, first, extra):
        """LoadClient bursts: its ops count as done, its errors as failed"""
        a = self.a
        self.pause(first)
        i = 0
        while self.running() and i < a.max_ops:
            i += 1
            secs = min(a.burst_s, max(0.5, self.end - time.monotonic()))
            cmd = [a.java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xms32m", "-Xmx256m", "-cp", a.bench_cp,
                   "org.forwarder.bench.load.LoadClient", "--mode", kind, "--port", str(a.echo_copy if i % 2 else a.echo_splice),
                   "--warmup", "0", "--duration", "%.1f" % secs, "--deadline", "%.1f" % (secs + 20)] + extra
            try:
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            except OSError as e:
                self.counts.bad(kind, "LoadClient did not start: %s" % e)
                return
            with self.plock:
                self.procs.add(p)
            try:
                out, err = p.communicate(timeout=secs + 40)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            with self.plock:
                self.procs.discard(p)
            res = {}
            for l in out.decode(errors="replace").splitlines():
                if l.startswith("RESULT "):
                    res = dict(x.split("=", 1) for x in l.split()[1:] if "=" in x)
            if not res:
                if self.stop.is_set():
                    break
                last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1][:160]
                self.counts.bad(kind, "LoadClient exit %s without RESULT: %s" % (p.returncode, last))
            else:
                ops, errs = int(res.get("all_ops", res.get("ops", "0"))), int(res.get("errors", "0"))
                if ops > 0:
                    self.counts.good(kind, ops)
                if errs > 0:
                    self.counts.bad(kind, "LoadClient: %d errors (%s)" % (errs, " ".join(
                        "%s=%s" % (k, v) for k, v in res.items()
                        if (k.startswith("err_") and v != "0") or k == "first_other")), n=errs)
                elif ops == 0:
                    self.counts.bad(kind, "LoadClient did nothing: " + out.decode(errors="replace").splitlines()[0][:160])
            self.pause(every)

    def kill_children(self):
        with self.plock:
            for p in list(self.procs):
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass

    def write_status(self, final=False):
        if not self.a.status:
            return
        ru_s = os.times()
        cpu = ru_s.user + ru_s.system + ru_s.children_user + ru_s.children_system
        tmp = self.a.status + ".tmp"
        with open(tmp, "w") as f:
            f.write("%s cpu_s=%.2f done=%d\n" % (self.counts.line(), cpu, 1 if final else 0))
        os.replace(tmp, self.a.status)

    def prime(self, n):
        """n splice echoes and n splice downloads at once (16 MiB each): every loop's idle pipe
        cache fills, so idle fd counts before and after the mix compare like with like"""
        rnd = random.Random(5)
        size = 16 << 20
        jobs = [lambda o=rnd.randrange(BASE_SIZE): op_echo(self.a.echo_splice, size, o, self.counts, "bulk")
                for _ in range(n)]
        jobs += [lambda o=rnd.randrange(BASE_SIZE): op_down(self.a.peer_splice, size, o, self.counts) for _ in range(n)]
        ts = [threading.Thread(target=self.guarded, args=("bulk", j), daemon=True) for j in jobs]
        for t in ts:
            t.start()
        for t in ts:
            t.join(IO_TIMEOUT * 2)

    def run(self):
        a = self.a
        if a.prime:
            self.prime(a.prime)
        threads = [threading.Thread(target=self.bulk_loop, args=(s,), daemon=True) for s in range(a.bulk_workers)]
        threads += [threading.Thread(target=self.halfclose_loop, daemon=True),
                    threading.Thread(target=self.reset_loop, daemon=True)]
        if a.pingpong_every > 0:
            threads.append(threading.Thread(target=self.burst_loop, daemon=True, args=(
                "pingpong", a.pingpong_every, 1.0, ["--conns", str(a.pingpong_conns), "--size", "256"])))
        if a.connrate_every > 0:
            threads.append(threading.Thread(target=self.burst_loop, daemon=True, args=(
                "connrate", a.connrate_every, 1.0 + a.pingpong_every / 2, ["--conns", str(a.connrate_conns), "--size", "64"])))
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            self.write_status()
            if not self.running():
                self.stop.set()
                self.kill_children()
            threads[0].join(1.0) if threads[0].is_alive() else time.sleep(1.0)
            if time.monotonic() > self.end + 60:
                print("[mix] operations still running 60 s after the end; giving up on them", file=sys.stderr)
                break
        self.write_status(final=True)
        print("[mix] %s" % self.counts.line(), file=sys.stderr)
        for r in self.counts.reasons:
            print("[mix] failure: %s" % r, file=sys.stderr)
        if self.counts.integrity:
            return 1
        return 2 if any(self.counts.fail.values()) else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--lifetime", type=float, default=3600 + 600)
    l = sub.add_parser("load")
    for f in ("--echo-copy", "--echo-splice", "--peer-copy", "--peer-splice"):
        l.add_argument(f, type=int, required=True)
    l.add_argument("--duration", type=float, required=True)
    l.add_argument("--status", default="")
    l.add_argument("--java", default="java")
    l.add_argument("--bench-cp", default="bench/target/classes")
    l.add_argument("--bulk-workers", type=int, default=1)
    l.add_argument("--bulk-min", type=int, default=32, help="MiB")
    l.add_argument("--bulk-max", type=int, default=64, help="MiB")
    l.add_argument("--bulk-gap", type=float, default=1.0)
    l.add_argument("--halfclose-gap", type=float, default=0.2)
    l.add_argument("--reset-gap", type=float, default=0.3)
    l.add_argument("--pingpong-every", type=float, default=20.0, help="seconds between bursts, 0 = none")
    l.add_argument("--connrate-every", type=float, default=20.0, help="seconds between bursts, 0 = none")
    l.add_argument("--pingpong-conns", type=int, default=4)
    l.add_argument("--connrate-conns", type=int, default=4)
    l.add_argument("--burst-s", type=float, default=2.0)
    l.add_argument("--max-ops", type=int, default=1000000, help="per loop")
    l.add_argument("--prime", type=int, default=0, help="N concurrent splice transfers first")
    a = p.parse_args()
    if a.cmd == "serve":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        return serve(a)
    if not (1 <= a.bulk_min <= a.bulk_max <= 1024):
        p.error("need 1 <= --bulk-min <= --bulk-max <= 1024 (MiB)")
    load = Load(a)

    def on_term(*_):
        load.stop.set()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    return load.run()


if __name__ == "__main__":
    sys.exit(main())
