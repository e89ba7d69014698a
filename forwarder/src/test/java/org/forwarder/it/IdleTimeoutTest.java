package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.net.Socket;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** timeout client / timeout server: idle streams are closed, busy ones are not. */
class IdleTimeoutTest {
    private final Cleanup cleanup = new Cleanup();

    @AfterEach
    void tearDown() throws Exception {
        cleanup.close();
    }

    private Fw forwarder(int port) throws Exception {
        return Peers.startQuick(cleanup, "--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + port,
                "--timeout-client", "300ms", "--timeout-server", "300ms");
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void idleStreamIsClosed() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = forwarder(echo.port());
        Socket c = Peers.connect(cleanup, fw.port);
        assertArrayEquals("ping".getBytes(), Peers.exchange(c, "ping".getBytes()));
        long t0 = System.nanoTime();
        long[] got = new long[1];
        End end = Peers.drainToEnd(c, Duration.ofSeconds(6), got);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertNotEquals(End.TIMEOUT, end, "an idle stream must be closed by 'timeout client/server 300ms'");
        assertTrue(ms >= 200, "closed after " + ms + " ms of idleness, before the 300 ms timeout");
        assertTrue(ms <= 5_000, "closed after " + ms + " ms");
        assertEquals(0, got[0]);
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
        StatsSnapshot st = fw.stats();
        assertEquals(0, st.timeouts(), "a stream with traffic every 100 ms timed out\n" + st.render());
        assertEquals(1, st.active(), st.render());
        // and once it falls silent it goes
        End end = Peers.drainToEnd(c, Duration.ofSeconds(6), null);
        assertNotEquals(End.TIMEOUT, end);
        assertEquals(1, fw.awaitIdle(Duration.ofSeconds(5)).timeouts());
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
        StatsSnapshot st = fw.stats();
        assertEquals(0, st.timeouts(), "one-way traffic every 100 ms timed out\n" + st.render());
        assertEquals(1, st.active(), st.render());
        End end = Peers.drainToEnd(c, Duration.ofSeconds(6), null);
        assertNotEquals(End.TIMEOUT, end);
        assertEquals(1, fw.awaitIdle(Duration.ofSeconds(5)).timeouts());
    }
}
