"""Scenario connect-retry: how a relay retries a server that refuses connections.

HAProxy retries a refused connect to the same server only after min(timeout connect, 1 s), so a
server that starts listening a moment later still gets the client, and a dead server costs one
connect per second, not a spin. `option redispatch` lets a retry go to another server.

Cases:
  late-listener: retries 3, timeout connect 5s; the server starts listening 300 ms after the
                 client connected. Served or not, time to first byte.
  dead-server cpu: retries 50, nothing listens; the relay's CPU seconds over 5 s with one client
                 waiting, and what the client saw.
  dead-server connects: the same with a second client while strace records the relay's
                 connect attempts for 3 s, with their times from the client's connect (skipped
                 when strace is missing).
  redispatch / no-redispatch: roundrobin over a dead server (declared first) and a live one,
                 retries 3; two clients 100 ms apart, so whichever server a relay picks first,
                 one client is aimed at the dead server. With `option redispatch` both must be
                 served; without it, the one aimed at the dead server fails after its retries.
"""

import threading
import time

from edgelib import (Drain, Rejected, StraceConnects, Thread, accept, close_all, connect, have,
                     listener, free_port)

GREETING = b"hello"
EXP_LATE = "served (HAProxy-like: first byte after ~1 s)"
EXP_DEAD_CPU = "< 0.2 s CPU; client still waiting at 5 s (about 1 retry/s)"
EXP_DEAD_CONN = "about 1 attempt/s (<= 5 in 3 s)"
EXP_REDISP = "both clients served"
EXP_NOREDISP = "one served at once; the other closed after its retries, not served"


def _greeter(lst, count, deadline, accepted, stop):
    """Accepts up to `count` connections, greets each, keeps them until the deadline."""
    conns = []
    try:
        for _ in range(count):
            c = accept(lst, deadline, stop)
            if c is None:
                break
            accepted.append(time.monotonic())
            try:
                c.sendall(GREETING)
            except OSError:
                pass
            conns.append(c)
        for c in conns:
            Drain(c, deadline)
    finally:
        close_all(*conns)


def _client(port, deadline):
    """Connects, waits for the greeting; returns (served, t_first_or_end, ending) from connect."""
    t0 = time.monotonic()
    try:
        c = connect(port, timeout=max(0.1, deadline - t0))
    except OSError as e:
        return False, time.monotonic() - t0, f"connect {type(e).__name__}"
    try:
        d = Drain(c, deadline, limit=len(GREETING), collect=True)
        if bytes(d.data) == GREETING:
            return True, d.t_first - t0, "served"
        return False, d.t_end - t0, d.end
    finally:
        close_all(c)


def late_listener(ctx, kind):
    sport = free_port()
    case = "connect-retry late-listener (listens after 300 ms; retries 3)"
    cfg = lambda p: ctx.cfg(p, [("s1", sport, "")], defaults_lines=["retries 3"], connect="5s")
    try:
        with ctx.relay(kind, cfg) as r:
            deadline = time.monotonic() + 7
            holder = {}
            stop = threading.Event()

            def late():
                time.sleep(0.3)
                lst = listener(sport)
                holder["lst"] = lst
                _greeter(lst, 1, deadline, [], stop)

            th = threading.Thread(target=late, daemon=True)
            th.start()
            served, t, end = _client(r.port, deadline)
            stop.set()
            th.join(2)
            close_all(holder.get("lst"))
            if served:
                obs = f"served, first byte at {t:.2f} s"
            else:
                obs = f"not served: {end} at {t:.2f} s"
            ctx.res.row(kind, case, obs, EXP_LATE, served)
    except Rejected as e:
        ctx.rejected(kind, [case], e, EXP_LATE)


def _timeline(attempts, t0):
    """' at +0.00, +1.00 s' for a few attempts, or the span for many."""
    if not attempts:
        return ""
    rel = [a - t0 for a in attempts]
    if len(rel) <= 6:
        return " at " + ", ".join(f"+{x:.3f}" for x in rel) + " s"
    return f" between +{rel[0]:.3f} and +{rel[-1]:.3f} s"


