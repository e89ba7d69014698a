package org.forwarder.stats;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The average over the last 1024 samples (HAProxy's swrate), per loop and mixed over loops. */
class SwRateTest {
    private final StatsRegistry reg = new StatsRegistry(List.of(), Map.of("be", List.of("s1")));
    private final StatsRegistry.Row be = reg.backend("be");

    @Test
    void fewerSamplesThanTheWindowAverageExactly() {
        LoopCounters l = reg.newLoop();
        SwRate w = l.average(be.index(), ProxyAverage.CTIME);
        assertEquals(0, reg.average(be, ProxyAverage.CTIME));
        for (int v = 1; v <= 10; v++) w.add(v);
        assertEquals(55 / 10, reg.average(be, ProxyAverage.CTIME));
        assertEquals(10, w.samples());
        assertEquals(55, w.sum());
        assertEquals(0, reg.average(be, ProxyAverage.TTIME)); // the others untouched
    }

    @Test
    void aFullWindowForgetsOneWindowthPerSample() {
        long sum = 0;
        for (int n = 0; n < SwRate.WINDOW; n++) sum = SwRate.next(sum, n, 100);
        assertEquals(102_400, sum);
        // a constant keeps its average
        assertEquals(102_400, SwRate.next(sum, SwRate.WINDOW, 100));
        // sum - sum/1024 + v, as HAProxy's swrate_add
        assertEquals(102_400 - 100 + 1_124, SwRate.next(sum, SwRate.WINDOW, 1_124));
        // a new level is reached gradually: after 1024 samples of 200, about 1 - 1/e of the way
        long s = sum;
        for (int n = 0; n < SwRate.WINDOW; n++) s = SwRate.next(s, SwRate.WINDOW + n, 200);
        long avg = SwRate.average(s, SwRate.WINDOW);
        assertEquals(163, avg, 1);
    }

    @Test
    void loopsMixWeightedByTheirWindows() {
        LoopCounters a = reg.newLoop(), b = reg.newLoop();
        for (int i = 0; i < 3; i++) a.average(be.index(), ProxyAverage.QTIME).add(10);
        for (int i = 0; i < 5_000; i++) b.average(be.index(), ProxyAverage.QTIME).add(100);
        // (30 + 102,400) / (3 + 1024): a's 3 samples weigh 3, b's last 1024 weigh 1024
        assertEquals((30 + 102_400) / (3 + 1_024), reg.average(be, ProxyAverage.QTIME));
        assertEquals((30 + 102_400) / (3 + 1_024), reg.snapshot().average(be, ProxyAverage.QTIME));
    }

    @Test
    void maximaRiseOnlyAndShowInTheSnapshot() {
        SharedMax m = reg.max(be.index(), ProxyMax.QMAX);
        m.update(3);
        m.update(2);
        assertEquals(3, m.get());
        assertEquals(3, reg.snapshot().max(be, ProxyMax.QMAX));
        assertEquals(0, reg.snapshot().max(be, ProxyMax.SMAX));
        reg.max(ProcessRate.CONN_RATE).update(42);
        assertEquals(42, reg.snapshot().max(ProcessRate.CONN_RATE));
    }
}
