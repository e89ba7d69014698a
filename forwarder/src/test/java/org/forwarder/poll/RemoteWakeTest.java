package org.forwarder.poll;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tasks woken from other threads (a server slot handed to a stream on another loop, later):
 * every wake is followed by a run on the poller's thread, no wake is lost under contention, a
 * task waiting already is not queued twice, and waking allocates nothing.
 */
class RemoteWakeTest {
    private static final int TASKS = 64;
    private static final int PRODUCERS = 4;
    private static final int WAKES = 50_000;
    /**
     * Wakes before the measurement, enough for the JIT to compile the wake path (eventfd write
     * included): interpreted or C1-compiled downcalls may allocate a little, which once made a
     * full-suite run measure 75 KB for 50,000 wakes.
     */
    private static final int WARM_UP = 20_000;
    /** Far below one object per wake (16 bytes x 50,000 = 800 KB), above JIT and TLAB noise. */
    private static final long ALLOCATION_BOUND = 256 * 1024;

    /** Counts wakes and the wakes seen by its runs: the last run must have seen the last wake. */
    static final class Probe extends Task {
        final AtomicLong woken = new AtomicLong();
        volatile long seen;
        volatile Thread ranOn;
        long runs;

        @Override
        protected void run() {
            seen = woken.get();
            ranOn = Thread.currentThread();
            runs++;
        }

        @Override
        protected void onTimer(long nowMs) { }
    }

    @Test
    @Timeout(60)
    void everyWakeFromAnyThreadIsFollowedByARunOnThePollerThread() throws Exception {
        Poller poller = new Poller(1024);
        Thread loop = Thread.ofPlatform().name("remote-wake-poller").start(poller::run);
        try {
            Probe[] probes = new Probe[TASKS];
            for (int i = 0; i < TASKS; i++) probes[i] = new Probe();
            // warm up: the first wake of a thread sets up its syscall layer (a one-time allocation)
            List<Thread> producers = new ArrayList<>();
            long[] allocated = new long[PRODUCERS];
            for (int p = 0; p < PRODUCERS; p++) {
                int id = p;
                producers.add(Thread.ofPlatform().name("waker-" + p).start(() -> {
                    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
                    for (int i = 0; i < WARM_UP; i++) wake(poller, probes[(i + id) % TASKS]);
                    long before = mx.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < WAKES; i++) wake(poller, probes[(i * 7 + id) % TASKS]);
                    allocated[id] = mx.getCurrentThreadAllocatedBytes() - before;
                }));
            }
            for (Thread t : producers) t.join();
            long deadline = System.nanoTime() + 10_000_000_000L;
            for (Probe p : probes) {
                while (p.seen != p.woken.get() && System.nanoTime() < deadline) Thread.sleep(1);
                assertEquals(p.woken.get(), p.seen, "a wake was lost: its task never ran after it");
                assertSame(loop, p.ranOn, "tasks run on the poller's thread");
            }
            long totalRuns = 0;
            for (Probe p : probes) totalRuns += p.runs;
            long totalWakes = (long) PRODUCERS * (WAKES + WARM_UP);
            assertTrue(totalRuns <= totalWakes, totalRuns + " runs for " + totalWakes + " wakes");
            for (int p = 0; p < PRODUCERS; p++) {
                assertTrue(allocated[p] < ALLOCATION_BOUND, "waker " + p + " allocated " + allocated[p] + " bytes for " + WAKES + " wakes");
            }
        } finally {
            poller.stop();
            loop.join(5_000);
            poller.close();
        }
    }

    private static void wake(Poller poller, Probe p) {
        p.woken.incrementAndGet();
        poller.wakeFromAnyThread(p);
    }
}
