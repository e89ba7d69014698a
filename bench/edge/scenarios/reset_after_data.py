"""Scenario reset-after-data: a reset that follows data must not eat the data, and must stay a reset.

On a direct connection, a peer that writes 100 bytes and then closes with SO_LINGER 0 leaves the
other side able to read the 100 bytes, after which recv() fails with ECONNRESET. A relay should
give the same: every byte, then a reset (not a clean FIN, which would say "complete").

Cases, each repeated REPS times in a row on one relay process:
  server-reset: the server writes 100 bytes and resets; the client reads.
  client-reset: once the server has accepted, the client writes 100 bytes and resets; the server
                reads.
in copy mode and with option splice-request + option splice-response. Both wait 50 ms after the
server's accept first, so the relay has seen its connect complete: a reset that races the
connect confirmation is another case (a relay may take it for a failed connect and retry).
"""

import time
from collections import Counter

from edgelib import (Drain, Rejected, accept, close_all, connect, flush_backlog, linger_reset,
                     listener)

REPS = 20
PAYLOAD = bytes(range(100))
READ_S = 1.0          # per repetition: how long the reading side waits for the end
SETTLE_S = 0.05       # after the server's accept: the relay has seen its connect complete
CASE_BUDGET_S = 10.0  # per case: repetitions that do not fit are reported as not run

EXPECTED = f"100 B in {REPS}/{REPS}; end RST {REPS}"


def _one(port, lst, direction):
    """One repetition; returns (bytes_read, ending) from the reading side."""
    deadline = time.monotonic() + READ_S
    cl = srv = None
    flush_backlog(lst)   # a late connection left from an earlier repetition must not be taken
    try:
        cl = connect(port, timeout=READ_S)
        srv = accept(lst, deadline)
        if srv is None:
            return 0, "no server conn"
        time.sleep(SETTLE_S)
        if direction == "server-reset":
            srv.sendall(PAYLOAD)
            linger_reset(srv)
            srv.close()
            srv = None
            d = Drain(cl, deadline, collect=True)
        else:
            cl.sendall(PAYLOAD)
            linger_reset(cl)
            cl.close()
            cl = None
            d = Drain(srv, deadline, collect=True)
        n = len(d.data) if bytes(d.data) == PAYLOAD[:len(d.data)] else -1
        return n, d.end
    except OSError as e:
        return 0, f"setup {type(e).__name__}"
    finally:
        close_all(cl, srv)


def _case(ctx, relay, case, port, lst, direction):
    got = Counter()
    ends = Counter()
    stop = time.monotonic() + CASE_BUDGET_S
    runs = 0
    for _ in range(REPS):
        if time.monotonic() > stop:
            break
        n, end = _one(port, lst, direction)
        runs += 1
        got["100" if n == 100 else ("corrupt" if n < 0 else "short")] += 1
        ends[end] += 1
    ends_txt = ", ".join(f"{k} {v}" for k, v in ends.most_common())
    obs = f"100 B in {got['100']}/{REPS}; end {ends_txt}"
    if runs < REPS:
        obs += f" ({REPS - runs} not run: case budget)"
    if got["corrupt"]:
        obs += f"; {got['corrupt']} corrupt"
    ok = got["100"] == REPS and ends["RST"] == REPS
    ctx.res.row(relay, case, obs, EXPECTED, ok)


def run(ctx):
    lst = listener()
    sport = lst.getsockname()[1]
    try:
        if ctx.direct:
            for direction in ("server-reset", "client-reset"):
                _case(ctx, "direct", f"reset-after-data {direction}", sport, lst, direction)
        for kind in ctx.relays:
            for mode in ("copy", "splice"):
                opts = ["option splice-request", "option splice-response"] if mode == "splice" else []
                cases = [f"reset-after-data {d} {mode}" for d in ("server-reset", "client-reset")]
                try:
                    with ctx.relay(kind, lambda p: ctx.cfg(p, [("s1", sport, "")], proxy_lines=opts)) as r:
                        for direction, case in zip(("server-reset", "client-reset"), cases):
                            _case(ctx, kind, case, r.port, lst, direction)
                except Rejected as e:
                    ctx.rejected(kind, cases, e, EXPECTED)
    finally:
        lst.close()
