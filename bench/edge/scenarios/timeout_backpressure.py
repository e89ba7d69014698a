"""Scenario timeout-backpressure: a side that waits because the other side is slow is not idle.

A relay that cannot read from the server because the client's socket is full has nothing to
blame on the server: `timeout server` must not cut it (and symmetrically for uploads and
`timeout client`). Real inactivity must still time out. And when a timeout does cut a stream
with bytes still in flight, the peer must learn it by a reset, never by a clean FIN that makes
a truncated transfer look complete.

Cases:
  download:  timeout server 1s, client 30s. The server writes 64 MiB at once and keeps the
             connection open for 10 s; the client reads nothing for 3 s, then reads until it
             has 64 MiB (then closes). Bytes, SHA-256, ending.
  upload:    timeout client 1s, server 30s. The client writes 64 MiB at once; the server reads
             nothing for 3 s, then reads until it has 64 MiB.
  idle-server-timeout / idle-client-timeout: nobody sends (download resp. upload timeouts);
             within ~1 s a side must be told (FIN or RST); both sides watch for 3 s.
  truncated: timeout client 1s, server 30s. The server writes 64 MiB, the client never reads
             during 3 s, then reads what is there: how does its stream end?
"""

import hashlib
import os
import time

from edgelib import (Drain, Rejected, Thread, accept, close_all, connect, flush_backlog, listener,
                     mib, send_counted)

SIZE = 64 << 20
STALL_S = 3.0
HOLD_S = 10.0
IDLE_WATCH_S = 3.0
PAYLOAD = DIGEST = None   # made on first use: importing the scenario costs nothing

DOWN = dict(connect="5s", client="30s", server="1s")
UP = dict(connect="5s", client="1s", server="30s")

EXP_FULL = "64.00 MiB, sha256 ok, complete"
EXP_IDLE = "a side gets FIN or RST after ~1 s (0.8-2 s)"
EXP_TRUNC = "truncated, then RST (never a clean FIN)"


def _transfer_line(n, digest_ok, end):
    if n == SIZE and digest_ok:
        return EXP_FULL
    return f"{mib(n)}, sha256 {'ok' if digest_ok else 'differs'}, ended by {end}"


def download(ctx, kind, port, lst):
    cl = srv = None
    try:
        cl = connect(port)
        srv = accept(lst, time.monotonic() + 5)
        if srv is None:
            return "no server connection", False

        def server():
            n, end, t = send_counted(srv, PAYLOAD, time.monotonic() + 20)
            if end == "done":   # keep it open, until the client leaves or HOLD_S
                Drain(srv, time.monotonic() + HOLD_S)
            return n, end

        th = Thread(server)
        th.start()
        time.sleep(STALL_S)
        h = hashlib.sha256()
        d = Drain(cl, time.monotonic() + 15, limit=SIZE, hasher=h)
        ok = d.n == SIZE and h.hexdigest() == DIGEST
        end = "client (had everything)" if d.end == "limit" else d.end
        close_all(cl)
        cl = None
        sent = th.join_result(HOLD_S + 5)
        obs = _transfer_line(d.n, ok, end)
        if not ok and sent:
            obs += f"; server wrote {mib(sent[0])} ({sent[1]})"
        return obs, ok
    finally:
        close_all(cl, srv)


def upload(ctx, kind, port, lst):
    cl = srv = None
    try:
        cl = connect(port)
        srv = accept(lst, time.monotonic() + 5)
        if srv is None:
            return "no server connection", False

        def client():
            n, end, t = send_counted(cl, PAYLOAD, time.monotonic() + 20)
            if end == "done":
                Drain(cl, time.monotonic() + HOLD_S)
            return n, end

        th = Thread(client)
        th.start()
        time.sleep(STALL_S)
        h = hashlib.sha256()
        d = Drain(srv, time.monotonic() + 15, limit=SIZE, hasher=h)
        ok = d.n == SIZE and h.hexdigest() == DIGEST
        end = "server (had everything)" if d.end == "limit" else d.end
        close_all(srv)
        srv = None
        sent = th.join_result(HOLD_S + 5)
        obs = _transfer_line(d.n, ok, end)
        if not ok and sent:
            obs += f"; client wrote {mib(sent[0])} ({sent[1]})"
        return obs, ok
    finally:
        close_all(cl, srv)


