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
 * A slot freed for the head of the queue must not be lost if that stream dies before it runs.
 * Regression: slotFreed() used to dequeue and wake the head without taking the slot for it; when
 * the woken stream's client reset in the same poller pass, nobody else was woken and the streams
 * behind it waited for the queue timeout although the server was idle.
 */
class QueueWakeLostTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 40, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void slotFreedWhileWokenStreamDiesIsGivenToTheNextInQueue() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneSlotQueue(echo.port(), "30s", "30s"));
        Socket a = Peers.connect(cleanup, fw.port);
        assertArrayEquals("a".getBytes(), Peers.exchange(a, "a".getBytes()));
        Socket b = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("b is queued", Duration.ofSeconds(5), () -> fw.stats().queuedTotal() == 1);
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("c is queued", Duration.ofSeconds(5), () -> fw.stats().queuedTotal() == 2);

        // hold the loop for a moment so that both resets are reported by the same epoll_wait
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
        Peers.reset(a); // frees the only slot: b (queue head) is dequeued and woken
        Peers.reset(b); // ...and dies before its run() takes the slot
        Thread.sleep(600);

        c.getOutputStream().write("c".getBytes());
        c.setSoTimeout(5_000);
        try {
            assertArrayEquals("c".getBytes(), Peers.readExactly(c.getInputStream(), 1));
        } catch (SocketTimeoutException e) {
            int queued = fw.fw.call(w -> w.frontends().getFirst().backend().queued());
            int onServer = fw.fw.call(w -> w.frontends().getFirst().backend().servers()[0].current());
            fail("c was never served: the server is idle (" + onServer + " connections) but c is still "
                    + "queued (" + queued + " in queue): the slot freed by a went to b, which died before using it");
        }
        c.close();
    }
}
