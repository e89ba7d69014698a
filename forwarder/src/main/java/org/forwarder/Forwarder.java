package org.forwarder;

import org.forwarder.config.Config;
import org.forwarder.proxy.Listener;
import org.forwarder.proxy.Worker;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A running forwarder: one {@link Worker} on its own poller thread, started from a {@link Config}.
 * Used by {@code Main} and, in-process, by tests and benchmarks. Its counters live in a
 * {@link StatsRegistry} that any thread reads without involving the loop, even after it stopped.
 */
public final class Forwarder implements AutoCloseable {
    private static final int MAX_FD_TABLE = 1 << 22;

    private final Worker worker;
    private final StatsRegistry registry;
    private final Thread thread;
    private final Consumer<String> log;
    private volatile Throwable failure;

    private Forwarder(Worker worker, StatsRegistry registry, Consumer<String> log) {
        this.worker = worker;
        this.registry = registry;
        this.log = log;
        this.thread = new Thread(this::loop, "forwarder-poller-0");
    }

    /** Binds every listener and starts the loop; throws (with the address and errno) if a bind fails. */
    public static Forwarder start(Config config, Consumer<String> log) {
        return start(config, log, Syscalls.newInstance());
    }

    /** The same, with the loop's system calls made through {@code sys} (a test double in fault tests). */
    public static Forwarder start(Config config, Consumer<String> log, Syscalls sys) {
        long soft = Syscalls.get().getNofileLimit()[0];
        int maxFds = (int) Math.min(MAX_FD_TABLE, Math.max(1024, soft));
        StatsRegistry registry = StatsRegistry.of(config);
        Worker w = new Worker(config, registry.newLoop(), maxFds, log, sys);
        try {
            w.openListeners();
        } catch (RuntimeException e) {
            w.poller().stop();
            w.poller().run(); // returns at once and releases epoll and its eventfd
            throw e;
        }
        Forwarder f = new Forwarder(w, registry, log);
        f.thread.start();
        return f;
    }

    private void loop() {
        try {
            worker.poller().run();
        } catch (Throwable t) {
            failure = t;
            log.accept("fatal: event loop stopped: " + t);
            t.printStackTrace();
        } finally {
            worker.closeResources();
        }
    }

    /** The addresses actually bound, in configuration order (port 0 resolved). */
    public List<SockAddr> boundAddresses() {
        return worker.listeners().stream().map(Listener::boundAddress).toList();
    }

    /** Runs {@code f} on the poller thread and waits for its result. */
    public <T> T call(Function<Worker, T> f) {
        CompletableFuture<T> result = new CompletableFuture<>();
        worker.poller().execute(() -> {
            try {
                result.complete(f.apply(worker));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        try {
            return result.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("poller did not answer: " + e, e);
        }
    }

    /** Every counter, summed over the loops, read now from this thread (the loop is not asked). */
    public StatsSnapshot stats() {
        return registry.snapshot();
    }

    /** The live counters, for reading one figure at a time. */
    public StatsRegistry counters() {
        return registry;
    }

    /** CPU time used so far by the event-loop thread. */
    public long pollerCpuNanos() {
        return ManagementFactory.getThreadMXBean().getThreadCpuTime(thread.threadId());
    }

    /** Bytes the event-loop thread has allocated on the Java heap so far (HotSpot's counter). */
    public long pollerAllocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(thread.threadId());
    }

    public Throwable failure() {
        return failure;
    }

    public boolean isRunning() {
        return thread.isAlive();
    }

    /**
     * Stops accepting, lets open streams finish for up to {@code grace}, closes what is left and
     * stops the loop.
     */
    public void shutdown(Duration grace) {
        if (!thread.isAlive()) return;
        worker.poller().execute(worker::stopAccepting);
        long deadline = System.nanoTime() + grace.toNanos();
        while (System.nanoTime() < deadline && thread.isAlive()) {
            Integer open = call(Worker::current);
            if (open == 0) break;
            sleep(20);
        }
        worker.poller().execute(() -> {
            worker.closeAllStreams();
            worker.poller().stop();
        });
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
