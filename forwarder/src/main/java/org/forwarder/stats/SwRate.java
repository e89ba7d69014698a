package org.forwarder.stats;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An average over the last {@value #WINDOW} samples, as HAProxy's {@code swrate} behind
 * {@code qtime}, {@code ctime} and {@code ttime}: a sum that forgets a {@code 1/WINDOW} part of
 * itself at each new sample ({@code sum = sum - sum/WINDOW + v}, the average being
 * {@code sum/WINDOW}). Until {@value #WINDOW} samples have come the sum is the plain total and
 * the average divides by the samples so far, so the first samples are not diluted by an empty
 * window (our choice: a fixed window of 1024 would show a tenth of the true average after 100
 * samples).
 *
 * <p>One per event loop, two slots of the loop's array ([sum][samples]), written by the owning
 * loop only (opaque stores, the count last with release). Mixing loops: a loop's average is
 * {@code sum / window} with {@code window = min(samples, WINDOW)}; the process's is the loops'
 * averages weighted by their windows, which is {@code (sum of sums) / (sum of windows)}
 * ({@link #average}): the last samples of each loop count alike. A reader may see the sum of one
 * more sample than the count (one sample in up to {@value #WINDOW}); no figure is torn.
 */
public final class SwRate {
    public static final int WINDOW = 1024;
    static final int SLOTS = 2;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] v;
    private final int base;

    SwRate(long[] values, int base) {
        this.v = values;
        this.base = base;
    }

    /** Adds sample {@code value} (owning loop only). */
    public void add(long value) {
        long n = v[base + 1];
        SLOT.setOpaque(v, base, next(v[base], n, value));
        SLOT.setRelease(v, base + 1, n + 1);
    }

    /** The sum after sample {@code value}, when {@code samples} came before it. */
    static long next(long sum, long samples, long value) {
        return samples < WINDOW ? sum + value : sum - sum / WINDOW + value;
    }

    /** This loop's sum, from any thread. */
    public long sum() {
        return (long) SLOT.getAcquire(v, base);
    }

    /** Samples this loop took, from any thread. */
    public long samples() {
        return (long) SLOT.getAcquire(v, base + 1);
    }

    /** How many samples {@code samples} taken weigh in an average: at most {@value #WINDOW}. */
    public static long window(long samples) {
        return Math.min(samples, WINDOW);
    }

    /**
     * The part of {@code sum} (after {@code samples}) that the samples after the
     * {@code samples0}-th brought, when the sum was {@code sum0} then: what a sum started afresh
     * at that point would hold ({@code clear counters all} cannot write a loop's slots, so it
     * subtracts instead). The old sum fades by {@code 1 - 1/WINDOW} at each sample taken once
     * the window was full; until then it stays whole, and the answer is exact. After, the fading
     * is computed in floating point while the loop rounds each step down, so the answer may be
     * off by about one per such sample, a few milliseconds over a window of 1024: the same
     * order as the rounding of the average itself. Never negative.
     */
    static long sumSince(long sum, long samples, long sum0, long samples0) {
        if (sum0 == 0) return sum;
        return Math.max(0, sum - Math.round(sum0 * fade(samples, samples0)));
    }

    /**
     * What the samples after the {@code samples0}-th weigh in the sum after {@code samples}: the
     * window to divide {@link #sumSince} by. A window holds {@code min(samples, WINDOW)} samples'
     * worth; the older ones' part of it has faded as their sum did. Once the window was full the
     * new samples fade from their first step (in a counter started afresh they would not until
     * it filled again), so they weigh less than {@code samples - samples0}: dividing by what they
     * weigh keeps their average right.
     */
    static long windowSince(long samples, long samples0) {
        return Math.max(0, Math.round(window(samples) - window(samples0) * fade(samples, samples0)));
    }

    /** The factor a sum kept from sample {@code samples0} to sample {@code samples} (1 until the window is full). */
    private static double fade(long samples, long samples0) {
        long steps = Math.max(0, samples - Math.max(samples0, WINDOW));
        return steps == 0 ? 1 : Math.pow(1 - 1.0 / WINDOW, steps);
    }

    /** The average of sums over windows (0 without samples). */
    public static long average(long sums, long windows) {
        return windows == 0 ? 0 : sums / windows;
    }
}
