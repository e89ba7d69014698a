package org.forwarder.bench.load;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;

/**
 * Load client for an echo service behind a relay (the forwarder, HAProxy, ...), JDK only.
 *
 * <ul>
 *   <li>{@code pingpong}: C persistent connections, one message in flight each, echo verified
 *       byte for byte; round trips per second and round-trip latency percentiles.</li>
 *   <li>{@code connrate}: C workers, each connect / send / verify echo / close, over and over;
 *       new connections per second and per-connection latency percentiles.</li>
 *   <li>{@code idle}: opens C connections, verifies one echo on each, prints a {@code READY} line,
 *       holds them for --hold seconds (watching for drops), closes them; for memory per connection
 *       measured from outside.</li>
 * </ul>
 *
 * <p>Why this shape: non-blocking NIO with a selector per thread, so one or two threads drive 50
 * connections and leave the two cores of the test machine to the relay; counts and latencies go
 * into preallocated per-thread structures and are merged at the end (no allocation, no sharing
 * per message). Every run is bounded by time (warm-up + duration, or open + hold, and a hard
 * deadline after which the process exits even if a thread hangs) and by count (operations and
 * errors). Errors are classified and reported; the exit status is 1 if there were any.
 *
 * <p>Output on stdout: the human line, then {@code RESULT key=value ...} (the script's input).
 */
public final class LoadClient {
    private LoadClient() {}

    public static void main(String[] args) {
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            System.out.println(Options.USAGE);
            System.exit(0);
        }
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("LoadClient: " + e.getMessage());
            System.exit(2);
            return;
        }
        Summary s;
        try {
            s = run(o, System.out);
        } catch (IOException e) {
            System.err.println("LoadClient: cannot start: " + e);
            System.exit(2);
            return;
        } catch (InterruptedException e) {
            System.err.println("LoadClient: interrupted");
            System.exit(2);
            return;
        }
        System.out.println(s.human());
        System.out.println(s.keyValues());
        System.out.flush();
        // a driver thread that ignored its deadline is a daemon: exiting ends it
        System.exit(s.stuck ? 3 : s.errors() > 0 || s.failure != null ? 1 : 0);
    }

    /** Runs {@code o} and returns its summary; idle mode prints its READY line to {@code out}. */
    public static Summary run(Options o, PrintStream out) throws IOException, InterruptedException {
        InetSocketAddress target = new InetSocketAddress(o.host(), o.port());
        long start = System.nanoTime();
        boolean idle = o.mode().equals("idle");
        long hardDeadline = start + nanos(o.effectiveDeadlineS());
        long warmupEnd = idle ? start : start + nanos(o.warmupS());
        long measureEnd = idle ? hardDeadline : warmupEnd + nanos(o.durationS());
        Plan plan = new Plan(target, o.size(), warmupEnd, measureEnd, hardDeadline, o.maxOps(), o.maxErrors(),
                nanos(o.opTimeoutS()));
        IdleControl control = new IdleControl(o.threads());
        Driver[] drivers = new Driver[o.threads()];
        for (int t = 0; t < drivers.length; t++) {
            int[] ids = share(o.conns(), o.threads(), t);
            drivers[t] = switch (o.mode()) {
                case "pingpong" -> new PingPongDriver(plan, ids);
                case "connrate" -> new ConnRateDriver(plan, ids);
                default -> new IdleDriver(plan, ids, control, o.inflight(), start + nanos(o.openTimeoutS()));
            };
        }
        Thread[] threads = new Thread[drivers.length];
        for (int t = 0; t < drivers.length; t++) {
            threads[t] = new Thread(drivers[t], "load-" + o.mode() + "-" + t);
            threads[t].setDaemon(true);
            threads[t].start();
        }
        Summary s = new Summary(o);
        if (idle) {
            boolean all = control.opened.await(nanos(o.openTimeoutS()) + nanos(5), java.util.concurrent.TimeUnit.NANOSECONDS);
            s.openS = (System.nanoTime() - start) / 1e9;
            out.printf(java.util.Locale.ROOT, "READY complete=%d opened=%d failed=%d open_s=%.3f%n",
                    all ? 1 : 0, control.verified.get(), control.failed.get(), s.openS);
            out.flush();
            joinUntil(threads, System.nanoTime() + nanos(o.holdS()));
            control.released = true;
            for (Driver d : drivers) d.selector.wakeup();
        } else {
            joinUntil(threads, warmupEnd);
            long t0 = ProcCpu.ticks(o.cpuPid());
            joinUntil(threads, measureEnd);
            long t1 = ProcCpu.ticks(o.cpuPid());
            if (t0 >= 0 && t1 >= 0) s.cpuTicks = t1 - t0;
        }
        joinUntil(threads, hardDeadline + nanos(5));
        for (int t = 0; t < threads.length; t++) {
            if (threads[t].isAlive()) {
                s.stuck = true;
                continue;   // its fields are not safe to read
            }
            s.add(drivers[t]);
            if (drivers[t] instanceof IdleDriver d) s.held += d.held();
        }
        s.opened = control.verified.get();
        s.openFailed = control.failed.get();
        return s;
    }

    /** Connection numbers of thread {@code t} out of {@code threads}: round robin over 0..conns-1. */
    static int[] share(int conns, int threads, int t) {
        int n = conns / threads + (t < conns % threads ? 1 : 0);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = t + i * threads;
        return ids;
    }

    /** Waits until every thread has ended or {@code deadlineNs} has come, whichever is first. */
    private static void joinUntil(Thread[] threads, long deadlineNs) throws InterruptedException {
        for (Thread t : threads) {
            long left = deadlineNs - System.nanoTime();
            if (left <= 0) return;
            t.join(Duration.ofNanos(left));
        }
    }

    private static long nanos(double seconds) {
        return (long) (seconds * 1e9);
    }
}
