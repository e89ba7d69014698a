package org.forwarder.stats;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The sliding one-second rate (HAProxy's freq_ctr), with the clock given by the test. */
class FreqCtrTest {
    private static FreqCtr counter() {
        return new StatsRegistry(List.of(), Map.of()).newLoop().rate(ProcessRate.CONN_RATE);
    }

    @Test
    void nothingCountedIsZeroAtAnyTime() {
        FreqCtr f = counter();
        assertEquals(0, f.rate(0));
        assertEquals(0, f.rate(123_456));
        assertEquals(0, f.rate(-5_000));
    }

    @Test
    void theCurrentSecondCountsWholeThePreviousOneFadesOut() {
        FreqCtr f = counter();
        f.add(5_000, 6);
        f.add(5_400, 4);
        assertEquals(10, f.rate(5_400));
        assertEquals(10, f.rate(5_999));
        // nobody counts any more: the reader slides the window itself
        assertEquals(10, f.rate(6_000));
        assertEquals(5, f.rate(6_500));
        assertEquals(1, f.rate(6_900));
        assertEquals(0, f.rate(7_000));
        assertEquals(0, f.rate(60_000));
    }

    @Test
    void aNewSecondKeepsThePreviousCountAsAFadingShare() {
        FreqCtr f = counter();
        f.add(5_100, 10);
        f.add(6_250, 4); // rotates: previous 10, current 4
        assertEquals(4 + 10 * 750 / 1000, f.rate(6_250));
        assertEquals(4 + 10 * 100 / 1000, f.rate(6_900));
        assertEquals(4 * 500 / 1000, f.rate(7_500));
        f.add(7_600, 1); // rotates again: previous 4
        assertEquals(1 + 4 * 400 / 1000, f.rate(7_600));
    }

    @Test
    void aGapOfMoreThanASecondForgetsTheOldCounts() {
        FreqCtr f = counter();
        f.add(5_100, 10);
        f.add(7_000, 3); // second 5 is two behind: no previous share
        assertEquals(3, f.rate(7_000));
        assertEquals(3, f.rate(7_999));
    }

    @Test
    void aSteadyRateReadsAsThatRate() {
        FreqCtr f = counter();
        long t = 100_000;
        for (int i = 0; i < 5_000; i++, t += 2) f.add(t, 1); // 500 a second for 10 s
        assertEquals(500, f.rate(t), 2);
    }

    @Test
    void negativeClockValuesWork() {
        FreqCtr f = counter();
        f.add(-1_500, 8); // second -2
        assertEquals(8, f.rate(-1_001));
        assertEquals(4, f.rate(-500)); // second -1, half of it left
        assertEquals(0, f.rate(0));
    }

    @Test
    void readerFormulaMatchesHaproxysDefinition() {
        // rate = cur + prev * (1 - elapsed/period)
        assertEquals(100 + 300 * 250 / 1000, FreqCtr.rateOf(9, 100, 300, 9_750));
        assertEquals(100 * 250 / 1000, FreqCtr.rateOf(9, 100, 300, 10_750));
        // a reader whose clock is still in the second before the writer's reads it at its start
        assertEquals(100 + 300, FreqCtr.rateOf(9, 100, 300, 8_990));
        assertEquals(0, FreqCtr.rateOf(9, 100, 300, 11_000));
        // a terabit a second (1.25e11 bytes) does not overflow
        assertEquals(125_000_000_000L + 125_000_000_000L / 2, FreqCtr.rateOf(1, 125_000_000_000L, 125_000_000_000L, 1_500));
    }

    @Test
    void theProcessRateIsTheSumOfTheLoops() {
        StatsRegistry reg = new StatsRegistry(List.of("fe"), Map.of());
        LoopCounters a = reg.newLoop(), b = reg.newLoop();
        int row = reg.frontend("fe").index();
        a.rate(row, ProxyRate.RATE).add(2_000, 7);
        b.rate(row, ProxyRate.RATE).add(2_500, 5);
        a.rate(ProcessRate.BYTES_OUT_RATE).add(2_100, 1_000);
        assertEquals(12, reg.rate(row, ProxyRate.RATE, 2_600));
        assertEquals(7 * 500 / 1000 + 5 * 500 / 1000, reg.rate(row, ProxyRate.RATE, 3_500)); // each loop rounds down
        assertEquals(1_000, reg.rate(ProcessRate.BYTES_OUT_RATE, 2_999));
        assertEquals(0, reg.rate(ProcessRate.CONN_RATE, 2_999));
    }

    /**
     * A reader racing the owning loop never mixes two seconds. The writer counts 100 events per
     * millisecond of its clock (100,000 a second), so any consistent read after the first second
     * is about 100,000 (plus 100 per millisecond the reader's clock lags the writer's); a read
     * that took the new second with the old current count (not yet reset) and the new previous
     * count would show close to 200,000 right after a rotation. Racy by nature: it can
     * only catch a torn rotation when the timing hits one (about 200 rotations per run).
     */
    @Test
    void aReaderRacingRotationsSeesConsistentSeconds() throws Exception {
        FreqCtr f = counter();
        long[] clock = {0};
        Thread writer = new Thread(() -> {
            for (long t = 0; t < 20_000_000; t++) {
                f.add(t / 100, 1);
                java.lang.invoke.VarHandle.releaseFence();
                clock[0] = t / 100;
            }
        });
        writer.start();
        long worst = 0;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (writer.isAlive() && System.nanoTime() < deadline) {
            java.lang.invoke.VarHandle.acquireFence();
            long now = clock[0];
            long r = f.rate(now);
            java.lang.invoke.VarHandle.acquireFence();
            // the simulated clock runs about a millisecond per microsecond: keep reads that
            // took under 5 of its milliseconds, whose clock is the writer's
            if (now < 1_000 || clock[0] - now > 5) continue;
            worst = Math.max(worst, r);
        }
        writer.join();
        org.junit.jupiter.api.Assertions.assertTrue(worst <= 150_000, "rate read " + worst);
    }
}
