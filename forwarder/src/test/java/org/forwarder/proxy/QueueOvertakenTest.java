package org.forwarder.proxy;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.poll.Poller;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The backend queue is FIFO: a freed slot goes to the oldest waiter. Regression: slotFreed()
 * used to wake the head without taking the slot for it, and a newly accepted stream picked a
 * server without looking at the queue, so a client accepted in the same pass as the release took
 * the slot and the queued one waited behind it (up to its queue timeout while newcomers kept
 * overtaking it).
 */
class QueueOvertakenTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 40, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aNewcomerDoesNotTakeTheSlotFreedForTheQueueHead() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneSlotQueue(echo.port(), "30s", "30s"));
        Socket a = Peers.connect(cleanup, fw.port);
        assertArrayEquals("a".getBytes(), Peers.exchange(a, "a".getBytes()));
        Socket b = Peers.connect(cleanup, fw.port);
        b.getOutputStream().write("b".getBytes());
        Peers.waitUntil("b is queued", Duration.ofSeconds(5), () -> fw.stats().queuedTotal() == 1);

        // hold the loop so that a's reset and d's arrival are seen in the same pass
        Poller poller = fw.fw.call(w -> w.poller());
        CountDownLatch held = new CountDownLatch(1);
        poller.execute(() -> {
            held.countDown();
            try {
                Thread.sleep(400);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertTrue(held.await(5, TimeUnit.SECONDS));
        Peers.reset(a);                              // frees the slot for b, the oldest waiter
        Socket d = Peers.connect(cleanup, fw.port);  // a newcomer, accepted in the same pass
        Thread.sleep(600);

        b.setSoTimeout(3_000);
        try {
            assertArrayEquals("b".getBytes(), Peers.readExactly(b.getInputStream(), 1));
        } catch (SocketTimeoutException e) {
            long queued = fw.fw.call(w -> w.frontends().getFirst().backend().queued());
            fail("b, queued first, was not served after the slot freed: a newcomer took it (" + queued
                    + " stream(s) still queued, server accepted " + echo.accepted.get() + ")");
        }
        d.close();
    }
}
