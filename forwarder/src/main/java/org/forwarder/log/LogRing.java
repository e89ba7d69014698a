package org.forwarder.log;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One event loop's queue of connection log records toward the log writer: a bounded ring of
 * fixed-size slots (longs, plus two object references), single producer (the loop's thread),
 * single consumer (the writer's thread). The loop fills a preallocated slot in place and
 * publishes it with one release store, so logging a connection allocates nothing and never
 * waits: when the writer is behind and the ring is full, {@link #claim} says so and the loop
 * drops the line and counts it (DroppedLogs). Why not format on the loop: the numbers are
 * cheap to copy, while dates, addresses and syslog headers are the writer's time to spend.
 */
public final class LogRing {
    /** Longs per slot; see {@link LogRecord} for what each holds. */
    public static final int WIDTH = LogRecord.FIELDS;
    /** References per slot: the frontend and the server (or null). */
    static final int REFS = 2;

    final long[] data;
    final Object[] refs;
    private final int mask;
    private final LogWriter writer;
    /** Next slot the consumer reads (its own field, published for the producer's full check). */
    private final AtomicLong head = new AtomicLong();
    /** Next slot the producer fills (published with release once the slot is complete). */
    private final AtomicLong tail = new AtomicLong();
    /** The producer's copies: its own tail, and the last head it saw (to look at the shared one seldom). */
    private long producerTail;
    private long cachedHead;

    LogRing(int capacity, LogWriter writer) {
        if (Integer.bitCount(capacity) != 1) throw new IllegalArgumentException("ring capacity must be a power of two");
        this.data = new long[capacity * WIDTH];
        this.refs = new Object[capacity * REFS];
        this.mask = capacity - 1;
        this.writer = writer;
    }

    public int capacity() {
        return mask + 1;
    }

    /** Producer: the index of a free slot to fill, or -1 if the ring is full (drop the line). */
    public int claim() {
        if (producerTail - cachedHead > mask) {
            cachedHead = head.getAcquire();
            if (producerTail - cachedHead > mask) return -1;
        }
        return (int) (producerTail & mask);
    }

    /** Producer: slot {@code slot}'s long {@code field} (one of LogRecord's). */
    public void set(int slot, int field, long value) {
        data[slot * WIDTH + field] = value;
    }

    /** Producer: the slot's frontend and server references. */
    public void setRefs(int slot, Object frontend, Object server) {
        refs[slot * REFS] = frontend;
        refs[slot * REFS + 1] = server;
    }

    /** Producer: the claimed slot is complete; hands it to the writer. */
    public void publish() {
        tail.set(++producerTail); // volatile: ordered before the look at the writer's sleeping flag
        writer.wake();
    }

    /** Consumer: slots published and not yet read: from {@link #head()} to this. */
    long published() {
        return tail.getAcquire();
    }

    long head() {
        return head.getPlain();
    }

    /** Consumer: slots up to {@code upTo} are read; the producer may reuse them. */
    void consumed(long upTo) {
        for (long i = head.getPlain(); i < upTo; i++) {
            int s = (int) (i & mask);
            refs[s * REFS] = null;
            refs[s * REFS + 1] = null;
        }
        head.setRelease(upTo);
    }

    int slot(long index) {
        return (int) (index & mask);
    }
}
