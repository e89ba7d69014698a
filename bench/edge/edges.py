#!/usr/bin/env python3
"""Runs edge-case scenarios against HAProxy and/or the forwarder; see bench/edge/README.md.

Usually started through bench/edge/run.sh, which finds java and haproxy and writes the report
header; this program prints the result table (Markdown) on stdout and progress on stderr.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import edgelib  # noqa: E402
from edgelib import Env, Relay, Results, free_port, log, make_cfg, sanitize  # noqa: E402
from scenarios import (connect_retry, pipe_budget, queue_reread, reset_after_data,  # noqa: E402
                       timeout_backpressure, urgent_data)

SCENARIOS = {
    "reset-after-data": reset_after_data.run,
    "timeout-backpressure": timeout_backpressure.run,
    "connect-retry": connect_retry.run,
    "urgent-data": urgent_data.run,
    "pipe-budget": pipe_budget.run,
    "queue-reread": queue_reread.run,
}


class Ctx:
    """What a scenario gets: the relays to run, the result table and config/relay factories."""

    def __init__(self, env, relays, res, direct):
        self.env, self.relays, self.res, self.direct = env, relays, res, direct

    cfg = staticmethod(make_cfg)

    def relay(self, kind, cfg_fn, wrap=()):
        """A Relay (context manager) of `kind` listening on a free port with cfg_fn(port)."""
        port = free_port()
        return Relay(self.env, kind, cfg_fn(port), port, wrap=wrap)

    def rejected(self, kind, cases, err, expected):
        """Every case of a config the relay refused gets that refusal as its result."""
        for c in cases:
            self.res.row(kind, c, f"config rejected: {sanitize(str(err))}", expected, False)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--relay", choices=["haproxy", "forwarder", "both"], default="both")
    ap.add_argument("--jar", default="forwarder/target/forwarder.jar")
    ap.add_argument("--java", default=os.environ.get("JAVA", ""))
    ap.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    ap.add_argument("--no-direct", action="store_true", help="skip the direct-connection reference rows")
    ap.add_argument("--no-header", action="store_true")
    ap.add_argument("scenario", nargs="*", help=f"default: all ({', '.join(SCENARIOS)})")
    a = ap.parse_args()

    names = a.scenario or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario '{n}' (known: {', '.join(SCENARIOS)})")
    if len(set(names)) != len(names):
        ap.error("a scenario is named twice")
    relays = ["haproxy", "forwarder"] if a.relay == "both" else [a.relay]
    if "forwarder" in relays:
        if not a.java or not os.access(a.java, os.X_OK):
            ap.error("no java >= 25 given (--java or JAVA)")
        if not os.path.isfile(a.jar):
            ap.error(f"jar not found: {a.jar} (run make build, or pass --jar)")
    if "haproxy" in relays and not os.access(a.haproxy, os.X_OK):
        ap.error(f"haproxy not found: {a.haproxy}")

    edgelib.install_cleanup()
    tmp = tempfile.mkdtemp(prefix="bench-edge.")
    env = Env(a.java, os.path.abspath(a.jar), a.haproxy, tmp)
    res = Results()
    if not a.no_header:
        res.header()
    ctx = Ctx(env, relays, res, not a.no_direct)
    t0 = time.monotonic()
    failed = 0
    try:
        for n in names:
            log(f"scenario {n}")
            ts = time.monotonic()
            try:
                SCENARIOS[n](ctx)
            except Exception as e:  # noqa: BLE001 - report and go on with the next scenario
                failed += 1
                log(f"scenario {n} failed: {type(e).__name__}: {e}")
                res.row("-", n, f"scenario error: {sanitize(f'{type(e).__name__}: {e}')}", "-", False)
            finally:
                edgelib.stop_all()
            log(f"scenario {n} took {time.monotonic() - ts:.1f} s")
    finally:
        edgelib.stop_all()
        if os.environ.get("KEEP_TMP") == "1":
            log(f"temp dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"all done in {time.monotonic() - t0:.1f} s, {res.rows} rows")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
