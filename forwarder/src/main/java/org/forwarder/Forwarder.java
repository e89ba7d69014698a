package org.forwarder;

import org.forwarder.config.Config;
import org.forwarder.config.LogTarget;
import org.forwarder.log.EventLog;
import org.forwarder.log.LogWriter;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.proxy.Listener;
import org.forwarder.proxy.Proxies;
import org.forwarder.proxy.Worker;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A running forwarder: N event loops ({@code nbthread}), each a {@link Worker} on its own thread,
 * sharing the frontends and backends ({@link Proxies}), started from a {@link Config}. Used by
 * {@code Main} and, in-process, by tests and benchmarks. Its counters live in a
 * {@link StatsRegistry} that any thread reads without involving the loops, even after they stopped.
 *
 * <p>Start: loop 0 binds every listener first (resolving port 0), then each other loop binds its
 * own socket on the same addresses (SO_REUSEPORT); any failure closes everything and throws.
 * Stop: every loop stops accepting, open streams get the grace period, then each loop closes
 * what is left and returns.
 *
 * <p>Logs: with {@code log} lines, a {@link LogWriter} thread sends each loop's connection lines
 * and the process's events (start, stop, the messages the loops report, which still go to
 * {@code log} too) to the targets; it stops last, after the loops, sending what they queued.
 */
public final class Forwarder implements AutoCloseable {
    private static final int MAX_FD_TABLE = 1 << 22;
    /** Fds beyond the configuration's budget that the tables still cover (the JVM's jars, stdio...). */
    private static final int FD_TABLE_SLACK = 1024;

    private final Worker[] workers;
    private final Thread[] threads;
    private final Proxies proxies;
    private final StatsRegistry registry;
    private final Consumer<String> log;
    /** The log writer; null when nothing is logged. */
    private LogWriter logWriter;
    /** The stats sockets' loop; null without stats sockets. */
    private org.forwarder.cli.ControlLoop control;
    private volatile Throwable failure;

    private Forwarder(Worker[] workers, Proxies proxies, StatsRegistry registry, Consumer<String> log) {
        this.workers = workers;
        this.proxies = proxies;
        this.registry = registry;
        this.log = log;
        this.threads = new Thread[workers.length];
        for (int i = 0; i < workers.length; i++) {
            Worker w = workers[i];
            threads[i] = new Thread(() -> loop(w), "forwarder-poller-" + i);
        }
    }

    /** Binds every listener and starts the loops; throws (with the address and errno) if a bind fails. */
    public static Forwarder start(Config config, Consumer<String> log) {
        return start(config, log, Syscalls::newInstance);
    }

    /**
     * The same, with each loop's system calls made through an instance from {@code sys} (one per
     * loop: an instance keeps per-thread scratch memory; a test double in fault tests).
     */
    public static Forwarder start(Config config, Consumer<String> log, Supplier<Syscalls> sys) {
        return start(config, log, sys, LogWriter.DEFAULT_RING);
    }

