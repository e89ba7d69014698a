package org.forwarder.stats;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The registry alone: layout, sums over loops, and reads from other threads while loops write. */
class StatsRegistryTest {
    private static StatsRegistry registry() {
        Map<String, List<String>> backends = new LinkedHashMap<>();
        backends.put("b1", List.of("s1", "s2"));
        backends.put("b2", List.of("s1"));
        return new StatsRegistry(List.of("fa", "fb"), backends);
    }

    private static CounterBlock<ProxyCounter> block(LoopCounters l, StatsRegistry.Row row) {
        return switch (row.type()) {
            case FRONTEND -> l.frontend(row.proxy());
            case BACKEND -> l.backend(row.proxy());
            case SERVER -> l.server(row.proxy(), row.server());
        };
    }

    /** A distinct value per slot, so any two blocks that overlapped would show it. */
    private static long tag(int row, int counter) {
        return 1_000L * (row + 2) + counter;
    }

    @Test
    void everyObjectHasItsOwnFigures() {
        StatsRegistry reg = registry();
        assertEquals(List.of("fa", "fb", "b1", "b1/s1", "b1/s2", "b2", "b2/s1"),
                reg.rows().stream().map(StatsRegistry.Row::name).toList());
        LoopCounters loop = reg.newLoop();
        for (ProcessCounter c : ProcessCounter.values()) loop.process().add(c, tag(-1, c.ordinal()));
        for (StatsRegistry.Row row : reg.rows()) {
            for (ProxyCounter c : ProxyCounter.values()) block(loop, row).add(c, tag(row.index(), c.ordinal()));
        }
        StatsSnapshot snap = reg.snapshot();
        for (ProcessCounter c : ProcessCounter.values()) {
            assertEquals(tag(-1, c.ordinal()), reg.get(c), c.name());
            assertEquals(tag(-1, c.ordinal()), snap.get(c), c.name());
        }
        for (StatsRegistry.Row row : reg.rows()) {
            for (ProxyCounter c : ProxyCounter.values()) {
                assertEquals(tag(row.index(), c.ordinal()), reg.get(row, c), row.name() + " " + c);
                assertEquals(tag(row.index(), c.ordinal()), snap.get(row, c), row.name() + " " + c);
            }
        }
        assertEquals(tag(reg.server("b2", "s1").index(), ProxyCounter.ECON.ordinal()), snap.server("b2", "s1", ProxyCounter.ECON));
        assertEquals(tag(reg.frontend("fb").index(), ProxyCounter.BIN.ordinal()), snap.frontend("fb", ProxyCounter.BIN));
        assertEquals(tag(reg.backend("b1").index(), ProxyCounter.QCUR.ordinal()), snap.backend("b1", ProxyCounter.QCUR));
    }

    @Test
    void figuresAreSummedOverLoops() {
        StatsRegistry reg = registry();
        LoopCounters a = reg.newLoop();
        StatsSnapshot before = reg.snapshot();
        a.process().add(ProcessCounter.CUM_CONNS, 3);
        a.server("b1", "s2").add(ProxyCounter.BIN, 1000);
        LoopCounters b = reg.newLoop();
        b.process().add(ProcessCounter.CUM_CONNS, 4);
        b.server("b1", "s2").add(ProxyCounter.BIN, 24);
        // a gauge of a shared object: raised on one loop, lowered on another
        a.backend("b1").add(ProxyCounter.QCUR, 1);
        a.backend("b1").add(ProxyCounter.QCUR, 1);
        b.backend("b1").add(ProxyCounter.QCUR, -1);
        // a loop's own gauge: set, not added
        a.process().set(ProcessCounter.PIPES_USED, 5);
        b.process().set(ProcessCounter.PIPES_USED, 2);

        assertEquals(2, reg.loopCount());
        assertEquals(7, reg.get(ProcessCounter.CUM_CONNS));
        assertEquals(1024, reg.get(reg.server("b1", "s2"), ProxyCounter.BIN));
        assertEquals(0, reg.get(reg.server("b1", "s1"), ProxyCounter.BIN), "another server of the same backend");
        assertEquals(0, reg.get(reg.server("b2", "s1"), ProxyCounter.BIN), "a server of the same name elsewhere");
        assertEquals(1, reg.get(reg.backend("b1"), ProxyCounter.QCUR));
        assertEquals(-1, b.backend("b1").get(ProxyCounter.QCUR), "one loop's share may be negative");
        assertEquals(7, reg.get(ProcessCounter.PIPES_USED));
        StatsSnapshot snap = reg.snapshot();
        assertEquals(7, snap.accepted());
        assertEquals(7, snap.pipesInUse());
        assertEquals(1024, snap.server("b1", "s2", ProxyCounter.BIN));
        assertEquals(0, before.accepted(), "a snapshot is a copy");
    }

