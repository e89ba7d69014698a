package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Drained;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Servers that refuse, that never answer a SYN, and that are busy (queue timeout). */
class ServerFailureTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** Nobody listens: 1 attempt + 2 retries, all refused, then the client is closed promptly. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverDownIsRetriedThenClientClosed() throws Exception {
        int dead = Peers.deadPort();
        Fw fw = Peers.startQuick(cleanup, dead, "20s", "--retries 2 --timeout-connect 2s");
        for (int round = 1; round <= 2; round++) {
            Socket c = Peers.connect(cleanup, fw.port);
            c.getOutputStream().write("hello".getBytes());
            Drained end = Peers.drainToEnd(c, Duration.ofSeconds(5));
            assertNotEquals(End.TIMEOUT, end.end(), "the client must be closed when no server can be reached");
            assertEquals(0, end.bytes(), "no byte may come from nowhere");
            assertTrue(end.ms() < 3_000, "closed after " + end.ms() + " ms: refusals need no timeout");
            StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
            assertEquals(3L * round, st.connectFailures(), "1 attempt + 2 retries per client\n" + st.render());
            assertEquals(2L * round, st.connectRetries(), st.render());
            assertEquals(round, st.closed(), st.render());
        }
    }

    /**
     * A server whose accept queue is full drops SYNs, so the forwarder's connect hangs until
     * "timeout connect": 300 ms, 1 retry, so about 600 ms before the client is closed.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void connectTimeoutOnSilentServer() throws Exception {
        ServerSocket silent = cleanup.add(new ServerSocket());
        silent.bind(new InetSocketAddress(Peers.LOOPBACK, 0), 1); // never accepts
        int port = silent.getLocalPort();
        // fill the accept queue until a connect gets no answer at all
        boolean full = false;
        for (int i = 0; i < 20 && !full; i++) {
            Socket filler = cleanup.add(new Socket());
            try {
                filler.connect(new InetSocketAddress(Peers.LOOPBACK, port), 300);
            } catch (SocketTimeoutException e) {
                full = true;
            }
        }
        Assumptions.assumeTrue(full, "this kernel answers SYNs on a full accept queue: cannot make a silent server");
        // and it stays silent
        try (Socket probe = new Socket()) {
            assertThrowsTimeout(probe, port);
        }

        Fw fw = Peers.startQuick(cleanup, port, "20s", "--retries 1 --timeout-connect 300ms");
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("hello".getBytes());
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(8));
        assertNotEquals(End.TIMEOUT, end.end(), "the client must be closed once every attempt timed out");
        assertTrue(end.ms() >= 500, "closed after " + end.ms() + " ms, before 2 connect timeouts of 300 ms");
        assertTrue(end.ms() < 5_000, "closed after " + end.ms() + " ms");
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(2, st.connectFailures(), "2 attempts, both timed out\n" + st.render());
        assertEquals(1, st.connectRetries(), st.render());
    }

    private static void assertThrowsTimeout(Socket probe, int port) throws IOException {
        try {
            probe.connect(new InetSocketAddress(Peers.LOOPBACK, port), 300);
        } catch (SocketTimeoutException expected) {
            return;
        }
        Assumptions.abort("the full accept queue let a connection in: cannot make a silent server");
    }

    /**
     * The only server has maxconn 1 and is taken: a second client waits in the queue and is closed
     * after "timeout queue"; the first one is not disturbed.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void queueTimeout() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneSlotQueue(echo.port(), "20s", "300ms"));
        Socket first = Peers.connect(cleanup, fw.port);
        assertArrayEquals("one".getBytes(), Peers.exchange(first, "one".getBytes()));

        Socket second = Peers.connect(cleanup, fw.port);
        second.getOutputStream().write("two".getBytes());
        Drained end = Peers.drainToEnd(second, Duration.ofSeconds(8));
        assertNotEquals(End.TIMEOUT, end.end(), "a queued client must be closed after the queue timeout");
        assertEquals(0, end.bytes(), "a queued client got bytes without a server");
        assertTrue(end.ms() >= 200 && end.ms() < 5_000, "closed after " + end.ms() + " ms with 'timeout queue 300ms'");
        assertEquals(1, echo.accepted.get(), "the queued client must never reach the server");

        StatsSnapshot st = fw.stats();
        assertEquals(1, st.queuedTotal(), st.render());
        assertEquals(1, st.timeouts(), st.render());
        assertEquals(1, st.active(), "the first client's stream must still be open\n" + st.render());
        assertArrayEquals("still here".getBytes(), Peers.exchange(first, "still here".getBytes()));
        first.close();
        fw.awaitIdle(Duration.ofSeconds(5));
    }
}
