package org.forwarder.bench.load;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyHistogramTest {

    @Test
    void valuesBelow256AreExact() {
        LatencyHistogram h = new LatencyHistogram();
        for (int v = 0; v < 256; v++) h.record(v);
        assertEquals(256, h.count());
        assertEquals(127, h.percentile(50));   // nearest rank: the 128th of 256
        assertEquals(253, h.percentile(99));   // ceil(253.44) = 254th
        assertEquals(255, h.percentile(100));
        assertEquals(0, h.percentile(0));
        assertEquals(127.5, h.mean(), 1e-9);
    }

    @Test
    void everyValueFallsInABucketNarrowerThanOne128th() {
        SplittableRandom r = new SplittableRandom(8);
        int previous = -1;
        for (long v = 0; v < 100_000; v++) {   // dense: buckets are contiguous and ordered
            int i = LatencyHistogram.index(v);
            assertTrue(i == previous || i == previous + 1, "bucket jump at " + v);
            previous = i;
        }
        for (int n = 0; n < 200_000; n++) {
            long v = r.nextLong(Long.MAX_VALUE) >>> r.nextInt(63);
            int i = LatencyHistogram.index(v);
            long lo = LatencyHistogram.lowest(i), hi = LatencyHistogram.highest(i);
            assertTrue(lo <= v && v <= hi, v + " not in bucket " + i + " [" + lo + ", " + hi + "]");
            assertTrue(hi - lo + 1 <= Math.max(1, lo / 128), "bucket " + i + " too wide: [" + lo + ", " + hi + "]");
            assertTrue(i >= 0 && i < LatencyHistogram.BUCKETS);
        }
        assertEquals(LatencyHistogram.BUCKETS - 1, LatencyHistogram.index(Long.MAX_VALUE));
        assertEquals(Long.MAX_VALUE, LatencyHistogram.highest(LatencyHistogram.BUCKETS - 1));
    }

    @Test
    void percentilesOfAUniformRangeAreWithinOnePercentAndNeverOptimistic() {
        LatencyHistogram h = new LatencyHistogram();
        for (long v = 1; v <= 100_000; v++) h.record(v * 1000);   // 1 us .. 100 ms in ns
        double[][] expect = {{50, 50_000_000}, {90, 90_000_000}, {99, 99_000_000}, {99.9, 99_900_000}};
        for (double[] e : expect) {
            long got = h.percentile(e[0]);
            assertTrue(got >= e[1] && got <= e[1] * (1 + 1.0 / 128), "p" + e[0] + " = " + got + ", want about " + (long) e[1]);
        }
        assertEquals(100_000_000, h.percentile(100));
        assertEquals(100_000_000, h.max());
        assertEquals(1000, h.min());
    }

    @Test
    void oneSampleIsEveryPercentile() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(123_456_789);
        for (double p : new double[] {0, 1, 50, 99.9, 100}) assertEquals(123_456_789, h.percentile(p));
    }

    @Test
    void mergeEqualsRecordingEverythingInOne() {
        LatencyHistogram all = new LatencyHistogram(), a = new LatencyHistogram(), b = new LatencyHistogram();
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 50_000; i++) {
            long v = r.nextLong(10_000_000);
            all.record(v);
            (i % 3 == 0 ? a : b).record(v);
        }
        a.merge(b);
        a.merge(new LatencyHistogram());
        assertEquals(all.count(), a.count());
        assertEquals(all.min(), a.min());
        assertEquals(all.max(), a.max());
        for (double p : new double[] {1, 50, 99, 99.9}) assertEquals(all.percentile(p), a.percentile(p));
    }

    @Test
    void emptyAndInvalid() {
        LatencyHistogram h = new LatencyHistogram();
        assertEquals(0, h.percentile(99));
        assertEquals(0, h.max());
        assertEquals(0, h.min());
        assertThrows(IllegalArgumentException.class, () -> h.percentile(101));
        h.record(-5);   // a clock stepping back counts as 0
        assertEquals(0, h.max());
    }

    @Test
    void recordingAllocatesNothing() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        LatencyHistogram h = new LatencyHistogram();
        long id = Thread.currentThread().threadId();
        for (int i = 0; i < 20_000; i++) h.record(i * 37L);   // warm up
        long before = mx.getThreadAllocatedBytes(id);
        for (int i = 0; i < 1_000_000; i++) h.record(i * 1013L);
        long after = mx.getThreadAllocatedBytes(id);
        assertTrue(after - before < 1024, "record() allocated " + (after - before) + " bytes over 1e6 samples");
    }
}