    @Test
    void clearAllStartsRowCountersAfreshAndLeavesGaugesAndProcessTotals() {
        StatsRegistry reg = registry();
        LoopCounters l1 = reg.newLoop(), l2 = reg.newLoop();
        StatsRegistry.Row b1 = reg.backend("b1");
        for (LoopCounters l : List.of(l1, l2)) {
            l.backend("b1").add(ProxyCounter.STOT, 7);
            l.backend("b1").add(ProxyCounter.BIN, 1000);
            l.backend("b1").add(ProxyCounter.SCUR, 2);
            l.process().add(ProcessCounter.CUM_CONNS, 5);
            l.process().add(ProcessCounter.POLL_PASSES, 40);
            l.process().set(ProcessCounter.BUFFERS_USED, 3);
        }
        reg.clearAll();
        StatsSnapshot snap = reg.snapshot();
        assertEquals(0, reg.get(b1, ProxyCounter.STOT));
        assertEquals(0, snap.get(b1, ProxyCounter.BIN));
        assertEquals(4, snap.get(b1, ProxyCounter.SCUR), "a gauge is a level now: never cleared");
        assertEquals(10, reg.get(ProcessCounter.CUM_CONNS), "process totals are never cleared (HAProxy's CumConns)");
        assertEquals(10, snap.accepted());
        assertArrayEquals(new long[] {0, 0}, reg.perLoop(ProcessCounter.POLL_PASSES));
        assertArrayEquals(new long[] {0, 0}, reg.perLoop(ProcessCounter.CUM_CONNS));
        assertArrayEquals(new long[] {3, 3}, reg.perLoop(ProcessCounter.BUFFERS_USED));
        l2.backend("b1").add(ProxyCounter.BIN, 123);
        l1.backend("b1").inc(ProxyCounter.STOT);
        l1.process().add(ProcessCounter.POLL_PASSES, 2);
        assertEquals(123, reg.snapshot().get(b1, ProxyCounter.BIN), "exactly what came after the clear");
        assertEquals(1, reg.get(b1, ProxyCounter.STOT));
        assertArrayEquals(new long[] {2, 0}, reg.perLoop(ProcessCounter.POLL_PASSES));
        reg.clearMaxima(); // a later plain clear keeps the rows' baseline
        assertEquals(123, reg.get(b1, ProxyCounter.BIN));
        assertArrayEquals(new long[] {0, 0}, reg.perLoop(ProcessCounter.POLL_PASSES));
    }

