package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Drained;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A reset on one side becomes a reset on the other (as in HAProxy): a peer must never take a
 * truncated transfer for a complete one because it saw a clean EOF.
 */
class ResetTest {
    private static final long MiB = 1 << 20;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** The stream was counted as aborted and gave back what it held. */
    private static void assertAbortedAndReleased(Fw fw) {
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.buffersInUse() + st.pipesInUse(), "an aborted stream must give back its buffers and pipes\n" + st.render());
        assertEquals(1, st.aborts(), "the stream must be counted as aborted\n" + st.render());
    }

    /**
     * The server sends 1 MiB of a response then resets. The client, reading all along, must end
     * with "connection reset", not EOF.
     */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverResetReachesReadingClient(String mode) throws Exception {
        TestServer server = cleanup.add(new TestServer("reset-after-1m", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 5);
            Peers.writePattern(s.getOutputStream(), 7, MiB);
            Peers.reset(s);
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("hello".getBytes());
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(10));
        assertEquals(End.RESET, end.end(), "after the server's reset the client must see a reset, not " + end.end()
                + " (it got " + end.bytes() + " bytes)");
        assertAbortedAndReleased(fw);
    }

    /**
     * The same while the client is not reading yet: the forwarder holds part of the response
     * when the reset comes. The client must find a reset at the end of whatever it gets.
     */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverResetReachesSlowClient(String mode) throws Exception {
        CompletableFuture<Void> resetDone = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("reset-slow", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 5);
            // more than the client socket's and the forwarder's buffers can take at once
            s.setSoTimeout(2_000);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    Peers.writePattern(s.getOutputStream(), 8, 256 * MiB);
                } catch (IOException expected) {
                    // the reset below ends it
                }
            });
            Thread.sleep(500);
            Peers.reset(s);
            writer.join(5_000);
            resetDone.complete(null);
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("hello".getBytes());
        resetDone.get(10, TimeUnit.SECONDS);
        Thread.sleep(200);
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(10));
        assertEquals(End.RESET, end.end(), "after the server's reset the client must see a reset, not " + end.end()
                + " (it got " + end.bytes() + " bytes of 256 MiB)");
        assertTrue(end.bytes() < 256 * MiB);
        assertAbortedAndReleased(fw);
    }

    /**
     * The client sends 1 MiB of a request then resets. The server, reading all along, must end
     * with "connection reset", not EOF.
     */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientResetReachesReadingServer(String mode) throws Exception {
        CompletableFuture<String> serverEnd = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("sink", 50, (s, i) -> {
            InputStream in = s.getInputStream();
            byte[] b = new byte[65536];
            long total = 0;
            try {
                int n;
                while ((n = in.read(b)) >= 0) total += n;
                serverEnd.complete("EOF after " + total + " bytes");
            } catch (SocketException e) {
                serverEnd.complete((Peers.isReset(e) ? "RESET" : e.toString()) + " after " + total + " bytes");
            } catch (IOException e) {
                serverEnd.complete(e + " after " + total + " bytes");
            }
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.writePattern(c.getOutputStream(), 9, MiB);
        Thread.sleep(200); // the bytes are on their way or through
        Peers.reset(c);
        String end = serverEnd.get(10, TimeUnit.SECONDS);
        assertTrue(end.startsWith("RESET"), "after the client's reset the server must see a reset, saw " + end);
        assertAbortedAndReleased(fw);
    }

    /**
     * The client resets while the server streams a response: the server's writes must fail
     * promptly (the forwarder dropped the server side), instead of blocking forever.
     */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientResetStopsStreamingServer(String mode) throws Exception {
        CompletableFuture<Throwable> serverEnd = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("source", 50, (s, i) -> {
            try {
                Peers.writePattern(s.getOutputStream(), 10, 1024 * MiB);
                serverEnd.complete(null);
            } catch (IOException e) {
                serverEnd.complete(e);
            }
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.readExactly(c.getInputStream(), (int) MiB);
        Peers.reset(c);
        Throwable e = serverEnd.get(10, TimeUnit.SECONDS);
        assertTrue(e != null && Peers.isReset(e), "the server's writes must fail with a reset or broken pipe, got " + e);
        assertAbortedAndReleased(fw);
    }
}
