"""Shared plumbing for the edge-case scenarios (bench/edge/run.sh): relays, configs, sockets,
process accounting and the result lines.

Why a library of its own: every scenario must run the very same client/server code against a
direct connection, HAProxy and the forwarder, and must never leave a process behind. So a relay
is only ever started through Relay (its own session, registered, stopped by PID in a finally
block, at exit and on SIGINT/SIGTERM), configs are generated here from one template in HAProxy
syntax that both relays read, and every socket wait takes an absolute deadline.

Python 3 standard library only.
"""

import atexit
import errno
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

LOCAL = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_WAIT_S = 15.0      # a relay must listen within this (a JVM on a loaded machine is slow)
STOP_WAIT_S = 3.0        # SIGTERM, then SIGKILL after this

# ---------------------------------------------------------------- results


class Results:
    """One Markdown table row per case, printed as soon as it is known."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.rows = 0
        self.last = time.monotonic()

    def header(self):
        print("| relay | case | observed | expected | verdict |", file=self.out)
        print("|---|---|---|---|---|", file=self.out)
        self.out.flush()

    def row(self, relay, case, observed, expected, ok):
        verdict = "INFO" if ok is None else ("PASS" if ok else "DIFF")
        cells = [relay, case, observed, expected, verdict]
        print("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |",
              file=self.out)
        self.out.flush()
        self.rows += 1
        now = time.monotonic()
        log(f"  {relay} {case}: {verdict} ({now - self.last:.1f} s)")
        self.last = now


def log(msg):
    print(f"[edge] {msg}", file=sys.stderr, flush=True)


def mib(n):
    return f"{n / (1 << 20):.2f} MiB"


# ---------------------------------------------------------------- processes

_LIVE = {}            # pid -> (Popen, what) of every process we started and have not reaped
_LIVE_LOCK = threading.Lock()


def _register(p, what):
    with _LIVE_LOCK:
        _LIVE[p.pid] = (p, what)


def stop_process(p, sig=signal.SIGTERM, wait_s=STOP_WAIT_S):
    """Stops one process we started (its own session: pgid == pid), KILL after wait_s; reaps."""
    if p is None:
        return
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
        try:
            p.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                log(f"pid {p.pid} did not exit after SIGKILL")
    with _LIVE_LOCK:
        _LIVE.pop(p.pid, None)


def stop_all():
    with _LIVE_LOCK:
        procs = [v[0] for v in _LIVE.values()]
    for p in procs:
        stop_process(p, wait_s=1.0)


def _on_signal(signum, _frame):
    log(f"signal {signum}: stopping the processes started here")
    stop_all()
    sys.exit(128 + signum)


def install_cleanup():
    atexit.register(stop_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def spawn(cmd, what, **kw):
    """Starts cmd in its own session (so its whole group can be stopped) and registers it."""
    p = subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL, **kw)
    _register(p, what)
    return p


def cpu_seconds(pid):
    """utime+stime of the process (all its threads) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # fields 14 and 15 of stat(5)


def pipe_fds(pid):
    """Number of the process's fds that are pipes (2 per pipe), or None."""
    n = 0
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n


F_GETPIPE_SZ = 1032


def pipe_sizes(pid):
    """{pipe size in bytes: number of pipes} of the process, each pipe (inode) counted once.

    Opens /proc/PID/fd/N read-only and non-blocking for F_GETPIPE_SZ: that adds a reader to the
    pipe for a moment and never takes bytes out of it.
    """
    import fcntl
    seen = set()
    sizes = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return sizes
    for name in names:
        path = f"/proc/{pid}/fd/{name}"
        try:
            link = os.readlink(path)
        except OSError:
            continue
        if not link.startswith("pipe:") or link in seen:
            continue
        seen.add(link)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            size = fcntl.fcntl(fd, F_GETPIPE_SZ)
            sizes[size] = sizes.get(size, 0) + 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return sizes


def fmt_sizes(sizes):
    def k(b):
        return f"{b >> 20} MiB" if b >= 1 << 20 and b % (1 << 20) == 0 else f"{b >> 10} KiB"
    return ", ".join(f"{n} x {k(b)}" for b, n in sorted(sizes.items(), reverse=True)) or "none"


CAP_SYS_ADMIN = 21
CAP_SYS_RESOURCE = 24


def cap_eff(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return None


def listening(port):
    """Is something listening on 127.0.0.1:port (or 0.0.0.0:port)? Reads /proc/net/tcp."""
    want = (f"0100007F:{port:04X}", f"00000000:{port:04X}")
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] in want and parts[3] == "0A":
                    return True
    except OSError:
        pass
    return False


