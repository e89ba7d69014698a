package org.forwarder.stats;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The figures of one object (the process, a frontend, a backend or a server) as one event loop
 * counts them: a fixed slice of that loop's {@code long[]}, one slot per constant of {@code E}.
 *
 * <p>Who writes, who reads. Only the owning loop's thread writes a block, so an update is a load
 * and a store, never an atomic read-modify-write or a lock; any thread reads it at any time,
 * without stopping or calling into the loop ({@link StatsRegistry} sums the loops).
 *
 * <p>Why opaque stores, not plain ones. A plain {@code long} store is not guaranteed to be atomic
 * (JLS 17.7 lets a non-volatile 64-bit write be split in two 32-bit halves), and the JIT may keep
 * a plain field in a register and store it late, or hoist a reader's plain load out of its polling
 * loop. {@link VarHandle#setOpaque} and {@link VarHandle#getOpaque} rule out all three: the value
 * is written and read whole, and each slot is seen in the order it was written (a counter read
 * twice never goes backwards). On x86_64 (and AArch64) an opaque store is the same single
 * {@code mov} ({@code str}) as a plain one, with no fence: the per-event cost is that of a plain
 * store. Volatile would add a full fence per update (a locked instruction on x86_64); release
 * would order every update after all earlier ones, which only {@link #addRelease} needs.
 * Readers use {@code getAcquire} (a plain load on x86_64): with the one release store, a reader
 * that sees the loop's open-connection gauge drop also sees everything the loop wrote before
 * it (see {@link StatsRegistry}). Different slots are not read as one atomic cut otherwise.
 *
 * <p>Width: 64 bits. A byte counter at a sustained 100 Gbps (12.5 GB/s) reaches 2^63 after about
 * 23 years (2^64, read unsigned with {@link Long#toUnsignedString(long)}, after 46); a connection
 * counter at 10 million a second, after 29,000 years. Nothing wraps in a process's life.
 *
 * <p>Gauges are kept as deltas ({@code add(+1)}, {@code add(-1)}) when the object may be shared
 * by loops (a frontend, a backend, a server): the sum over loops is right even when one loop
 * raises a level and another lowers it, though one loop's own value may then be negative.
 * {@link #set} is only for a figure that the loop alone owns (its pools, its poller).
 */
public final class CounterBlock<E extends Enum<E> & Counter> {
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] values;
    private final int base;

    CounterBlock(long[] values, int base) {
        this.values = values;
        this.base = base;
    }

    /** Adds one (owning loop only). */
    public void inc(E c) {
        int i = base + c.ordinal();
        SLOT.setOpaque(values, i, values[i] + 1);
    }

    /** Adds {@code n}, which may be negative for a gauge (owning loop only). */
    public void add(E c, long n) {
        int i = base + c.ordinal();
        // the plain load sees this thread's own last store: only this thread writes the slot
        SLOT.setOpaque(values, i, values[i] + n);
    }

    /**
     * Adds {@code n} after every earlier update of this loop (owning loop only): a reader that
     * sees the new value with {@link #get} sees those updates too. For the open-connection gauge,
     * which changes once per connection, not per event.
     */
    public void addRelease(E c, long n) {
        int i = base + c.ordinal();
        SLOT.setRelease(values, i, values[i] + n);
    }

    /** Sets a figure that this loop alone owns (owning loop only). */
    public void set(E c, long v) {
        SLOT.setOpaque(values, base + c.ordinal(), v);
    }

    /** This loop's value of {@code c}; from any thread. */
    public long get(E c) {
        return (long) SLOT.getAcquire(values, base + c.ordinal());
    }
}
