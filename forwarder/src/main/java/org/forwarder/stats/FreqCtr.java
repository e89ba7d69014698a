package org.forwarder.stats;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An events-per-second rate over a sliding one-second window, as HAProxy's {@code freq_ctr}: the
 * count of the current second and of the one before; the rate at a moment {@code f} (0..1) into
 * the current second is {@code cur + prev * (1 - f)}, so it glides from one second to the next
 * instead of jumping to zero at each boundary. One per event loop, three slots of the loop's
 * array ([second][cur][prev]): only the owning loop writes (no atomic, a load and an opaque store
 * per event, plus a rotation at most once a second); readers sum the loops' rates.
 *
 * <p>Why the reader recomputes against its own clock: a loop rotates only when it counts, so an
 * idle loop's slots stay as they were; {@link #rateOf} treats a second more than one behind as
 * zero and the previous second as decaying, which is what a rotation now would have written.
 *
 * <p>A rotation writes three slots. It marks the second slot {@link #ROTATING} first, then writes
 * the counts, then the new second with a release store (seqlock-like); a reader reads the second,
 * the counts and the second again (acquire loads) and tries again when they differ or show the
 * mark, so it never mixes two seconds. Counting between rotations touches {@code cur} only,
 * which a reader always reads whole.
 *
 * <p>Clock: milliseconds from one origin shared by every thread ({@code System.nanoTime()/10^6},
 * which may be negative; hence floorDiv). Width: 64 bits; 1 Tbps is 1.25 * 10^11 bytes a second,
 * times the 1000 of the interpolation is far below 2^63.
 */
public final class FreqCtr {
    public static final long PERIOD_MS = 1000;
    /** In the second slot while a rotation is under way. */
    static final long ROTATING = Long.MIN_VALUE;
    /** In the second slot before the first event: matches no second (and +1 does not overflow). */
    static final long NEVER = Long.MIN_VALUE + 2;
    static final int SLOTS = 3;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] v;
    private final int base;

    FreqCtr(long[] values, int base) {
        this.v = values;
        this.base = base;
        values[base] = NEVER;
    }

    /** Counts {@code n} events at {@code nowMs} (owning loop only). */
    public void add(long nowMs, long n) {
        long sec = Math.floorDiv(nowMs, PERIOD_MS);
        long stored = v[base];
        if (sec != stored) rotate(sec, stored);
        SLOT.setOpaque(v, base + 1, v[base + 1] + n);
    }

    private void rotate(long sec, long stored) {
        if (sec < stored) return; // a clock read earlier than the last one (another loop's never reaches here)
        long prev = sec == stored + 1 ? v[base + 1] : 0;
        SLOT.setOpaque(v, base, ROTATING);
        VarHandle.storeStoreFence();
        SLOT.setOpaque(v, base + 2, prev);
        SLOT.setOpaque(v, base + 1, 0L);
        SLOT.setRelease(v, base, sec);
    }

    /** This loop's rate at {@code nowMs}, from any thread. */
    public long rate(long nowMs) {
        for (int tries = 0; ; tries++) {
            long s1 = (long) SLOT.getAcquire(v, base);
            long cur = (long) SLOT.getAcquire(v, base + 1);
            long prev = (long) SLOT.getAcquire(v, base + 2);
            long s2 = (long) SLOT.getAcquire(v, base);
            if (s1 == s2 && s1 != ROTATING) return rateOf(s1, cur, prev, nowMs);
            if (tries >= 1000) return 0; // the owner stalled mid-rotation (never seen): no figure rather than a wrong one
            Thread.onSpinWait();
        }
    }

    /**
     * The rate at {@code nowMs} of a counter whose second {@code sec} counted {@code cur} and the
     * second before {@code prev}.
     */
    static long rateOf(long sec, long cur, long prev, long nowMs) {
        long now = Math.floorDiv(nowMs, PERIOD_MS);
        long left = PERIOD_MS - Math.floorMod(nowMs, PERIOD_MS); // of the current second, 1..1000
        if (sec > now) return cur + prev; // the writer's clock ran past ours into its next second: that second's start
        if (sec == now) return cur + prev * left / PERIOD_MS;
        if (sec == now - 1) return cur * left / PERIOD_MS;
        return 0;
    }
}