def free_port():
    """A port that was free a moment ago (bound then released)."""
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- relays


class Rejected(Exception):
    """The relay refused the configuration or did not start; str() is the reason."""


class Env:
    """What the run was given: java, jar, haproxy, temp dir."""

    def __init__(self, java, jar, haproxy, tmp):
        self.java, self.jar, self.haproxy, self.tmp = java, jar, haproxy, tmp


def make_cfg(listen_port, servers, global_lines=(), defaults_lines=(), proxy_lines=(),
             connect="5s", client="30s", server="30s"):
    """One config text in HAProxy syntax that both HAProxy and the forwarder read.

    servers: list of (name, port, extra) where extra is e.g. "maxconn 1" or "".
    """
    out = ["global", "    nbthread 1", "    maxconn 1000"]
    out += [f"    {l}" for l in global_lines]
    out += ["", "defaults", "    mode tcp",
            f"    timeout connect {connect}", f"    timeout client {client}",
            f"    timeout server {server}"]
    out += [f"    {l}" for l in defaults_lines]
    out += ["", "listen edge", f"    bind {LOCAL}:{listen_port}"]
    out += [f"    {l}" for l in proxy_lines]
    for name, port, extra in servers:
        out.append(f"    server {name} {LOCAL}:{port}" + (f" {extra}" if extra else ""))
    return "\n".join(out) + "\n"


class Relay:
    """A HAProxy or forwarder process serving one generated config; a context manager.

    wrap: a command prefix (e.g. setpriv ...) that execs the relay, so the PID stays the relay's.
    """

    def __init__(self, env, kind, cfg_text, port, wrap=()):
        self.env, self.kind, self.cfg_text, self.port, self.wrap = env, kind, cfg_text, port, list(wrap)
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix=f"{kind}-", dir=env.tmp)
        self.cfg = os.path.join(self.dir, "edge.cfg")
        self.logf = os.path.join(self.dir, "relay.log")

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        if self.kind == "haproxy":
            return [self.env.haproxy, "-db", "-f", self.cfg]
        # a short stop grace: streams still open when a case ends are the case's business
        return [self.env.java, "--enable-native-access=ALL-UNNAMED", "-Dforwarder.grace.ms=200",
                "-jar", self.env.jar, "-f", self.cfg]

    def _why(self):
        try:
            with open(self.logf, errors="replace") as f:
                lines = [l.strip() for l in f if l.strip()]
        except OSError:
            lines = []
        msg = "; ".join(lines[:2]) if lines else "no output"
        return msg.replace(self.cfg, "edge.cfg")

    def __enter__(self):
        with open(self.cfg, "w") as f:
            f.write(self.cfg_text)
        with open(self.logf, "wb") as lf:
            self.proc = spawn(self.wrap + self.command(), f"{self.kind} relay",
                              stdout=lf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                stop_process(self.proc)
                raise Rejected(f"exit {rc}: {self._why()}")
            if listening(self.port):
                return self
            time.sleep(0.02)
        why = self._why()
        stop_process(self.proc)
        raise Rejected(f"not listening after {START_WAIT_S:.0f} s: {why}")

    def __exit__(self, *exc):
        stop_process(self.proc)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu(self):
        return cpu_seconds(self.pid)


# ---------------------------------------------------------------- sockets


def listener(port=0, backlog=128):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOCAL, port))
    s.listen(backlog)
    return s


def connect(port, timeout=5.0, rcvbuf=None):
    """A connected client socket; rcvbuf (bytes) fixes SO_RCVBUF before the handshake."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((LOCAL, port))
    except OSError:
        s.close()
        raise
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def accept(lst, deadline, stop=None):
    """accept() with an absolute deadline; None when nothing came (or `stop`, an Event, is set)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or (stop is not None and stop.is_set()):
            return None
        lst.settimeout(min(left, 0.1) if stop is not None else left)
        try:
            c, _ = lst.accept()
        except socket.timeout:
            continue
        except OSError:
            return None
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return c


