package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Drained;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.net.Socket;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** timeout client / timeout server: idle streams are closed, busy ones are not. */
class IdleTimeoutTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private Fw forwarder(int port) throws Exception {
        return Peers.startQuick(cleanup, port, "300ms", "");
    }

    /**
     * The stream with {@code traffic} has not timed out and is still open; once it falls silent,
     * it times out.
     */
    private static void assertOpenThenTimedOut(Fw fw, Socket c, String traffic) throws Exception {
        StatsSnapshot st = fw.stats();
        assertEquals(0, st.timeouts(), traffic + " timed out\n" + st.render());
        assertEquals(1, st.active(), st.render());
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(6));
        assertNotEquals(End.TIMEOUT, end.end());
        assertEquals(1, fw.awaitIdle(Duration.ofSeconds(5)).timeouts());
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void idleStreamIsClosed() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = forwarder(echo.port());
        Socket c = Peers.connect(cleanup, fw.port);
        assertArrayEquals("ping".getBytes(), Peers.exchange(c, "ping".getBytes()));
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(6));
        assertNotEquals(End.TIMEOUT, end.end(), "an idle stream must be closed by 'timeout client/server 300ms'");
        assertTrue(end.ms() >= 200, "closed after " + end.ms() + " ms of idleness, before the 300 ms timeout");
        assertTrue(end.ms() <= 5_000, "closed after " + end.ms() + " ms");
        assertEquals(0, end.bytes());
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(1, st.timeouts(), st.render());
        // the server side was closed too
        Peers.waitUntil("the server's connection ended", Duration.ofSeconds(5), () -> echo.finished.get() == 1);
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void busyStreamIsNotClosed() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = forwarder(echo.port());
        Socket c = Peers.connect(cleanup, fw.port);
        long t0 = System.nanoTime();
        int exchanges = 0;
        while (System.nanoTime() - t0 < 1_200_000_000L && exchanges < 50) {
            byte[] msg = ("tick " + exchanges).getBytes();
            assertArrayEquals(msg, Peers.exchange(c, msg), "exchange " + exchanges + " on a busy stream");
            exchanges++;
            Thread.sleep(100);
        }
        assertTrue(exchanges >= 8, "only " + exchanges + " exchanges in 1.2 s");
        // and once it falls silent it goes
        assertOpenThenTimedOut(fw, c, "a stream with traffic every 100 ms");
    }

    /**
     * Only the client talks (every 100 ms), the server reads and never answers: sending to the
     * server is activity on the server side, so nothing times out.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void oneWayTrafficKeepsStreamOpen() throws Exception {
        TestServer sink = cleanup.add(new TestServer("sink", 50, (s, i) -> {
            InputStream in = s.getInputStream();
            byte[] b = new byte[4096];
            while (in.read(b) >= 0) {
                // discard
            }
        }));
        Fw fw = forwarder(sink.port());
        Socket c = Peers.connect(cleanup, fw.port);
        for (int i = 0; i < 12; i++) {
            c.getOutputStream().write(("tick " + i + "\n").getBytes());
            Thread.sleep(100);
        }
        assertOpenThenTimedOut(fw, c, "one-way traffic every 100 ms");
    }
}
