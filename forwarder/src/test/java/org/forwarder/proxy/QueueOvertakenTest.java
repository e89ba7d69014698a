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
 * The backend queue is meant to be FIFO ("a freed slot goes to the oldest waiter"), but
 * slotFreed() only wakes the head, whose run() comes at the end of the pass, and pick() for a
 * newly accepted stream ignores the queue. A client accepted in the same pass as the release
 * takes the slot; the queued client is put back and waits behind it (here until the newcomer
 * leaves, in general up to its queue timeout while newcomers keep overtaking it).
 */
class QueueOvertakenTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 40, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aNewcomerDoesNotTakeTheSlotFreedForTheQueueHead() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, """
                defaults
                    mode tcp
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                    timeout queue 30s
                listen q
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d maxconn 1
                """.formatted(echo.port()));
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
