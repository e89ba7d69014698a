package org.forwarder.bench.load;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/**
 * One client thread: a Selector and the connections it drives, non-blocking, so one or two
 * threads can keep dozens of connections busy without a thread each (a thread per connection would
 * spend the two cores on scheduling). The loop is bounded three ways: the plan's time line, a
 * count of operations, a count of errors; every select waits at most {@link #SCAN_MS} ms so the
 * bounds and per-operation timeouts are checked even when nothing happens.
 *
 * <p>The hot path allocates nothing: the ready-key callback is created once per run, the select
 * variant taking it does not build a selected-key set, and subclasses keep their buffers per
 * connection. Results are plain fields, read by the main thread after join().
 */
abstract class Driver implements Runnable {
    static final long SCAN_MS = 20;

    final Plan plan;
    final Selector selector;
    final LatencyHistogram histogram = new LatencyHistogram();
    final ErrorCounts errors = new ErrorCounts();
    /** Operations completed inside the measurement window. */
    long measuredOps;
    /** Every operation completed, warm-up included. */
    long allOps;
    long stopNs;
    String stopReason = "not-run";
    Throwable failure;

    Driver(Plan plan) throws IOException {
        this.plan = plan;
        this.selector = Selector.open();
    }

    @Override
    public final void run() {
        Consumer<SelectionKey> onReady = this::onReady;
        try {
            long now = System.nanoTime();
            begin(now);
            long lastScan = now;
            while (true) {
                now = System.nanoTime();
                String why = stopCondition(now);
                if (why != null) {
                    stopReason = why;
                    break;
                }
                selector.select(onReady, SCAN_MS);
                now = System.nanoTime();
                afterSelect(now);
                if (now - lastScan >= SCAN_MS * 1_000_000) {
                    expire(now);
                    lastScan = now;
                }
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
            stopReason = "failure";
        } finally {
            stopNs = System.nanoTime();
            closeAll();
            try {
                selector.close();
            } catch (IOException e) {
                errors.add(e);
            }
        }
    }

    /** Why to stop now, or null to go on. Subclasses add their own reasons first. */
    String stopCondition(long now) {
        if (now - plan.hardDeadlineNs() >= 0) return "deadline";
        if (measuredOps >= plan.maxOps()) return "max-ops";
        if (errors.total() >= plan.maxErrors()) return "max-errors";
        return null;
    }

    /** Opens the first connections. */
    abstract void begin(long now) throws IOException;

    /** Handles one ready key; failures of one connection are counted and handled here, not thrown. */
    abstract void onReady(SelectionKey key);

    /** Called after every select. */
    void afterSelect(long now) {
    }

    /** Ends the operations that have run past their timeout. Called every {@link #SCAN_MS} ms. */
    abstract void expire(long now);

    /** Closes every connection still open. */
    abstract void closeAll();

    /** Counts an operation that ran from {@code startNs} to {@code endNs}; measured if it ended inside the window. */
    final void completed(long startNs, long endNs) {
        allOps++;
        if (endNs - plan.warmupEndNs() >= 0 && endNs - plan.measureEndNs() < 0) {
            measuredOps++;
            histogram.record(endNs - startNs);
        }
    }

    /** Seconds of the measurement window this driver was running for. */
    final double windowSeconds() {
        long end = stopNs;
        if (end - plan.measureEndNs() > 0) end = plan.measureEndNs();
        long w = end - plan.warmupEndNs();
        return w <= 0 ? 0 : w / 1e9;
    }

    /** Closes {@code ch}; a failure to close is counted, not ignored. */
    final void close(SocketChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException e) {
            errors.add(e);
        }
    }

    /** A new non-blocking, no-delay channel, its connect started. Returns true if already connected. */
    final boolean connect(SocketChannel ch) throws IOException {
        ch.configureBlocking(false);
        ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
        return ch.connect(plan.target());
    }
}