def linger_reset(s):
    """close() will send a reset (SO_LINGER on, 0 s)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def end_name(exc):
    if isinstance(exc, ConnectionResetError):
        return "RST"
    if isinstance(exc, BrokenPipeError):
        return "EPIPE"
    if isinstance(exc, socket.timeout):
        return "open"
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


class Drain:
    """Reads a socket until EOF, an error, a byte limit or a deadline.

    end: "EOF" (clean FIN), "RST", "open" (deadline reached), "limit" (got `limit` bytes), or an
    errno name. t_end: monotonic time of the end; t_first: of the first byte.
    """

    def __init__(self, sock, deadline, limit=None, hasher=None, collect=False, chunk=1 << 20):
        self.n = 0
        self.end = None
        self.t_first = None
        self.data = bytearray() if collect else None
        buf = bytearray(chunk)
        mv = memoryview(buf)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.end = "open"
                break
            if limit is not None and self.n >= limit:
                self.end = "limit"
                break
            want = chunk if limit is None else min(chunk, limit - self.n)
            sock.settimeout(left)
            try:
                k = sock.recv_into(mv, want)
            except Exception as e:  # noqa: BLE001 - every ending is a result here
                self.end = end_name(e)
                break
            if k == 0:
                self.end = "EOF"
                break
            if self.t_first is None:
                self.t_first = time.monotonic()
            self.n += k
            if hasher is not None:
                hasher.update(mv[:k])
            if collect:
                self.data += mv[:k]
        self.t_end = time.monotonic()


def send_counted(sock, payload, deadline, block=1 << 20):
    """Sends payload with blocking sends until done, an error or the deadline.

    Returns (bytes_sent, end, t_end) with end "done", "open" (deadline), "RST", "EPIPE", ...
    """
    mv = memoryview(payload)
    off = 0
    end = "done"
    while off < len(payload):
        left = deadline - time.monotonic()
        if left <= 0:
            end = "open"
            break
        sock.settimeout(left)
        try:
            off += sock.send(mv[off:off + block])
        except Exception as e:  # noqa: BLE001
            end = end_name(e)
            break
    return off, end, time.monotonic()


class Thread(threading.Thread):
    """A daemon thread that keeps its target's result or exception."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.result, self.error = fn, args, None, None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001
            self.error = e

    def join_result(self, timeout):
        self.join(timeout)
        if self.is_alive():
            return None
        if self.error is not None:
            raise self.error
        return self.result


def close_all(*socks):
    for s in socks:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


# ---------------------------------------------------------------- strace


class StraceConnects:
    """strace -f -ttt -e trace=connect attached to a PID: the relay's connect attempts.

    A nonblocking connect is one call returning EINPROGRESS; some relays (HAProxy) then call
    connect() again on the same fd to learn the outcome. Such a second call (after EINPROGRESS
    or EALREADY on that fd, itself not returning EINPROGRESS) is not counted as an attempt.
    """

    LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(?:connect\((\d+),.*?|<\.\.\. connect resumed>.*?)"
                      r"(?:<unfinished \.\.\.>|= (-?\d+)\s*(\w+)?)")

    def __init__(self, pid, tmp):
        self.out = os.path.join(tmp, f"strace-{pid}-{time.monotonic_ns()}.txt")
        self.proc = spawn(["strace", "-f", "-ttt", "-e", "trace=connect", "-o", self.out, "-p", str(pid)],
                          "strace", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.attached = threading.Event()
        self.stderr = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            text = line.decode(errors="replace").strip()
            self.stderr.append(text)
            if "attached" in text:
                self.attached.set()

    def wait_attached(self, timeout=5.0):
        ok = self.attached.wait(timeout)
        time.sleep(0.2)   # -f attaches to every thread; the first line comes before the rest
        return ok

    def stop(self):
        """SIGINT makes strace detach; returns the attempts' wall-clock times (list) or None."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.proc)
        self._reader.join(1)
        try:
            with open(self.out) as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        attempts = []
        last = {}          # fd -> errno name of the last connect() on it
        pending = {}       # pid -> (fd, time) of an unfinished call
        for line in lines:
            m = self.LINE.match(line)
            if not m:
                continue
            pid, t, fd, ret, err = m.group(1), float(m.group(2)), m.group(3), m.group(4), m.group(5)
            if ret is None:                      # <unfinished ...>
                pending[pid] = (fd, t)
                continue
            if fd is None:                       # <... connect resumed>
                fd, t = pending.pop(pid, (None, t))
                if fd is None:
                    continue
            res = "OK" if ret == "0" else (err or ret)
            recheck = last.get(fd) in ("EINPROGRESS", "EALREADY") and res != "EINPROGRESS"
            last[fd] = res
            if not recheck:
                attempts.append(t)
        return attempts


def have(cmd):
    return any(os.access(os.path.join(d, cmd), os.X_OK)
               for d in os.environ.get("PATH", "").split(os.pathsep) if d)


def sanitize(text, limit=160):
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def flush_backlog(lst, limit=100):
    """Accepts and closes whatever waits in the listen queue (at most `limit`)."""
    lst.setblocking(False)
    try:
        for _ in range(limit):
            try:
                c, _ = lst.accept()
            except (BlockingIOError, OSError):
                break
            c.close()
    finally:
        lst.setblocking(True)
