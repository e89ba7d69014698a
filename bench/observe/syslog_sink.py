#!/usr/bin/env python3
"""A UDP syslog sink on 127.0.0.1 that only counts what it receives (bench/observe/run.sh).

Why: the observe bench needs to know whether every connection produced its tcplog line, without
the sink itself being the bottleneck. It binds a port (0 = let the kernel choose), writes the
port to --port-file, then counts datagrams: those shaped like HAProxy's tcp log line
("ip:port [date] frontend backend/server ...") and the others (events such as start and stop).
It keeps the first of each kind as a sample. Every 0.2 s it rewrites --status-file with the
counts so the bench can wait for the count to settle. It exits on SIGTERM/SIGINT or after
--max-time seconds, whichever comes first, and prints one line:
  SINK datagrams=N tcplog=N other=N bytes=N
followed by SAMPLE_TCPLOG / SAMPLE_OTHER lines.
"""
import argparse
import os
import re
import select
import signal
import socket
import sys
import time

TCPLOG = re.compile(rb"\d{1,3}(?:\.\d{1,3}){3}:\d+ \[[^\]]+\] \S+ \S+/\S+ ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--status-file", required=True)
    ap.add_argument("--max-time", type=float, default=600)
    a = ap.parse_args()
    if not (0 <= a.port <= 65535) or not (1 <= a.max_time <= 86400):
        print("syslog_sink: --port must be 0..65535 and --max-time 1..86400", file=sys.stderr)
        return 2

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    except OSError:
        pass
    s.bind(("127.0.0.1", a.port))
    s.setblocking(False)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("%d\n" % s.getsockname()[1])
    os.replace(tmp, a.port_file)

    n = tl = other = nbytes = 0
    sample_tl = sample_other = b""
    end = time.monotonic() + a.max_time
    next_status = 0.0

    def write_status():
        t = a.status_file + ".tmp"
        with open(t, "w") as fh:
            fh.write("datagrams=%d tcplog=%d other=%d bytes=%d\n" % (n, tl, other, nbytes))
        os.replace(t, a.status_file)

    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_status:
            write_status()
            next_status = now + 0.2
        try:
            r, _, _ = select.select([s], [], [], 0.1)
        except InterruptedError:
            continue
        if not r:
            continue
        for _ in range(10000):  # drain what is queued, bounded
            try:
                d = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            n += 1
            nbytes += len(d)
            if TCPLOG.search(d):
                tl += 1
                if not sample_tl:
                    sample_tl = d[:300]
            else:
                other += 1
                if not sample_other:
                    sample_other = d[:300]
    write_status()
    clean = lambda b: b.decode("utf-8", "replace").replace("\n", " ").replace("|", "/").strip()
    print("SINK datagrams=%d tcplog=%d other=%d bytes=%d" % (n, tl, other, nbytes))
    print("SAMPLE_TCPLOG " + clean(sample_tl))
    print("SAMPLE_OTHER " + clean(sample_other))
    return 0


if __name__ == "__main__":
    sys.exit(main())