    @Test
    void clearMaximaResetsMaximaAndLoopActivityOnly() {
        StatsRegistry reg = registry();
        LoopCounters l = reg.newLoop();
        StatsRegistry.Row fa = reg.frontend("fa");
        l.frontend("fa").add(ProxyCounter.STOT, 9);
        l.process().add(ProcessCounter.RECV_CALLS, 30);
        reg.max(fa.index(), ProxyMax.SMAX).update(6);
        reg.max(reg.backend("b1").index(), ProxyMax.QMAX).update(2);
        reg.max(ProcessRate.CONN_RATE).update(50);
        reg.clearMaxima();
        StatsSnapshot snap = reg.snapshot();
        assertEquals(0, snap.max(fa, ProxyMax.SMAX));
        assertEquals(0, snap.max(reg.backend("b1"), ProxyMax.QMAX));
        assertEquals(0, snap.max(ProcessRate.CONN_RATE));
        assertEquals(9, snap.get(fa, ProxyCounter.STOT), "totals stay");
        assertEquals(30, reg.get(ProcessCounter.RECV_CALLS));
        assertArrayEquals(new long[] {0}, reg.perLoop(ProcessCounter.RECV_CALLS));
        reg.max(fa.index(), ProxyMax.SMAX).update(1);
        assertEquals(1, reg.snapshot().max(fa, ProxyMax.SMAX), "maxima rise again from 0");
    }

    @Test
    void clearAllRestartsAveragesFromTheNextSample() {
        StatsRegistry reg = registry();
        LoopCounters l = reg.newLoop();
        StatsRegistry.Row s1 = reg.server("b1", "s1");
        for (int i = 0; i < 10; i++) l.average(s1.index(), ProxyAverage.TTIME).add(1000);
        assertEquals(1000, reg.average(s1, ProxyAverage.TTIME));
        reg.clearAll();
        assertEquals(0, reg.snapshot().average(s1, ProxyAverage.TTIME), "no sample since the clear");
        for (int i = 0; i < 4; i++) l.average(s1.index(), ProxyAverage.TTIME).add(10 * (i + 1));
        assertEquals(25, reg.average(s1, ProxyAverage.TTIME), "the average of the samples since the clear alone");
        // past a full window the old sum has faded: the average is that of the new samples, to within rounding
        StatsRegistry reg2 = registry();
        LoopCounters m = reg2.newLoop();
        for (int i = 0; i < 3000; i++) m.average(s1.index(), ProxyAverage.QTIME).add(500);
        reg2.clearAll();
        for (int i = 0; i < 2000; i++) m.average(s1.index(), ProxyAverage.QTIME).add(20);
        long avg = reg2.average(s1, ProxyAverage.QTIME);
        assertTrue(avg >= 18 && avg <= 22, "average " + avg);
    }

