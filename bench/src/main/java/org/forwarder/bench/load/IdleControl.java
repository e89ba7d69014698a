package org.forwarder.bench.load;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hand-shake between the main thread and the idle drivers: each driver reports once when it has
 * finished opening (how many connections it verified, how many failed); the main thread then
 * prints READY, holds, and releases them. Separate from the drivers so the main thread never reads
 * a driver's fields while it runs.
 */
final class IdleControl {
    final CountDownLatch opened;
    final AtomicLong verified = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    volatile boolean released;

    IdleControl(int drivers) {
        opened = new CountDownLatch(drivers);
    }

    void doneOpening(long ok, long bad) {
        verified.addAndGet(ok);
        failed.addAndGet(bad);
        opened.countDown();
    }
}
