package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Drained;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 7.3: HAProxy's connect retries. After a refused connect the same server is tried again
 * after min(timeout connect, 1 s) (the "turn-around"), so a server that is restarting gets the
 * time to come back; 'option redispatch' moves to another server on the last retry (or every
 * P-th); a client aimed at a dead server costs a connect per turn-around, not a burst.
 */
class ConnectRetryTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static String listen(String settings, String servers) {
        return Peers.defaults("20s", settings.split("\n")) + "listen l\n    bind 127.0.0.1:0\n" + servers;
    }

    /** One server at {@code port}, with the given settings. */
    private static String listenOne(String settings, int port) {
        return listen(settings, "    server s 127.0.0.1:" + port + "\n");
    }

    /** The server starts listening 300 ms after the client arrives; retries 3: the client is served. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverThatComesBackIsWaitedFor() throws Exception {
        int port = Peers.deadPort();
        Fw fw = Peers.startText(cleanup, listenOne("retries 3\ntimeout connect 5s", port));
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("ping".getBytes());
        Thread.sleep(300);
        ServerSocket late = cleanup.add(new ServerSocket());
        late.setReuseAddress(true);
        late.bind(new InetSocketAddress(Peers.LOOPBACK, port), 10);
        try (Socket s = late.accept()) {
            s.setSoTimeout(10_000);
            assertArrayEquals("ping".getBytes(), Peers.readExactly(s.getInputStream(), 4));
            s.getOutputStream().write("pong".getBytes());
            assertArrayEquals("pong".getBytes(), Peers.readExactly(c.getInputStream(), 4));
        }
        StatsSnapshot st = fw.stats();
        assertEquals(1, st.connectFailures(), "one refusal, then the retry after the turn-around succeeds\n" + st.render());
    }

    /** retries 50 against a dead server: one attempt per turn-around (200 ms here), not 51 at once. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void deadServerIsRetriedAtTheTurnAroundPace() throws Exception {
        int port = Peers.deadPort();
        Fw fw = Peers.startText(cleanup, listenOne("retries 50\ntimeout connect 200ms", port));
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("ping".getBytes());
        Thread.sleep(1_000);
        long failures = fw.stats().connectFailures();
        // 1 s at one attempt per 200 ms is 6 attempts; a burst would be all 51 in a few ms
        assertTrue(failures >= 2 && failures <= 8, failures + " connect attempts in 1 s\n" + fw.stats().render());
        long cpu0 = fw.fw.pollerCpuNanos();
        Thread.sleep(1_000);
        long cpuMs = (fw.fw.pollerCpuNanos() - cpu0) / 1_000_000;
        assertTrue(cpuMs < 100, "waiting to retry a dead server took " + cpuMs + " ms of loop CPU in 1 s");
    }

    /**
     * A connect that fails at once (a local error of connect() itself, here ENETUNREACH from the
     * syscall double) is retried at once, as in HAProxy: the turn-around is for a server that
     * answered "no". Three such failures, then the real connect: served well before even one
     * turn-around (1 s here) could have passed.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void synchronousConnectErrorsAreRetriedAtOnce() throws Exception {
        TestServer alive = cleanup.add(new TestServer("alive", 50, Peers.taggedEcho("alive")));
        org.forwarder.it.FaultySyscalls sys = new org.forwarder.it.FaultySyscalls();
        Fw fw = Peers.startText(cleanup, listenOne("retries 3\ntimeout connect 5s", alive.port()), sys);
        sys.failConnects(org.forwarder.sys.Errno.ENETUNREACH, 3);
        Socket c = Peers.connect(cleanup, fw.port);
        c.setSoTimeout(900);
        assertEquals("alive", Peers.readLine(c.getInputStream()), "served after 3 failures retried at once");
        assertEquals(3, fw.stats().connectFailures(), fw.stats().render());
    }

    /**
     * A client that leaves (FIN, nothing to send) while its stream retries a dead server gets no
     * more connects: HAProxy stops too. Without that, retries 50 would go on for 10 s here.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientThatLeavesStopsTheRetries() throws Exception {
        int port = Peers.deadPort();
        Fw fw = Peers.startText(cleanup, listenOne("retries 50\ntimeout connect 200ms", port));
        Socket c = Peers.connect(cleanup, fw.port);
        Thread.sleep(300);
        c.close();
        Peers.waitUntil("the stream ends with its client", Duration.ofSeconds(5), () -> fw.stats().active() == 0,
                () -> fw.stats().render());
        long failures = fw.stats().connectFailures();
        Thread.sleep(500);
        assertEquals(failures, fw.stats().connectFailures(), "no connect after the client left\n" + fw.stats().render());
        assertTrue(failures <= 4, failures + " connects for a client that stayed 300 ms\n" + fw.stats().render());
    }

    /**
     * option redispatch: the first server is dead; the same server is retried, and the last retry
     * goes to the other server, which serves the client. leastconn, so that the pick is
     * deterministic (the first server first) and the turn-around applies to every retry.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void redispatchMovesToAnotherServerOnTheLastRetry() throws Exception {
        int dead = Peers.deadPort();
        TestServer alive = cleanup.add(new TestServer("alive", 50, Peers.taggedEcho("alive")));
        Fw fw = Peers.startText(cleanup, listen("retries 3\ntimeout connect 100ms\nbalance leastconn\noption redispatch",
                "    server dead 127.0.0.1:" + dead + "\n    server alive 127.0.0.1:" + alive.port() + "\n"));
        Socket c = Peers.connect(cleanup, fw.port);
        assertEquals("alive", Peers.readLine(c.getInputStream()));
        assertArrayEquals("x".getBytes(), Peers.exchange(c, "x".getBytes()));
        StatsSnapshot st = fw.stats();
        assertEquals(3, st.connectFailures(), "the attempt and 2 retries on the dead server, then the last retry elsewhere\n" + st.render());
        assertEquals(3, st.connectRetries(), st.render());
    }

    /** Without option redispatch the client stays with its (dead) server, as in HAProxy. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void withoutRedispatchTheSameServerIsRetried() throws Exception {
        int dead = Peers.deadPort();
        TestServer alive = cleanup.add(new TestServer("alive", 50, Peers.taggedEcho("alive")));
        Fw fw = Peers.startText(cleanup, listen("retries 3\ntimeout connect 100ms\nbalance leastconn",
                "    server dead 127.0.0.1:" + dead + "\n    server alive 127.0.0.1:" + alive.port() + "\n"));
        Socket c = Peers.connect(cleanup, fw.port);
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(10));
        assertEquals(0, end.bytes(), "the client must not reach the other server");
        assertTrue(end.end() == End.EOF || end.end() == End.RESET, "closed, not " + end.end());
        assertEquals(4, fw.stats().connectFailures(), fw.stats().render());
        assertEquals(0, alive.accepted.get(), "no connection may go to the other server");
    }

    /**
     * A client that resets while its connect hangs (the server drops SYNs: full accept queue)
     * ends the stream at once, not at 'timeout connect' (found in review; HAProxy drops it too).
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientResetWhileConnectingEndsTheStream() throws Exception {
        ServerSocket silent = cleanup.add(new ServerSocket());
        silent.bind(new InetSocketAddress(Peers.LOOPBACK, 0), 1); // never accepts
        Socket filler = Peers.connect(cleanup, silent.getLocalPort());
        Socket filler2 = new Socket();
        cleanup.add(filler2);
        try {
            filler2.connect(new InetSocketAddress(Peers.LOOPBACK, silent.getLocalPort()), 300);
        } catch (java.io.IOException expected) {
            // the queue may already be full
        }
        Fw fw = Peers.startText(cleanup, listenOne("retries 0\ntimeout connect 20s", silent.getLocalPort()));
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("the connect is under way", Duration.ofSeconds(5), () -> fw.stats().accepted() == 1);
        Thread.sleep(300);
        assertEquals(1, fw.stats().active(), "the connect must still hang\n" + fw.stats().render());
        Peers.reset(c);
        Peers.waitUntil("the stream ends with its client", Duration.ofSeconds(5), () -> fw.stats().active() == 0,
                () -> fw.stats().render());
        assertEquals(1, fw.stats().aborts(), fw.stats().render());
        assertTrue(filler.isConnected());
    }

    /** Round-robin with two servers and option redispatch: HAProxy moves at once on every retry. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void roundRobinRedispatchesAtOnce() throws Exception {
        int dead = Peers.deadPort();
        TestServer alive = cleanup.add(new TestServer("alive", 50, Peers.taggedEcho("alive")));
        // a turn-around would cost 1 s (min(timeout connect, 1 s)) per retry: 800 ms only fits the at-once path
        Fw fw = Peers.startText(cleanup, listen("retries 3\ntimeout connect 5s\noption redispatch",
                "    server dead 127.0.0.1:" + dead + "\n    server alive 127.0.0.1:" + alive.port() + "\n"));
        for (int i = 0; i < 4; i++) {
            Socket c = Peers.connect(cleanup, fw.port);
            c.setSoTimeout(800);
            assertEquals("alive", Peers.readLine(c.getInputStream()), "client " + i);
        }
        assertTrue(fw.stats().connectFailures() >= 1, fw.stats().render());
    }
}