def dead_server(ctx, kind):
    sport = free_port()
    c_cpu = "connect-retry dead-server cpu (retries 50, 5 s)"
    c_conn = "connect-retry dead-server connects (strace, 3 s)"
    cfg = lambda p: ctx.cfg(p, [("s1", sport, "")], defaults_lines=["retries 50"], connect="5s")
    try:
        with ctx.relay(kind, cfg) as r:
            time.sleep(0.5)   # let a JVM finish starting before counting its CPU
            cpu0 = r.cpu()
            served, t, end = _client(r.port, time.monotonic() + 5)
            rest = 5 - t
            if rest > 0:
                time.sleep(rest)
            cpu = r.cpu() - cpu0
            seen = "client still waiting at 5 s" if end == "open" else (
                "served?!" if served else f"client got {end} at {t:.3f} s")
            ok = cpu < 0.2 and end == "open"
            ctx.res.row(kind, c_cpu, f"{cpu:.2f} s CPU; {seen}", EXP_DEAD_CPU, ok)

            if not have("strace"):
                ctx.res.row(kind, c_conn, "strace not installed: not counted", EXP_DEAD_CONN, None)
                return
            st = StraceConnects(r.pid, ctx.env.tmp)
            try:
                if not st.wait_attached(5):
                    ctx.res.row(kind, c_conn, "strace did not attach: " + "; ".join(st.stderr[-2:]),
                                EXP_DEAD_CONN, None)
                    return
                t_conn = time.time()
                served, t, end = _client(r.port, time.monotonic() + 3)
                rest = 3 - t
                if rest > 0:
                    time.sleep(rest)
            finally:
                attempts = st.stop()
            if attempts is None:
                ctx.res.row(kind, c_conn, "strace output missing", EXP_DEAD_CONN, None)
                return
            seen = "client still waiting at 3 s" if end == "open" else f"client got {end} at {t:.3f} s"
            ctx.res.row(kind, c_conn, f"{len(attempts)} attempts{_timeline(attempts, t_conn)}; {seen}",
                        EXP_DEAD_CONN, len(attempts) <= 5)
    except Rejected as e:
        ctx.rejected(kind, [c_cpu, c_conn], e, EXP_DEAD_CPU)


def redispatch(ctx, kind, with_option):
    dead = free_port()
    lst = listener()
    live = lst.getsockname()[1]
    case = ("connect-retry redispatch (dead+live, retries 3, option redispatch)" if with_option
            else "connect-retry no-redispatch (dead+live, retries 3)")
    expected = EXP_REDISP if with_option else EXP_NOREDISP
    lines = ["balance roundrobin", "retries 3"] + (["option redispatch"] if with_option else [])
    cfg = lambda p: ctx.cfg(p, [("dead", dead, ""), ("live", live, "")], proxy_lines=lines,
                            connect="5s")
    try:
        with ctx.relay(kind, cfg) as r:
            deadline = time.monotonic() + 7
            accepted = []
            stop = threading.Event()
            g = Thread(_greeter, lst, 2, deadline, accepted, stop)
            g.start()
            c1 = Thread(_client, r.port, deadline)
            c1.start()
            time.sleep(0.1)
            c2 = Thread(_client, r.port, deadline)
            c2.start()
            outs = [c1.join_result(8), c2.join_result(8)]
            stop.set()
            g.join(2)
            parts = []
            for i, o in enumerate(outs, 1):
                if o is None:
                    parts.append(f"c{i}: no result")
                elif o[0]:
                    parts.append(f"c{i}: served at {o[1]:.2f} s")
                else:
                    parts.append(f"c{i}: {o[2]} at {o[1]:.2f} s, not served")
            served = [o is not None and o[0] for o in outs]
            if with_option:
                ok = all(served)
            else:
                ok = served.count(True) == 1 and all(o is not None and (o[0] or o[2] != "open")
                                                     for o in outs)
            ctx.res.row(kind, case, "; ".join(parts), expected, ok)
    except Rejected as e:
        ctx.rejected(kind, [case], e, expected)
    finally:
        lst.close()


def run(ctx):
    for kind in ctx.relays:
        late_listener(ctx, kind)
        dead_server(ctx, kind)
        redispatch(ctx, kind, True)
        redispatch(ctx, kind, False)
