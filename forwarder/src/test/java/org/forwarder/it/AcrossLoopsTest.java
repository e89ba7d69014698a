package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProcessCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two event loops ({@code nbthread 2}) sharing one backend, as HAProxy's threads do: the server
 * slots and the queue, leastconn's counts, and the frontend and global maxconn are process-wide.
 * Connections land on the loops as the kernel spreads them (SO_REUSEPORT), so each test first makes
 * sure both loops got some (per-loop accept counters) rather than trusting the hash.
 */
class AcrossLoopsTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static String twoLoops(String more) {
        return "global\n    nbthread 2\n" + Peers.defaults("30s", "timeout queue 30s") + more;
    }

    /** Accepted connections of each loop. */
    private static long[] accepted(Fw fw) {
        return fw.fw.counters().perLoop(ProcessCounter.CUM_CONNS);
    }

    private static boolean bothLoopsHave(Fw fw, long atLeast) {
        long[] a = accepted(fw);
        return a.length == 2 && a[0] >= atLeast && a[1] >= atLeast;
    }

    /**
     * A server with maxconn 1; clients queue on both loops; each freed slot goes to the oldest
     * waiter, whichever loop it is on, and at once: the queue timeout (30 s) is far beyond the
     * reads' (10 s), so a slot that is not handed over fails the test.
     */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void queueIsFifoAcrossLoopsAndNoWaiterOutlivesAFreedSlot() throws Exception {
        List<Integer> order = new CopyOnWriteArrayList<>();
        TestServer srv = cleanup.add(new TestServer("one-at-a-time", 64, (s, i) -> {
            InputStream in = s.getInputStream();
            int id = in.read();
            order.add(id);
            s.getOutputStream().write(id);
            in.read(); // held until the client closes
        }));
        Fw fw = Peers.startText(cleanup, twoLoops("""
                listen q
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d maxconn 1
                """.formatted(srv.port())));
        assertEquals(2, fw.fw.loops());
        Socket holder = Peers.connect(cleanup, fw.port);
        holder.getOutputStream().write(0);
        assertEquals(0, holder.getInputStream().read());

        List<Socket> waiting = new ArrayList<>();
        for (int id = 1; id <= 40 && (waiting.size() < 6 || !bothLoopsHave(fw, 3)); id++) {
            Socket c = Peers.connect(cleanup, fw.port);
            c.setSoTimeout(10_000);
            c.getOutputStream().write(id); // not read before its stream has a server
            waiting.add(c);
            int queued = id;
            Peers.waitUntil("client " + id + " is queued", Duration.ofSeconds(5),
                    () -> fw.fw.proxies().backend("q").queued() == queued);
        }
        assertTrue(bothLoopsHave(fw, 3), "clients landed on both loops: " + Arrays.toString(accepted(fw)));

        holder.close();
        for (int k = 0; k < waiting.size(); k++) {
            Socket c = waiting.get(k);
            assertEquals(k + 1, c.getInputStream().read(), "client " + (k + 1) + " is served in its turn");
            c.close(); // frees the slot for the next, which may live on the other loop
        }
        List<Integer> expected = new ArrayList<>();
        for (int id = 0; id <= waiting.size(); id++) expected.add(id);
        assertEquals(expected, order, "the server saw the clients in arrival order");
        fw.awaitIdle(Duration.ofSeconds(10));
        assertEquals(0, fw.fw.proxies().backend("q").queued());
        assertEquals(0, fw.fw.proxies().backend("q").servers()[0].current());
        assertEquals(0, fw.stats().backend("q", org.forwarder.stats.ProxyCounter.QCUR), fw.stats().render());
    }

    /** frontend maxconn 3 holds for the process: 10 clients over two loops, never more than 3 streams. */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void frontendMaxconnHoldsAcrossLoops() throws Exception {
        limitHoldsAcrossLoops("", "    maxconn 3\n");
    }

    /** The same with the global maxconn. */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void globalMaxconnHoldsAcrossLoops() throws Exception {
        limitHoldsAcrossLoops("    maxconn 3\n", "");
    }

    private void limitHoldsAcrossLoops(String global, String frontend) throws Exception {
        AtomicInteger open = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        TestServer srv = cleanup.add(new TestServer("counting", 64, (s, i) -> {
            int now = open.incrementAndGet();
            peak.accumulateAndGet(now, Math::max);
            try {
                Peers.ECHO.serve(s, i);
            } finally {
                open.decrementAndGet();
            }
        }));
        String text = "global\n    nbthread 2\n" + global + Peers.defaults("30s") + """
                listen l
                    bind 127.0.0.1:0
                %s    server s1 127.0.0.1:%d
                """.formatted(frontend, srv.port());
        Fw fw = Peers.startText(cleanup, text);
        for (int round = 0; round < 4 && !bothLoopsHave(fw, 4); round++) {
            List<Socket> clients = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                Socket c = new Socket();
                cleanup.add(c);
                c.connect(new InetSocketAddress(Peers.LOOPBACK, fw.port), 5_000); // completes in the kernel's backlog
                c.setSoTimeout(10_000);
                clients.add(c);
            }
            Peers.waitUntil("3 streams open", Duration.ofSeconds(10), () -> open.get() == 3);
            Thread.sleep(200); // room for a fourth, were the limit per loop
            assertEquals(3, open.get(), "streams open with 10 clients waiting");
            assertEquals(3, fw.stats().active(), fw.stats().render());
            // each is served once others leave; which ones wait depends on the loop they landed
            // on (each loop's socket has its own backlog), so every client runs on its own
            AtomicInteger failed = new AtomicInteger();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> fs = new ArrayList<>();
                for (Socket c : clients) {
                    fs.add(pool.submit(() -> {
                        try (c) {
                            if (!Arrays.equals("x".getBytes(), Peers.exchange(c, "x".getBytes()))) failed.incrementAndGet();
                            Thread.sleep(20);
                        } catch (IOException e) {
                            failed.incrementAndGet();
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) f.get(30, TimeUnit.SECONDS);
            }
            assertEquals(0, failed.get(), "every client was served");
            fw.awaitIdle(Duration.ofSeconds(10));
        }
        assertTrue(bothLoopsHave(fw, 4), "both loops accepted: " + Arrays.toString(accepted(fw)));
        assertEquals(3, peak.get(), "never more than maxconn streams at once");
    }

    /**
     * leastconn counts connections of the whole process: 8 clients held over both loops split
     * 4/4; when the 4 on server a leave, the next 4 all go to a (4 on b is more than any count a
     * reaches), whichever loop they land on. Counts kept per loop would send some to b: a loop
     * whose own b streams are fewer than its new a streams sees b as less loaded.
     */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void leastconnCountsTheWholeProcess() throws Exception {
        TestServer a = cleanup.add(new TestServer("a", 64, Peers.taggedEcho("a")));
        TestServer b = cleanup.add(new TestServer("b", 64, Peers.taggedEcho("b")));
        Fw fw = Peers.startText(cleanup, twoLoops("""
                listen l
                    bind 127.0.0.1:0
                    balance leastconn
                    server a 127.0.0.1:%d
                    server b 127.0.0.1:%d
                """.formatted(a.port(), b.port())));
        List<Socket> onA = new ArrayList<>();
        int onB = 0;
        for (int i = 0; i < 8; i++) {
            Socket c = Peers.connect(cleanup, fw.port);
            if (Peers.readLine(c.getInputStream()).equals("a")) onA.add(c);
            else onB++;
            assertTrue(Math.abs(onA.size() - onB) <= 1, "after " + (i + 1) + " clients: a " + onA.size() + ", b " + onB);
        }
        assertEquals(4, onA.size());
        for (Socket c : onA) c.close();
        org.forwarder.proxy.Server serverA = fw.fw.proxies().backend("l").servers()[0];
        Peers.waitUntil("server a has no stream", Duration.ofSeconds(10), () -> serverA.current() == 0);
        for (int i = 0; i < 4; i++) {
            Socket c = Peers.connect(cleanup, fw.port);
            assertEquals("a", Peers.readLine(c.getInputStream()), "new client " + (i + 1)
                    + " goes to the least loaded server (loops accepted " + Arrays.toString(accepted(fw)) + ")");
        }
        assertTrue(bothLoopsHave(fw, 2), "both loops accepted: " + Arrays.toString(accepted(fw)));
    }

    /**
     * 50 clients connecting over and over (2,000 connections, each one exchange): the kernel
     * spreads them over the loops' sockets, busiest within 20% of idlest. Not a timing: the
     * counts depend only on the hash of the clients' ports.
     */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void newConnectionsSpreadEvenlyOverTheLoops() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 1024, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, twoLoops("""
                listen l
                    bind 127.0.0.1:0
                    server s 127.0.0.1:%d
                """.formatted(echo.port())));
        int perClient = 40;
        AtomicInteger failures = new AtomicInteger();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> fs = new ArrayList<>();
            for (int c = 0; c < 50; c++) {
                fs.add(pool.submit(() -> {
                    for (int k = 0; k < perClient; k++) {
                        try (Socket s = new Socket()) {
                            s.connect(new InetSocketAddress(Peers.LOOPBACK, fw.port), 5_000);
                            s.setSoTimeout(10_000);
                            if (!Arrays.equals("ping".getBytes(), Peers.exchange(s, "ping".getBytes()))) failures.incrementAndGet();
                        } catch (IOException e) {
                            failures.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get(100, TimeUnit.SECONDS);
        }
        assertEquals(0, failures.get());
        fw.awaitIdle(Duration.ofSeconds(10));
        long[] a = accepted(fw);
        assertEquals(2000, a[0] + a[1]);
        long busiest = Math.max(a[0], a[1]);
        long idlest = Math.min(a[0], a[1]);
        assertTrue(busiest <= idlest * 1.2, "loops accepted " + Arrays.toString(a));
    }

    /** A stop with streams open on every loop closes them all and every fd, on every loop. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void stopClosesStreamsOnEveryLoop() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 256, Peers.ECHO));
        Peers.warmUpJdkIo();
        Map<String, Integer> before = Peers.fdKinds();
        Fw fw = Peers.startText(cleanup, twoLoops("""
                listen l
                    bind 127.0.0.1:0
                    server s 127.0.0.1:%d
                """.formatted(echo.port())));
        List<Socket> clients = new ArrayList<>();
        for (int i = 0; i < 64 && !(clients.size() >= 8 && bothOpen(fw)); i++) {
            Socket c = Peers.connect(cleanup, fw.port);
            assertArrayEquals("hi".getBytes(), Peers.exchange(c, "hi".getBytes()));
            clients.add(c);
        }
        assertTrue(bothOpen(fw), "streams open on both loops: "
                + Arrays.toString(fw.fw.counters().perLoop(ProcessCounter.CURR_CONNS)));
        fw.fw.shutdown(Duration.ZERO);
        assertFalse(fw.fw.isRunning(), "every loop's thread ended");
        for (Socket c : clients) {
            c.setSoTimeout(5_000);
            try {
                int r = c.getInputStream().read();
                assertEquals(-1, r, "a stopped stream is closed");
            } catch (java.net.SocketException reset) {
                // a reset is how an unfinished stream ends: fine
            }
            c.close();
        }
        assertEquals(0, fw.fw.proxies().current());
        assertEquals(0, fw.fw.stats().active());
        Peers.awaitFdsBackTo(before, 2, Duration.ofSeconds(5));
    }

    /**
     * The loops share their port through SO_REUSEPORT, which would also let a second process of
     * the same user join and take a share of the connections without a word. A port already
     * held fails to bind, as with one loop.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aSecondProcessOnTheSamePortFailsToBind() throws Exception {
        Fw first = Peers.startText(cleanup, twoLoops("""
                listen l
                    bind 127.0.0.1:0
                    server s 127.0.0.1:9
                """));
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> Peers.startText(cleanup, twoLoops("""
                        listen l
                            bind 127.0.0.1:%d
                            server s 127.0.0.1:9
                        """.formatted(first.port))));
        assertTrue(e.getMessage().contains("bind: EADDRINUSE"), e.getMessage());
    }

    private static boolean bothOpen(Fw fw) {
        long[] open = fw.fw.counters().perLoop(ProcessCounter.CURR_CONNS);
        return open.length == 2 && open[0] > 0 && open[1] > 0;
    }
}
