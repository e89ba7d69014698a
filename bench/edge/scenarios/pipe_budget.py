"""Scenario pipe-budget: splicing many slow streams without the privilege to exceed pipe limits.

An unprivileged process (no CAP_SYS_RESOURCE, no CAP_SYS_ADMIN) may hold pipe buffers up to
/proc/sys/fs/pipe-user-pages-soft pages per user; beyond that the kernel makes new pipes with
two pages and refuses F_SETPIPE_SZ growth (EPERM). The accounting is per user, so other
processes of the same user count too. The relay runs under
  setpriv --bounding-set=-sys_resource,-sys_admin --inh-caps=-sys_resource,-sys_admin
and its CapEff is checked.

With option splice-response, 200 concurrent streams: the server sends 8 MiB on each
(EDGE_PIPE_MIB=4 for 4 MiB; see SIZE), the clients (SO_RCVBUF fixed at 64 KiB, so their
window does not swallow the data) read nothing for 3 s, then read slowly (at most 64 KiB per
client every 10 ms), checking every byte. The relay's pipe fds (/proc/PID/fd -> pipe:[...],
2 per pipe) are sampled every 100 ms: held at the end of the stall (with each pipe's size,
F_GETPIPE_SZ), peak, and 2 s after the last stream ended. Then one fast 512 MiB transfer:
throughput.
"""

import os
import selectors
import threading
import time

from edgelib import (CAP_SYS_ADMIN, CAP_SYS_RESOURCE, Drain, Rejected, Thread, accept, cap_eff,
                     close_all, connect, fmt_sizes, have, listener, pipe_fds, pipe_sizes)

STREAMS = 200
# 8 MiB, not 4: at 4 MiB a stalled stream's bytes mostly fit in the kernel socket buffers (the
# relay's send buffer to the client grows to several MiB), so how many streams still hold a
# pipe varied from 1 to 136 of 200 between runs; at 8 MiB each of the 200 holds one.
SIZE = int(os.environ.get("EDGE_PIPE_MIB", "8")) << 20
MAXPIPES = 250
STALL_S = 3.0
CHUNK = 64 << 10
CLIENT_RCVBUF = 64 << 10     # fixed: an autotuned client window would swallow the 4 MiB
ROUND_S = 0.01
READ_BUDGET_S = 45.0
FAST_BLOCK = 4 << 20
FAST_REPEAT = 128            # 128 x 4 MiB = 512 MiB
WRAP = ["setpriv", "--bounding-set=-sys_resource,-sys_admin",
        "--inh-caps=-sys_resource,-sys_admin"]

EXP_CAPS = "CapEff without sys_resource and sys_admin"
EXP_STREAMS = f"{STREAMS}/{STREAMS} streams complete, bytes exact"
EXP_PIPES = f"peak <= {MAXPIPES} pipes (maxpipes); no pipe below 64 KiB (the per-user limit's 8 KiB)"
EXP_FAST = "512 MiB complete (throughput: compare relays)"


def _serve_all(lst, payload, n, deadline):
    """Non-blocking server: accepts n connections, writes payload on each, then closes it."""
    sel = selectors.DefaultSelector()
    lst.setblocking(False)
    sel.register(lst, selectors.EVENT_READ, None)
    accepted = done = 0
    mv = memoryview(payload)
    conns = []
    try:
        while done < n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.2):
                if key.data is None:
                    while accepted < n:
                        try:
                            c, _ = lst.accept()
                        except BlockingIOError:
                            break
                        c.setblocking(False)
                        conns.append(c)
                        sel.register(c, selectors.EVENT_WRITE, [0])
                        accepted += 1
                    if accepted >= n:
                        sel.unregister(lst)
                    continue
                c, st = key.fileobj, key.data
                try:
                    st[0] += c.send(mv[st[0]:st[0] + (256 << 10)])
                except BlockingIOError:
                    continue
                except OSError:
                    st[0] = len(payload)   # the relay gave up on it: the client side will say so
                if st[0] >= len(payload):
                    sel.unregister(c)
                    c.close()
                    done += 1
    finally:
        sel.close()
        close_all(*conns)
        lst.setblocking(True)
    return done


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            n = pipe_fds(self.pid)
            if n is not None and n > self.peak:
                self.peak = n
            self.stop.wait(0.1)


def _slow_clients(port, payload, pid, marks):
    """Opens STREAMS clients, stalls, reads slowly; returns (complete, problems, t_done, bytes)."""
    clients = []
    for _ in range(STREAMS):
        c = connect(port, rcvbuf=CLIENT_RCVBUF)
        c.setblocking(False)
        clients.append(c)
    time.sleep(STALL_S)
    marks["stall_end"] = pipe_fds(pid)
    marks["sizes"] = pipe_sizes(pid)
    mv = memoryview(payload)
    buf = bytearray(CHUNK)
    bmv = memoryview(buf)
    off = [0] * STREAMS
    state = [None] * STREAMS       # None = reading; else how it ended
    deadline = time.monotonic() + READ_BUDGET_S
    left = STREAMS
    try:
        while left and time.monotonic() < deadline:
            for i, c in enumerate(clients):
                if state[i] is not None:
                    continue
                try:
                    k = c.recv_into(bmv, CHUNK)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    state[i] = "RST"
                    left -= 1
                    continue
                if k == 0:
                    state[i] = "complete" if off[i] == SIZE else "EOF early"
                    left -= 1
                    continue
                if off[i] + k > SIZE or bmv[:k] != mv[off[i]:off[i] + k]:
                    state[i] = "corrupt"
                    left -= 1
                    continue
                off[i] += k
            time.sleep(ROUND_S)
    finally:
        close_all(*clients)
    problems = {}
    for i, s in enumerate(state):
        s = s or "unfinished"
        if s != "complete":
            problems[s] = problems.get(s, 0) + 1
    return state.count("complete"), problems, time.monotonic(), sum(off)


