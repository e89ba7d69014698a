package org.forwarder.stats;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongBinaryOperator;

/**
 * The highest value a process-wide level reached (a frontend's, backend's or server's open streams,
 * a backend's queue, the connection rate). Levels shared by the loops are kept as per-loop deltas
 * in the counter blocks, whose sum at any one moment no loop sees; so the maximum is kept where
 * the shared level itself changes, by whoever changes it (after a CAS or an atomic increment, or
 * under the backend's lock), and from there it goes into a slot here.
 *
 * <p>Cost: {@link #update} reads the slot first and writes (an atomic max) only when the value
 * exceeds it, which after the first moments of a process is rare: the common case is one plain
 * load of a line that is seldom written, so it stays shared in every core's cache. Never on the
 * per-event path: once per accept, slot taken or queueing.
 */
public final class SharedMax {
    private static final LongBinaryOperator MAX = Math::max;

    private final AtomicLongArray values;
    private final int index;

    SharedMax(AtomicLongArray values, int index) {
        this.values = values;
        this.index = index;
    }

    /** Raises the maximum to {@code v} if it is higher (any thread). */
    public void update(long v) {
        if (v > values.get(index)) values.accumulateAndGet(index, v, MAX);
    }

    /** The maximum so far (any thread). */
    public long get() {
        return values.get(index);
    }
}
