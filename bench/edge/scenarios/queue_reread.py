"""Scenario queue-reread: does a stream sent back to the queue keep reading its client?

A stream waiting in the backend queue has nowhere to put its client's bytes; the forwarder's
rule (seed 003) is that such a stream does not read its client, so it pins no buffer that the
streams holding the slots may need. A stream that already tried a server and is then sent back
to the queue (its connect failed, the retry found every server full) must follow that rule too.

Why not a server that refuses: a refused connect on loopback is answered within microseconds,
so the failing server's slot is free again before any retry looks, and the retry just picks it
again; the stream never meets "every server full". A server that never answers (its accept
queue is full, so the kernel drops the SYN) holds its slot for the whole `timeout connect`,
which makes the order of events deterministic:

  backend: server live (maxconn 1) first, server mute (maxconn 1, SYNs dropped) second,
           balance roundrobin, retries 3, timeout connect 2s, tune.bufsize 16384,
           option redispatch 1 (a second case leaves the option out)
  t=0     client A is served by live and stays (live is full)
  tB      client B: live full, so B connects to mute (and waits)
  tB+0.3  client C: both full, C waits in the queue; C's client sends 1 MiB at once
  tB+1.8  measure how much of C the relay read (a queued stream that never had a server)
  tB+2    B's connect times out; mute's slot goes to C (queue head); B's retry finds both
          servers full: B goes back to the queue
  tB+2.3  B's client starts sending 1 MiB (it sent nothing before)
  tB+3.3  measure, from `ss -tni` on the relay's socket of B: bytes the relay application read
          (bytes_received - Recv-Q), and the relay's CPU over that second; then A leaves and
          live goes to the head of the queue: B (which must arrive intact) if B was sent back
          to the queue; C if B was not (HAProxy without redispatch retries mute instead: the
          case then says so and is INFO, since B was connecting, not queued, when measured).
"""

import hashlib
import os
import re
import subprocess
import time

from edgelib import (Drain, Rejected, Thread, accept, close_all, connect, have, listener,
                     send_counted)

SIZE = 1 << 20
EXPECTED = "relay reads 0 B of C (queued) and of B (sent back to the queue); B served first, 1 MiB intact"


def _app_read(relay_port, peer_port):
    """(bytes the relay application read, Recv-Q) for the relay's socket to peer_port, or None."""
    try:
        out = subprocess.run(["ss", "-Htni", f"( sport = :{relay_port} and dport = :{peer_port} )"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"\s*\S+\s+(\d+)\s+(\d+)", out)
    b = re.search(r"bytes_received:(\d+)", out)
    if not m:
        return None
    recvq = int(m.group(1))
    received = int(b.group(1)) if b else 0
    return received - recvq, recvq


def _mute_server():
    """A listener whose accept queue is full: new SYNs are dropped, connects hang."""
    lst = listener(backlog=0)
    filler = connect(lst.getsockname()[1])   # fills the queue of length 0+1; never accepted
    return lst, filler


def _case(ctx, kind, with_option):
    name = "queue-reread " + ("(option redispatch 1)" if with_option else "(no option redispatch)")
    live_lst = listener()
    live = live_lst.getsockname()[1]
    mute_lst, filler = _mute_server()
    mute = mute_lst.getsockname()[1]
    lines = ["balance roundrobin", "retries 3", "timeout queue 10s"] + (
        ["option redispatch 1"] if with_option else [])
    cfg = lambda p: ctx.cfg(p, [("live", live, "maxconn 1"), ("mute", mute, "maxconn 1")],
                            global_lines=["tune.bufsize 16384"], proxy_lines=lines, connect="2s")
    a = b = c = sa = sb = None
    try:
        with ctx.relay(kind, cfg) as r:
            a = connect(r.port)
            sa = accept(live_lst, time.monotonic() + 5)
            if sa is None:
                ctx.res.row(kind, name, "client A was not served by live within 5 s", EXPECTED, False)
                return
            tb = time.monotonic()
            b = connect(r.port)
            pb = b.getsockname()[1]
            time.sleep(0.3)
            c = connect(r.port)
            pc = c.getsockname()[1]
            # C's bytes start with b"C", B's with b"B": the live server tells them apart
            c_sender = Thread(send_counted, c, b"C" + os.urandom(SIZE - 1), time.monotonic() + 8)
            c_sender.start()
            time.sleep(max(0.0, tb + 1.8 - time.monotonic()))
            arc = _app_read(r.port, pc)
            c_txt = ("C: relay socket not found in ss" if arc is None else
                     f"C (queued, never connected): relay read {arc[0]} B at tB+1.8 s")
            time.sleep(max(0.0, tb + 2.3 - time.monotonic()))
            payload = b"B" + os.urandom(SIZE - 1)
            sender = Thread(send_counted, b, payload, time.monotonic() + 8)
            sender.start()
            cpu0 = r.cpu()
            time.sleep(max(0.0, tb + 3.3 - time.monotonic()))
            cpu = r.cpu() - cpu0
            ar = _app_read(r.port, pb)
            if ar is None:
                read_txt = "relay socket of B not found in ss"
                read_ok = False
            else:
                read_txt = f"B (after its connect timed out): relay read {ar[0]} B at tB+3.3 s"
                read_ok = ar[0] == 0 and arc is not None and arc[0] == 0
            # A leaves (both ends, so the relay ends its stream): live is free and goes to the
            # stream at the head of the queue: B if B was sent back there, else C
            close_all(a, sa)
            a = sa = None
            sb = accept(live_lst, time.monotonic() + 4)
            first = b""
            if sb is not None:
                d1 = Drain(sb, time.monotonic() + 2, limit=1, collect=True)
                first = bytes(d1.data)
            if first == b"B":
                h = hashlib.sha256(b"B")
                d = Drain(sb, time.monotonic() + 5, limit=SIZE - 1, hasher=h)
                intact = d.n == SIZE - 1 and h.digest() == hashlib.sha256(payload).digest()
                served = (f"then B was served first (it was queued), {d.n + 1} B "
                          + ("intact" if intact else "NOT intact"))
                verdict = read_ok and intact
            elif first == b"C":
                served = ("then C was served first: B was not sent back to the queue (it was "
                          "retrying mute), so the read above happened while connecting")
                verdict = None
            else:
                served = "then nobody was served within 4 s after A left"
                verdict = False
            ctx.res.row(kind, name, f"{c_txt}; {read_txt} (relay CPU {cpu:.2f} s in the second "
                        f"before); {served}", EXPECTED, verdict)
    except Rejected as e:
        ctx.rejected(kind, [name], e, EXPECTED)
    finally:
        close_all(a, b, c, sa, sb, filler, mute_lst, live_lst)


def run(ctx):
    if not have("ss"):
        for kind in ctx.relays:
            ctx.res.row(kind, "queue-reread", "skipped: ss (iproute2) not installed", EXPECTED, None)
        return
    for kind in ctx.relays:
        _case(ctx, kind, True)
        _case(ctx, kind, False)