def idle(ctx, kind, port, lst):
    """Nobody sends; both ends watch for IDLE_WATCH_S. Reports who saw what, when.

    HAProxy 2.6 acts on an expired read timeout per direction: it passes a FIN on to the other
    side and leaves the rest open, so the first end seen on either side counts as the cut.
    """
    cl = srv = None
    try:
        t0 = time.monotonic()
        cl = connect(port)
        srv = accept(lst, t0 + 5)
        if srv is None:
            return "no server connection", False
        ts = Thread(lambda: Drain(srv, t0 + IDLE_WATCH_S))
        ts.start()
        d = Drain(cl, t0 + IDLE_WATCH_S)
        s = ts.join_result(IDLE_WATCH_S + 1)

        def say(who, x):
            if x is None or x.end == "open":
                return f"{who}: nothing within {IDLE_WATCH_S:.0f} s"
            return f"{who}: {x.end} at {x.t_end - t0:.2f} s"

        ends = [x.t_end - t0 for x in (d, s) if x is not None and x.end != "open"]
        ok = bool(ends) and 0.8 <= min(ends) <= 2.0
        return f"{say('client', d)}; {say('server', s)}", ok
    finally:
        close_all(cl, srv)


def truncated(ctx, kind, port, lst):
    cl = srv = None
    try:
        t0 = time.monotonic()
        cl = connect(port)
        srv = accept(lst, t0 + 5)
        if srv is None:
            return "no server connection", False

        def server():
            return send_counted(srv, PAYLOAD, time.monotonic() + 10)

        th = Thread(server)
        th.start()
        time.sleep(STALL_S)
        d = Drain(cl, time.monotonic() + 5)
        sent = th.join_result(8)
        srv_txt = "server still writing" if sent is None else (
            f"server side wrote {mib(sent[0])}, then {sent[1]} at {sent[2] - t0:.2f} s")
        obs = f"client read {mib(d.n)} then {d.end}; {srv_txt}"
        ok = d.n < SIZE and d.end == "RST"
        return obs, ok
    finally:
        close_all(cl, srv)


# cases grouped by config: one relay process serves the cases of one group, in turn
GROUPS = [
    (DOWN, [("timeout-backpressure download (timeout server 1s)", download, EXP_FULL),
            ("timeout-backpressure idle-server-timeout (server 1s)", idle, EXP_IDLE)]),
    (UP, [("timeout-backpressure upload (timeout client 1s)", upload, EXP_FULL),
          ("timeout-backpressure idle-client-timeout (client 1s)", idle, EXP_IDLE),
          ("timeout-backpressure truncated (client 1s, client stops reading)", truncated, EXP_TRUNC)]),
]


def run(ctx):
    global PAYLOAD, DIGEST
    if PAYLOAD is None:
        PAYLOAD = os.urandom(SIZE)
        DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
    lst = listener()
    sport = lst.getsockname()[1]
    try:
        for kind in ctx.relays:
            for tmo, cases in GROUPS:
                try:
                    with ctx.relay(kind, lambda p: ctx.cfg(p, [("s1", sport, "")], **tmo)) as r:
                        for case, fn, expected in cases:
                            if not r.alive():
                                ctx.res.row(kind, case, "relay exited", expected, False)
                                continue
                            flush_backlog(lst)
                            obs, ok = fn(ctx, kind, r.port, lst)
                            ctx.res.row(kind, case, obs, expected, ok)
                except Rejected as e:
                    ctx.rejected(kind, [c[0] for c in cases], e, cases[0][2])
    finally:
        lst.close()
