package org.forwarder.config;

import java.util.List;

/**
 * Whether the Java heap can hold {@code maxconn} open streams. The forwarder's buffers and pipes
 * are off the heap, but each open stream keeps its session objects on it (about 0.9 KiB each,
 * measured with 10,000 idle streams: docs/jvm.md), and the young generation needs room for the
 * garbage of new connections. A heap too small for maxconn would fail with OutOfMemoryError at
 * the worst moment, under load; so the shortfall is said at start, with the figure to give.
 * Pure arithmetic: the caller passes the JVM's maximum heap.
 */
public final class HeapBudget {
    /** Live heap without any stream (classes' statics, tables, the log rings): measured 3.5 MiB; doubled. */
    static final long BASE = 32L << 20;
    /** Per open stream: measured about 0.9 KiB live; doubled for the young generation's churn. */
    static final long PER_STREAM = 2L << 10;

    private HeapBudget() {}

    /** The heap advised for {@code maxconn} streams, in bytes. */
    public static long advised(int maxconn) {
        return BASE + PER_STREAM * maxconn;
    }

    /**
     * One warning when {@code maxHeap} (the JVM's {@code Runtime.maxMemory()}) is below the heap
     * advised for {@code maxconn}, else none. The figure it gives for {@code -Xmx} is an eighth
     * above the advice: the JVM reports less than {@code -Xmx} as its maximum (the serial
     * collector leaves one survivor space out, about 4%), and following the warning must
     * silence it.
     */
    public static List<String> check(int maxconn, long maxHeap) {
        long need = advised(maxconn);
        if (maxHeap >= need) return List.of();
        long mib = ((need + need / 8) + (1 << 20) - 1) >> 20;
        return List.of("the Java heap (at most " + (maxHeap >> 20) + " MiB) may not hold maxconn " + maxconn
                + " open streams (32 MiB plus 2 KiB per stream, twice what was measured): give it -Xmx" + mib
                + "m (FORWARDER_HEAP=" + mib + "m with bin/forwarder), or lower maxconn");
    }
}
