package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.proxy.Server;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Frontend maxconn, server maxconn with its queue, and a small buffer pool under that queue. */
class LimitsTest {
    private static final long MiB = 1 << 20;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void frontendMaxconnHoldsTheThirdClientBack() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.defaults("20s") + """
                listen fe
                    bind 127.0.0.1:0
                    maxconn 2
                    server s1 127.0.0.1:%d
                """.formatted(echo.port()));
        Socket a = Peers.connect(cleanup, fw.port);
        Socket b = Peers.connect(cleanup, fw.port);
        assertArrayEquals("a".getBytes(), Peers.exchange(a, "a".getBytes()));
        assertArrayEquals("b".getBytes(), Peers.exchange(b, "b".getBytes()));

        Socket c = Peers.connect(cleanup, fw.port); // the kernel completes the handshake; the forwarder must not take it
        c.getOutputStream().write("c".getBytes());
        c.setSoTimeout(700);
        assertThrows(SocketTimeoutException.class, () -> c.getInputStream().read(),
                "a third client was served while maxconn 2 streams were open");
        StatsSnapshot st = fw.stats();
        assertEquals(2, st.active(), st.render());
        assertEquals(2, st.accepted(), "the third connection must stay in the listen queue\n" + st.render());
        assertEquals(2, echo.accepted.get());

        a.close();
        c.setSoTimeout(5_000);
        assertArrayEquals("c".getBytes(), Peers.readExactly(c.getInputStream(), 1),
                "once a stream closed, the waiting client must be served");
        assertArrayEquals("b2".getBytes(), Peers.exchange(b, "b2".getBytes()));
        assertEquals(3, echo.accepted.get());
        b.close();
        c.close();
        fw.awaitIdle(Duration.ofSeconds(5));
    }

    /** A client that resets while queued leaves the queue; the one behind it is served next. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void queuedClientThatResetsLeavesTheQueue() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneSlotQueue(echo.port(), "20s", "20s"));
        Socket a = Peers.connect(cleanup, fw.port);
        assertArrayEquals("a".getBytes(), Peers.exchange(a, "a".getBytes()));
        Socket b = Peers.connect(cleanup, fw.port);
        b.getOutputStream().write("b".getBytes());
        Peers.waitUntil("b is queued", Duration.ofSeconds(5), () -> fw.stats().queuedTotal() == 1);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("c".getBytes());
        Peers.waitUntil("c is queued", Duration.ofSeconds(5), () -> fw.stats().queuedTotal() == 2);

        Peers.reset(b);
        Peers.waitUntil("b's stream is gone", Duration.ofSeconds(5), () -> fw.stats().active() == 2);
        assertEquals(1, (int) fw.fw.call(w -> w.frontends().getFirst().backend().queued()), "only c is left in the queue");

        a.close();
        c.setSoTimeout(5_000);
        assertArrayEquals("c".getBytes(), Peers.readExactly(c.getInputStream(), 1), "c must be served once a leaves");
        assertArrayEquals("c2".getBytes(), Peers.exchange(c, "c2".getBytes()));
        assertEquals(2, echo.accepted.get(), "the reset client must never reach the server");
        c.close();
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(1, st.aborts(), st.render());
        assertEquals(0, st.buffersInUse(), st.render());
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverMaxconnQueuesAndServesInTurn() throws Exception {
        queueScenario("", 3);
    }

    /** The brief's "seed 003" setting: 6 buffers of which 2 reserved, 3 clients on a 1-slot server. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverMaxconnQueueWithSmallBufferPool() throws Exception {
        queueScenario("""
                global
                    tune.buffers.limit 6
                    tune.buffers.reserve 2
                """, 3);
    }

    /**
     * The same pool with 5 clients: the 4 queued streams may take the 4 buffers outside the
     * reserve while they wait for the server slot; the connected stream must still be able to
     * finish its request, or nobody ever gets the slot.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverMaxconnQueueWithMoreWaitersThanFreeBuffers() throws Exception {
        queueScenario("""
                global
                    tune.buffers.limit 6
                    tune.buffers.reserve 2
                """, 5);
    }

    /**
     * {@code clients} clients at once through a server with maxconn 1; each sends 1 MiB and gets
     * 1 MiB (sink-and-source), checked byte by byte, the first one slowly. They must all complete within 15 s (timeouts
     * are 30 s, so a stall is not rescued by a timeout), one at a time at the server.
     */
    private void queueScenario(String global, int clients) throws Exception {
        SinkSource peers = new SinkSource(cleanup);
        Fw fw = Peers.startText(cleanup, global + Peers.oneSlotQueue(peers.port(), "30s", "30s"));
        // the first client paces its request (64 KiB every 30 ms, about 0.5 s) so that the others
        // arrive one by one, queue and read their first bytes while it still has request bytes to forward
        List<CompletableFuture<SinkSource.Transfer>> transfers = new ArrayList<>();
        for (int i = 1; i <= clients; i++) {
            long id = i;
            long pace = i == 1 ? 30 : 0;
            transfers.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return SinkSource.transfer(fw.port, id, MiB, MiB, pace);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, r -> Thread.ofVirtual().start(r)));
            if (i == 1) {
                Peers.waitUntil("the first client is connected to the server", Duration.ofSeconds(5),
                        () -> peers.server.accepted.get() == 1);
            } else {
                // one after the other into the queue, so the order of service is known
                long queued = i - 1;
                Peers.waitUntil("client " + i + " is queued", Duration.ofSeconds(5), () -> fw.stats().queuedTotal() == queued);
            }
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(transfers.toArray(CompletableFuture[]::new));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        int maxOnServer = 0;
        while (!all.isDone() && System.nanoTime() < deadline) {
            maxOnServer = Math.max(maxOnServer, fw.fw.call(w -> w.frontends().getFirst().backend().servers()[0].current()));
            Thread.sleep(5);
        }
        if (!all.isDone()) {
            StatsSnapshot st = fw.stats();
            int queued = fw.fw.call(w -> w.frontends().getFirst().backend().queued());
            Server s1 = fw.fw.call(w -> w.frontends().getFirst().backend().servers()[0]);
            long done = transfers.stream().filter(CompletableFuture::isDone).count();
            List<String> states = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                CompletableFuture<SinkSource.Transfer> t = transfers.get(i);
                states.add("client " + (i + 1) + ": " + (!t.isDone() ? "running" : t.isCompletedExceptionally()
                        ? "failed " + t.exceptionNow() : "done"));
            }
            fail("stalled: " + done + " of " + clients + " clients done after 15 s; backend queue " + queued
                    + ", server connections " + fw.fw.call(w -> s1.current()) + ", server accepted " + peers.server.accepted.get()
                    + ", buffers in use " + fw.fw.call(w -> w.buffers().inUse()) + " (failed acquisitions "
                    + fw.fw.call(w -> w.buffers().failures()) + ")\n" + states
                    + "\n" + st.render());
        }
        List<String> outcomes = new ArrayList<>();
        boolean failed = false;
        for (int i = 0; i < clients; i++) {
            try {
                transfers.get(i).get(1, TimeUnit.SECONDS);
                outcomes.add("client " + (i + 1) + ": ok");
            } catch (java.util.concurrent.ExecutionException e) {
                failed = true;
                Throwable c = e.getCause() instanceof RuntimeException r && r.getCause() != null ? r.getCause() : e.getCause();
                outcomes.add("client " + (i + 1) + ": " + c);
            }
        }
        if (failed) fail("clients failed: " + outcomes + "\n" + fw.stats().render() + "\nforwarder log: " + fw.log);
        for (CompletableFuture<SinkSource.Transfer> t : transfers) peers.check(t.get(1, TimeUnit.SECONDS));
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertTrue(maxOnServer <= 1, "the server had " + maxOnServer + " connections with maxconn 1");
        assertEquals(clients, peers.server.accepted.get(), "every client reached the server");
        List<Long> fifo = new ArrayList<>();
        for (long i = 1; i <= clients; i++) fifo.add(i);
        assertEquals(fifo, peers.order, "queued clients must reach the server in their order of arrival");
        assertEquals(clients - 1, st.queuedTotal(), "every client after the first must have queued\n" + st.render());
        assertEquals(0, st.timeouts() + st.aborts(), st.render());
        assertEquals(0, st.buffersInUse(), st.render());
    }
}