    @Test
    void unknownAndDuplicateNamesAreErrors() {
        StatsRegistry reg = registry();
        LoopCounters l = reg.newLoop();
        assertThrows(IllegalArgumentException.class, () -> l.frontend("b1"));
        assertThrows(IllegalArgumentException.class, () -> l.server("b2", "s2"));
        assertThrows(IllegalArgumentException.class, () -> reg.backend("fa"));
        assertThrows(IllegalArgumentException.class, () -> new StatsRegistry(List.of("x", "x"), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new StatsRegistry(List.of(), Map.of("b", List.of("s", "s"))));
    }

    /**
     * Two loops write on their own threads; another thread reads meanwhile. Each step adds 2^32 + 1,
     * so a value's two 32-bit halves are equal unless a read mixed two writes (a torn read); every
     * read must be whole, none may go backwards, and the end must be exact (no lost update).
     */
    @Test
    @Timeout(60)
    void readersOnOtherThreadsSeeWholeValuesThatNeverGoBack() throws Exception {
        final long step = (1L << 32) + 1;
        final int steps = 20_000_000; // 2 x 20 million steps: far below 2^32, where the low half would carry over
        StatsRegistry reg = registry();
        LoopCounters[] loops = {reg.newLoop(), reg.newLoop()};
        StatsRegistry.Row srv = reg.server("b1", "s2");
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> writers = new ArrayList<>();
        for (LoopCounters l : loops) {
            CounterBlock<ProcessCounter> p = l.process();
            CounterBlock<ProxyCounter> s = l.server("b1", "s2");
            writers.add(Thread.ofPlatform().start(() -> {
                await(go);
                for (int i = 0; i < steps; i++) {
                    p.add(ProcessCounter.REQUEST_BYTES_COPIED, step);
                    s.add(ProxyCounter.BIN, step);
                    s.add(ProxyCounter.SCUR, 1);  // a gauge going up and down: 0 or 1 per loop
                    s.add(ProxyCounter.SCUR, -1);
                }
            }));
        }
        AtomicReference<String> failure = new AtomicReference<>();
        long[] reads = new long[2]; // [all reads, reads that saw a value strictly between 0 and the end]
        Thread reader = Thread.ofPlatform().start(() -> {
            await(go);
            long lastSum = 0;
            long lastRow = 0;
            long lastOwn = 0;
            long end = 2L * steps * step;
            while (failure.get() == null) {
                boolean writing = writers.stream().anyMatch(Thread::isAlive);
                long sum = reg.get(ProcessCounter.REQUEST_BYTES_COPIED);
                long row = reg.get(srv, ProxyCounter.BIN);
                long own = loops[0].process().get(ProcessCounter.REQUEST_BYTES_COPIED);
                long gauge = reg.get(srv, ProxyCounter.SCUR);
                reads[0]++;
                if (sum > 0 && sum < end) reads[1]++;
                String bad = check("sum", sum, lastSum) + check("row", row, lastRow) + check("one loop", own, lastOwn)
                        + (gauge < 0 || gauge > 2 ? "gauge out of range: " + gauge : "");
                if (!bad.isEmpty()) failure.set(bad);
                lastSum = sum;
                lastRow = row;
                lastOwn = own;
                if (!writing) break; // this read started after both writers ended: it saw the end
            }
        });
        go.countDown();
        for (Thread w : writers) assertTrue(w.join(java.time.Duration.ofSeconds(30)), "writer did not finish");
        assertTrue(reader.join(java.time.Duration.ofSeconds(30)), "reader did not finish");
        assertNull(failure.get());
        assertEquals(2L * steps * step, reg.get(ProcessCounter.REQUEST_BYTES_COPIED), "no update lost");
        assertEquals(2L * steps * step, reg.get(srv, ProxyCounter.BIN), "no update lost");
        assertEquals(0, reg.get(srv, ProxyCounter.SCUR));
        assertTrue(reads[1] > 0, "the reader never overlapped the writers: " + reads[0] + " reads");
        System.out.println("concurrent reads: " + reads[0] + ", of which " + reads[1] + " while the loops wrote");
    }

    /** A whole value has equal halves (see above) and is not below the previous read. */
    private static String check(String what, long v, long last) {
        if ((v >>> 32) != (v & 0xFFFF_FFFFL)) return what + " torn: " + Long.toHexString(v) + "; ";
        if (v < last) return what + " went back from " + Long.toHexString(last) + " to " + Long.toHexString(v) + "; ";
        return "";
    }

    private static void await(CountDownLatch l) {
        try {
            if (!l.await(10, TimeUnit.SECONDS)) throw new IllegalStateException("start signal missing");
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An update is a load and a store: nothing is allocated, whatever the number of updates. */
    @Test
    void updatesAllocateNothing() {
        StatsRegistry reg = registry();
        CounterBlock<ProxyCounter> s = reg.newLoop().server("b2", "s1");
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 200_000; i++) update(s, i); // until compiled
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 1_000_000; i++) update(s, i);
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        // one object per update would be 16 MB or more; JIT transitions (OSR, deoptimization) under
        // load have shown a kilobyte or so
        assertTrue(allocated < 64 * 1024, allocated + " bytes allocated by 1,000,000 updates");
        assertEquals(1_200_000, reg.get(reg.server("b2", "s1"), ProxyCounter.STOT));
    }

    private static void update(CounterBlock<ProxyCounter> s, int i) {
        s.inc(ProxyCounter.STOT);
        s.add(ProxyCounter.BIN, i);
        s.set(ProxyCounter.SCUR, i & 1);
        s.addRelease(ProxyCounter.QCUR, 0);
    }
}