    /** The same, with log rings of {@code logRing} records per loop (a power of two; tests make it small). */
    public static Forwarder start(Config config, Consumer<String> log, Supplier<Syscalls> sys, int logRing) {
        if (config.global().nbthread() == org.forwarder.config.GlobalConfig.AUTO_NBTHREAD) {
            // resolved once: every loop must agree on how many there are (shares, SO_REUSEPORT)
            config = config.withGlobal(config.global().withNbthread(config.global().loops()));
        }
        long soft = Syscalls.get().getNofileLimit()[0];
        // fd numbers are process-wide, so each loop's tables cover every fd the configuration
        // may open (with room for the JVM's own), not a soft limit that may be a million
        long need = org.forwarder.config.FdBudget.needed(config) + FD_TABLE_SLACK;
        int maxFds = (int) Math.min(MAX_FD_TABLE, Math.max(1024, Math.min(soft < 0 ? Long.MAX_VALUE : soft, need)));
        int n = config.global().loops();
        StatsRegistry registry = StatsRegistry.of(config);
        Proxies proxies = Proxies.of(config, registry);
        org.forwarder.proxy.ServerStateLoader.load(config, proxies, log); // before any loop or check runs
        LogWriter logs = LogWriter.start(config, n, logRing, lost -> registry.addShared(ProcessCounter.LOG_DROPPED, lost));
        Consumer<String> stderr = log;
        if (logs != null) {
            proxies.setEvents(logs);
            log = message -> {
                stderr.accept(message);
                sendEvent(logs, message);
            };
        }
        List<Worker> made = new ArrayList<>();
        try {
            List<SockAddr> bound = null;
            for (int i = 0; i < n; i++) {
                Worker w;
                try {
                    w = new Worker(proxies, i, registry.newLoop(), maxFds, log, sys.get());
                } catch (IllegalStateException e) {
                    throw new IllegalStateException("event loop " + i + " of " + n + ": " + e.getMessage(), e);
                }
                made.add(w);
                if (logs != null) w.setLogRing(logs.ring(i));
                w.openListeners(bound);
                if (bound == null) bound = w.listeners().stream().map(Listener::boundAddress).toList();
            }
        } catch (RuntimeException e) {
            for (Worker w : made) {
                w.closeResources();
                w.poller().close();
            }
            if (logs != null) logs.stop();
            throw e;
        }
        Worker[] workers = made.toArray(new Worker[0]);
        proxies.setLoops(workers);
        org.forwarder.check.Checks.start(proxies, workers); // before the loops' threads start
        Forwarder f = new Forwarder(workers, proxies, registry, log);
        f.logWriter = logs;
        if (logs != null) {
            // the configuration's warnings, e.g. a maxconn lowered to fit the open-file limit
            for (String w : config.warnings()) logs.warning(w);
            for (String name : proxyNames(config)) logs.notice("Proxy " + name + " started.");
        }
        for (Thread t : f.threads) t.start();
        try {
            f.control = org.forwarder.cli.ControlLoop.start(config, registry, proxies, log, maxFds);
        } catch (RuntimeException e) {
            f.shutdown(Duration.ZERO);
            throw e;
        }
        return f;
    }

    private void loop(Worker w) {
        try {
            LoopAffinity.apply(w, log); // cpu-map: pin this thread before it runs anything
            w.poller().run();
        } catch (Throwable t) {
            failure = t;
            log.accept("fatal: event loop " + w.index() + " stopped: " + t + "; stopping every loop");
            t.printStackTrace();
            // its sessions hold server slots, queue places and connection places that the other
            // loops would wait for or hand to the dead: stop the process's loops, as HAProxy aborts
            for (Worker other : workers) {
                if (other != w) closeAndStop(other);
            }
            w.closeAllStreams();
        } finally {
            w.closeResources();
        }
    }

    /** How many event loops run. */
    public int loops() {
        return workers.length;
    }

    /** Where the Prometheus exporter frontends listen (port 0 resolved), in configuration order; empty if none. */
    public List<SockAddr> metricsAddresses() {
        org.forwarder.cli.ControlLoop c = control;
        return c == null ? List.of() : c.metricsAddresses();
    }

    /** The addresses actually bound, in configuration order (port 0 resolved); the same for every loop. */
    public List<SockAddr> boundAddresses() {
        return workers[0].listeners().stream().map(Listener::boundAddress).toList();
    }

    /** Runs {@code f} on loop 0's thread and waits for its result. */
    public <T> T call(Function<Worker, T> f) {
        return call(0, f);
    }

