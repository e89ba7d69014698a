"""Scenario urgent-data: TCP urgent data (MSG_OOB) in the middle of a stream.

With SO_OOBINLINE off (the default), the urgent byte is taken out of the normal stream: a
receiver reading with recv() gets b"abcdef" for b"abc" + urgent b"X" + b"def". A relay must
pass the ordinary bytes on and end the stream. splice(2) from a TCP socket stops at the urgent
mark (it returns EAGAIN there while poll still says readable), so a splicing relay can stall
there or spin; the relay's CPU over the 2 s after the urgent byte shows a spin as ~2 s.

Cases: request (client sends) in copy mode and with option splice-request; response (server
sends) in copy mode and with option splice-response; a direct connection as the reference.
The sender: b"abc", 100 ms, urgent b"X", 100 ms, b"def", and 2 s after the urgent byte
shutdown(SHUT_WR) (so a relay stuck at the urgent mark has 2 s to show a spin). The receiver
reads until EOF (at most 4 s).
"""

import socket
import time

from edgelib import Drain, Rejected, Thread, accept, close_all, connect, listener

EXPECTED = "b'abcdef', EOF; relay CPU < 0.2 s"
CPU_WINDOW_S = 2.0
READ_S = 4.0


def _send_with_urgent(s, marks):
    s.sendall(b"abc")
    time.sleep(0.1)
    marks["oob"] = time.monotonic()
    s.send(b"X", socket.MSG_OOB)
    time.sleep(0.1)
    s.sendall(b"def")
    # the FIN waits until the CPU window is over: a relay stuck at the urgent mark with b"def"
    # behind it must show whether it spins (an early FIN would end a spin early)
    time.sleep(max(0.0, marks["oob"] + CPU_WINDOW_S - time.monotonic()))
    s.shutdown(socket.SHUT_WR)


def _case(ctx, relay_name, r, port, lst, direction):
    """Returns (observed, ok). r is the Relay or None (direct)."""
    cl = srv = None
    marks = {}
    try:
        deadline = time.monotonic() + READ_S + 1
        cl = connect(port)
        srv = accept(lst, time.monotonic() + 5)
        if srv is None:
            return "no server connection", False
        sender, receiver = (cl, srv) if direction == "request" else (srv, cl)
        cpu0 = r.cpu() if r else None
        th = Thread(_send_with_urgent, sender, marks)
        th.start()
        rd = Thread(lambda: Drain(receiver, time.monotonic() + READ_S, collect=True))
        rd.start()
        th.join_result(CPU_WINDOW_S + 1)
        cpu = None
        if r is not None and "oob" in marks:
            # CPU from just before the urgent byte until 2 s after it
            left = marks["oob"] + CPU_WINDOW_S - time.monotonic()
            if left > 0:
                time.sleep(left)
            cpu = r.cpu() - cpu0
        d = rd.join_result(max(0.1, deadline - time.monotonic()))
        if d is None:
            return "receiver did not finish", False
        data = bytes(d.data)
        end = d.end if d.end != "open" else f"no EOF within {READ_S:.0f} s"
        obs = f"{data!r}, {end}"
        if cpu is not None:
            obs += f"; relay CPU {cpu:.2f} s"
        ok = data == b"abcdef" and d.end == "EOF" and (cpu is None or cpu < 0.2)
        return obs, ok
    except OSError as e:
        return f"error {type(e).__name__}: {e}", False
    finally:
        close_all(cl, srv)


# (options, [(case, direction)]): one relay process per options line
GROUPS = [
    ([], [("urgent-data request copy", "request"), ("urgent-data response copy", "response")]),
    (["option splice-request"], [("urgent-data request splice-request", "request")]),
    (["option splice-response"], [("urgent-data response splice-response", "response")]),
]


def run(ctx):
    lst = listener()
    sport = lst.getsockname()[1]
    try:
        if ctx.direct:
            for direction in ("request", "response"):
                obs, ok = _case(ctx, "direct", None, sport, lst, direction)
                ctx.res.row("direct", f"urgent-data {direction} (no relay)", obs,
                            "b'abcdef', EOF", ok)
        for kind in ctx.relays:
            for opts, cases in GROUPS:
                try:
                    with ctx.relay(kind, lambda p: ctx.cfg(p, [("s1", sport, "")], proxy_lines=opts)) as r:
                        time.sleep(0.3)   # a JVM still starting would count as CPU of the case
                        for case, direction in cases:
                            if not r.alive():
                                ctx.res.row(kind, case, "relay exited", EXPECTED, False)
                                continue
                            obs, ok = _case(ctx, kind, r, r.port, lst, direction)
                            ctx.res.row(kind, case, obs, EXPECTED, ok)
                except Rejected as e:
                    ctx.rejected(kind, [c[0] for c in cases], e, EXPECTED)
    finally:
        lst.close()
