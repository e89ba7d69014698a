#!/usr/bin/env python3
"""GET /metrics every --interval seconds on one keep-alive connection (bench/observe/run.sh).

Why: the observe bench measures what a Prometheus scrape every 100 ms costs the forwarding
loops, so the scraper behaves like a Prometheus server: one HTTP/1.1 connection kept alive,
a fixed schedule (a slow answer delays the next scrape, never makes two at once). A scrape is
ok when the status is 200 and the body holds "haproxy_process_"; anything else (error status,
reset, timeout, short body) is a failure and the next scrape opens a new connection.
Bounded: stops on SIGTERM/SIGINT, after --max-count scrapes or after --max-time seconds, and
prints one line:
  SCRAPER ok=N failed=N connections=N bytes=N p50_ms=X max_ms=X first_error=...
"""
import argparse
import http.client
import signal
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/metrics")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--max-count", type=int, default=100000)
    ap.add_argument("--max-time", type=float, default=600)
    ap.add_argument("--timeout", type=float, default=5)
    a = ap.parse_args()
    if not (1 <= a.port <= 65535 and 0.001 <= a.interval <= 60 and 1 <= a.max_count <= 10**7
            and 1 <= a.max_time <= 86400 and 0.1 <= a.timeout <= 60):
        print("scraper: bad arguments", file=sys.stderr)
        return 2

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    ok = failed = conns = nbytes = 0
    first_error = ""
    lat = []
    conn = None
    start = time.monotonic()
    end = start + a.max_time
    k = 0
    while not stop and ok + failed < a.max_count:
        due = start + k * a.interval
        k += 1
        now = time.monotonic()
        if due > now:
            time.sleep(min(due - now, max(0.0, end - now)))
        if stop or time.monotonic() >= end:
            break
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=a.timeout)
                conns += 1
            conn.request("GET", a.path, headers={"Accept": "text/plain"})
            r = conn.getresponse()
            body = r.read()
            nbytes += len(body)
            if r.status != 200 or b"haproxy_process_" not in body:
                raise ValueError("status %d, %d bytes" % (r.status, len(body)))
            if r.will_close:
                conn.close()
                conn = None
            ok += 1
            lat.append(time.monotonic() - t0)
        except Exception as e:  # any failure counts; reconnect next time
            failed += 1
            if not first_error:
                first_error = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ").replace("|", "/")[:160]
            if conn is not None:
                conn.close()
            conn = None
        if k > a.max_count * 2:  # schedule can never run away, even if every scrape were skipped
            break
    if conn is not None:
        conn.close()
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
    mx = lat[-1] * 1000 if lat else float("nan")
    print("SCRAPER ok=%d failed=%d connections=%d bytes=%d p50_ms=%.2f max_ms=%.2f first_error=%s"
          % (ok, failed, conns, nbytes, p50, mx, first_error or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