def _fast(port, lst, payload):
    def server():
        c = accept(lst, time.monotonic() + 5)
        if c is None:
            return
        try:
            c.settimeout(30)
            block = memoryview(payload)[:FAST_BLOCK]
            for _ in range(FAST_REPEAT):
                c.sendall(block)
        except OSError:
            pass
        finally:
            c.close()

    th = Thread(server)
    th.start()
    t0 = time.monotonic()
    c = connect(port)
    try:
        d = Drain(c, t0 + 30)
    finally:
        close_all(c)
    th.join_result(5)
    return d.n, d.end, d.t_end - t0


def run(ctx):
    payload = os.urandom(SIZE)
    lst = listener(backlog=STREAMS + 16)
    sport = lst.getsockname()[1]
    wrap = WRAP if have("setpriv") else []
    cases = ["pipe-budget relay capabilities",
             f"pipe-budget {STREAMS} x {SIZE >> 20} MiB slow streams (splice-response)",
             "pipe-budget pipes (peak / 2 s after)", "pipe-budget 512 MiB fast transfer"]
    try:
        for kind in ctx.relays:
            # timeouts far beyond the read budget: this scenario is about pipes, and a relay that
            # counts a side waiting on the other as idle (timeout-backpressure) would cut slow
            # streams here too
            cfg = lambda p: ctx.cfg(p, [("s1", sport, "")], global_lines=[f"maxpipes {MAXPIPES}"],
                                    proxy_lines=["option splice-response"],
                                    client="2m", server="2m")
            try:
                with ctx.relay(kind, cfg, wrap=wrap) as r:
                    eff = cap_eff(r.pid)
                    how = "setpriv" if wrap else "no setpriv installed"
                    if eff is None:
                        ctx.res.row(kind, cases[0], "CapEff unreadable", EXP_CAPS, False)
                    else:
                        held_caps = [n for n, bit in (("sys_resource", CAP_SYS_RESOURCE),
                                                      ("sys_admin", CAP_SYS_ADMIN)) if eff >> bit & 1]
                        ctx.res.row(kind, cases[0],
                                    f"CapEff={eff:016x} ({how}): "
                                    + (f"HOLDS {', '.join(held_caps)}" if held_caps
                                       else "no sys_resource, no sys_admin"),
                                    EXP_CAPS, not held_caps)
                    time.sleep(0.3)
                    base = pipe_fds(r.pid) or 0
                    srv = Thread(_serve_all, lst, payload, STREAMS, time.monotonic() + READ_BUDGET_S + 10)
                    srv.start()
                    sm = Sampler(r.pid)
                    sm.start()
                    t0 = time.monotonic()
                    marks = {}
                    complete, problems, t_done, total = _slow_clients(r.port, payload, r.pid, marks)
                    srv.join_result(5)
                    time.sleep(max(0.0, t_done + 2.0 - time.monotonic()))
                    sm.stop.set()
                    sm.join(1)
                    after = pipe_fds(r.pid)
                    prob = "".join(f"; {v} {k}" for k, v in sorted(problems.items()))
                    ctx.res.row(kind, cases[1],
                                f"{complete}/{STREAMS} complete{prob}; {total / (1 << 20):.0f} MiB read in "
                                f"{t_done - t0:.1f} s", EXP_STREAMS, complete == STREAMS)
                    peak = (sm.peak - base) // 2
                    held = ((marks.get("stall_end") or 0) - base) // 2
                    sizes = fmt_sizes(marks.get("sizes", {}))
                    ctx.res.row(kind, cases[2],
                                f"{held} pipes at the end of the stall ({sizes}), peak {peak}, "
                                f"{((after or 0) - base) // 2} open 2 s after the end "
                                f"(beyond {base // 2} at start)",
                                EXP_PIPES, peak <= MAXPIPES and not any(
                                    b < 65536 for b in marks.get("sizes", {})))
                    n, end, secs = _fast(r.port, lst, payload)
                    want = FAST_BLOCK * FAST_REPEAT
                    gbps = n * 8 / secs / 1e9 if secs > 0 else 0
                    ctx.res.row(kind, cases[3],
                                f"{n / (1 << 20):.0f} MiB in {secs:.2f} s = {gbps:.2f} Gbps, {end}",
                                EXP_FAST, None if (n == want and end == "EOF") else False)
            except Rejected as e:
                ctx.rejected(kind, cases, e, EXP_STREAMS)
    finally:
        lst.close()
