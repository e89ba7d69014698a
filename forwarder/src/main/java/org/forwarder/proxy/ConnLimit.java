package org.forwarder.proxy;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A process-wide connection count against a limit (a frontend's or the global {@code maxconn}),
 * shared by every event loop, as in HAProxy: the limit is not divided by the number of loops.
 * A loop takes a place before it accepts ({@link #tryTake}), so two loops accepting at the same
 * moment cannot both pass a limit that has room for one; a place taken for an accept that found
 * nothing is given back. One CAS per accepted connection and one decrement per close: touched on
 * accept and close only, never per event.
 */
final class ConnLimit {
    /** The limit; lowered or raised at run time by the runtime API (set maxconn). */
    private volatile int max;
    private final AtomicInteger current = new AtomicInteger();

    ConnLimit(int max) {
        if (max < 1) throw new IllegalArgumentException("a connection limit must be at least 1");
        this.max = max;
    }

    /** Takes a place if the limit allows: the count with it (at least 1); 0 when the limit is reached. */
    int tryTake() {
        while (true) {
            int c = current.get();
            if (c >= max) return 0;
            if (current.compareAndSet(c, c + 1)) return c + 1;
        }
    }

    /** Gives a place back; true when the limit was reached before (a paused listener may now accept). */
    boolean release() {
        return current.getAndDecrement() >= max;
    }

    boolean isFull() {
        return current.get() >= max;
    }

    int current() {
        return current.get();
    }

    int max() {
        return max;
    }

    /**
     * A new limit; 0 accepts nothing (HAProxy's {@code set maxconn frontend f 0}). Connections
     * above a lowered limit stay; no new one is accepted until the count is below it. After a
     * raise, the caller wakes the loops paused at the limit.
     */
    void setMax(int max) {
        if (max < 0) throw new IllegalArgumentException("a connection limit cannot be negative");
        this.max = max;
    }
}
