package org.forwarder.config;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeapBudgetTest {
    @Test
    void theLaunchersHeapHoldsTheDefaultMaxconnWithoutAWord() {
        assertEquals(0, HeapBudget.check(GlobalConfig.DEFAULT_MAXCONN, 256L << 20).size());
        assertEquals(0, HeapBudget.check(100_000, 256L << 20).size());
    }

    @Test
    void aHeapTooSmallForMaxconnIsSaidWithTheFigureToGive() {
        var w = HeapBudget.check(200_000, 256L << 20);
        assertEquals(1, w.size());
        assertTrue(w.get(0).contains("maxconn 200000") && w.get(0).contains("-Xmx423m")
                && w.get(0).contains("FORWARDER_HEAP=423m"), w.get(0));
    }
}
