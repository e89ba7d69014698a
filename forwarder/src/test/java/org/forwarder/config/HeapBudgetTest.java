package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeapBudgetTest {
    @Test
    void theLaunchersHeapHoldsTheDefaultMaxconnWithoutAWord() {
        // bin/forwarder's -Xmx256m: the serial collector reports about 247 MiB as its maximum
        assertEquals(0, HeapBudget.check(GlobalConfig.DEFAULT_MAXCONN, 247L << 20).size());
        assertEquals(0, HeapBudget.check(100_000, 247L << 20).size());
    }

    @Test
    void aHeapTooSmallForMaxconnIsSaidWithAFigureThatSilencesIt() {
        var w = HeapBudget.check(200_000, 247L << 20);
        assertEquals(1, w.size());
        Matcher m = Pattern.compile("-Xmx(\\d+)m \\(FORWARDER_HEAP=(\\d+)m").matcher(w.get(0));
        assertTrue(m.find() && m.group(1).equals(m.group(2)) && w.get(0).contains("maxconn 200000"), w.get(0));
        long advisedMiB = Long.parseLong(m.group(1));
        // what the JVM reports as its maximum for that -Xmx: about 4% less with the serial collector
        long reported = (advisedMiB << 20) * 96 / 100;
        assertEquals(0, HeapBudget.check(200_000, reported).size(), "following the advice silences the warning");
    }
}
