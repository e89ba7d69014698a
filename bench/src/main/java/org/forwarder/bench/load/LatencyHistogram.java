package org.forwarder.bench.load;

/**
 * Latency histogram over fixed log-linear buckets, so that millions of samples give percentiles
 * without storing the samples and without allocating anything per sample.
 *
 * <p>Why this layout: values below 256 get a bucket each (exact); above, every power of two is
 * split into 128 equal buckets, so a bucket is never wider than 1/128 of its lowest value (under
 * 0.8% error) whatever the magnitude. All 63 bits of a long fit in 7296 buckets (58 KiB), one
 * array allocated with the histogram. A percentile is reported as the highest value its bucket
 * can hold (never optimistic), clamped to the exact minimum and maximum seen.
 *
 * <p>Not thread-safe: one histogram per driver thread, merged after the threads have ended.
 */
public final class LatencyHistogram {
    /** 2^SUB_BITS buckets per power of two. */
    static final int SUB_BITS = 7;
    private static final int SUB = 1 << SUB_BITS;
    /** Values below this get one bucket each. */
    private static final int LINEAR = SUB << 1;
    /** Shifts 1..55 cover most-significant bits 8..62 (every non-negative long). */
    static final int BUCKETS = LINEAR + (62 - SUB_BITS) * SUB;

    private final long[] counts = new long[BUCKETS];
    private long count;
    private long sum;
    private long min = Long.MAX_VALUE;
    private long max = Long.MIN_VALUE;

    /** Adds one sample; a negative value (a clock stepping back) counts as 0. */
    public void record(long value) {
        long v = Math.max(0, value);
        counts[index(v)]++;
        count++;
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
    }

    /** Adds every sample of {@code other} to this one. */
    public void merge(LatencyHistogram other) {
        if (other.count == 0) return;
        for (int i = 0; i < BUCKETS; i++) counts[i] += other.counts[i];
        count += other.count;
        sum += other.sum;
        min = Math.min(min, other.min);
        max = Math.max(max, other.max);
    }

    public long count() {
        return count;
    }

    public long min() {
        return count == 0 ? 0 : min;
    }

    public long max() {
        return count == 0 ? 0 : max;
    }

    public double mean() {
        return count == 0 ? 0 : (double) sum / count;
    }

    /**
     * The value at percentile {@code p} (0..100): the smallest bucket bound such that at least
     * p% of the samples are at or below it (nearest-rank). 0 when empty.
     */
    public long percentile(double p) {
        if (p < 0 || p > 100 || Double.isNaN(p)) throw new IllegalArgumentException("percentile must be 0..100: " + p);
        if (count == 0) return 0;
        if (p == 0) return min;
        long rank = Math.max(1, Math.min(count, (long) Math.ceil(p / 100.0 * count)));
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts[i];
            if (seen >= rank) return Math.max(min, Math.min(max, highest(i)));
        }
        return max;
    }

    /** The bucket of a non-negative value. */
    static int index(long v) {
        if (v < LINEAR) return (int) v;
        int shift = 63 - Long.numberOfLeadingZeros(v) - SUB_BITS;   // >= 1
        int top = (int) (v >>> shift);                               // SUB..2*SUB-1
        return LINEAR + (shift - 1) * SUB + (top - SUB);
    }

    /** The smallest value that falls into bucket {@code i}. */
    static long lowest(int i) {
        if (i < LINEAR) return i;
        int k = i - LINEAR;
        return (long) (SUB + k % SUB) << (k / SUB + 1);
    }

    /** The largest value that falls into bucket {@code i}. */
    static long highest(int i) {
        if (i < LINEAR) return i;
        int shift = (i - LINEAR) / SUB + 1;
        return lowest(i) + (1L << shift) - 1;
    }
}