    /** Runs {@code f} on loop {@code loop}'s thread and waits for its result. */
    public <T> T call(int loop, Function<Worker, T> f) {
        Worker w = workers[loop];
        CompletableFuture<T> result = new CompletableFuture<>();
        w.poller().execute(() -> {
            try {
                result.complete(f.apply(w));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        try {
            return result.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("poller " + loop + " did not answer: " + e, e);
        }
    }

    /** Returns once every loop has finished the pass it was in (what a loop did before, all of it is counted). */
    public void sync() {
        for (int i = 0; i < workers.length; i++) call(i, w -> null);
    }

    /** Every counter, summed over the loops, read now from this thread (the loops are not asked). */
    public StatsSnapshot stats() {
        return registry.snapshot();
    }

    /** The live counters, for reading one figure at a time. */
    public StatsRegistry counters() {
        return registry;
    }

    /** What the loops share: frontends, backends, servers, connection counts. */
    public Proxies proxies() {
        return proxies;
    }

    /** CPU time used so far by the event-loop threads together. */
    public long pollerCpuNanos() {
        long sum = 0;
        for (Thread t : threads) sum += Math.max(0, ManagementFactory.getThreadMXBean().getThreadCpuTime(t.threadId()));
        return sum;
    }

    /** Bytes the event-loop threads have allocated on the Java heap so far (HotSpot's counter). */
    public long pollerAllocatedBytes() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : threads) sum += Math.max(0, mx.getThreadAllocatedBytes(t.threadId()));
        return sum;
    }

    public Throwable failure() {
        return failure;
    }

    /** True while any loop runs. */
    public boolean isRunning() {
        for (Thread t : threads) if (t.isAlive()) return true;
        return false;
    }

    /**
     * Stops accepting on every loop, lets open streams finish for up to {@code grace}, closes
     * what is left and stops the loops.
     */
    public void shutdown(Duration grace) {
        if (!isRunning()) {
            for (Worker w : workers) w.poller().close(); // loops that died (each closed what it owned)
            stopControl();
            return;
        }
        for (Worker w : workers) w.poller().execute(w::stopAccepting);
        long deadline = System.nanoTime() + grace.toNanos();
        while (System.nanoTime() < deadline && isRunning()) {
            if (proxies.current() == 0) break;
            sleep(20);
        }
        for (Worker w : workers) closeAndStop(w);
        long joinBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(joinBy - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopControl();
                return;
            }
        }
        // no loop runs any more, so none can wake another: the eventfds and epoll sets can go
        if (!isRunning()) for (Worker w : workers) w.poller().close();
        stopControl();
    }

    /** The frontends' and backends' names, each once (a listen section is both), in file order. */
    private static java.util.Set<String> proxyNames(Config config) {
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        config.frontends().forEach(fe -> names.add(fe.name()));
        names.addAll(config.backends().keySet());
        return names;
    }

    /**
     * A message the process reports (on standard error) also goes to the global log targets, at
     * the level its prefix says ("emerg:", "fatal:"/"error:"/"alert:" alert, "warning:" warning,
     * else notice), without it.
     */
    private static void sendEvent(EventLog logs, String message) {
        String m = message.strip();
        int level = LogTarget.NOTICE;
        if (m.startsWith("fatal: ") || m.startsWith("error: ") || m.startsWith("alert: ")) {
            level = LogTarget.ALERT;
            m = m.substring(m.indexOf(' ') + 1);
        } else if (m.startsWith("emerg: ")) {
            level = LogTarget.EMERG;
            m = m.substring(7);
        } else if (m.startsWith("warning: ")) {
            level = LogTarget.WARNING;
            m = m.substring(9);
        }
        logs.send(level, m.replace('\n', ' '));
    }

    /** The log writer, or null when nothing is logged. */
    public LogWriter logWriter() {
        return logWriter;
    }

    /** The process's event log: the global {@code log} targets ({@link EventLog#NONE} without any). */
    public EventLog events() {
        return proxies.events();
    }

    /** Says each proxy stopped, as HAProxy does, then stops the log writer (it sends what is queued first). */
    private void stopLogs() {
        LogWriter w = logWriter;
        logWriter = null;
        if (w == null) return;
        StatsSnapshot s = registry.snapshot();
        java.util.Map<String, long[]> conns = new java.util.LinkedHashMap<>(); // name -> {FE, BE}
        for (StatsRegistry.Row r : registry.rows()) {
            if (r.type() == StatsRegistry.Type.SERVER) continue;
            long[] c = conns.computeIfAbsent(r.proxy(), k -> new long[2]);
            c[r.type() == StatsRegistry.Type.FRONTEND ? 0 : 1] = s.get(r, ProxyCounter.STOT);
        }
        conns.forEach((name, c) -> w.warning("Proxy " + name + " stopped (cumulated conns: FE: " + c[0] + ", BE: " + c[1] + ")."));
        w.stop();
    }

    private void stopControl() {
        stopLogs();
        org.forwarder.cli.ControlLoop c = control;
        control = null;
        if (c != null) c.stop();
    }

    /** Asks loop {@code w} to close its streams and return from its run, on its own thread. */
    private static void closeAndStop(Worker w) {
        w.poller().execute(() -> {
            w.closeAllStreams();
            w.poller().stop();
        });
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }
}
