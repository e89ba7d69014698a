package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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

    private final Cleanup cleanup = new Cleanup();

    @AfterEach
    void tearDown() throws Exception {
        cleanup.close();
    }

    private Fw forwarder(int serverPort, String mode) throws Exception {
        List<String> args = new ArrayList<>(List.of("--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + serverPort,
                "--timeout-client", "20s", "--timeout-server", "20s"));
        if (!mode.isEmpty()) args.addAll(List.of(mode.split(" ")));
        return Peers.startQuick(cleanup, args.toArray(String[]::new));
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
        Fw fw = forwarder(server.port(), mode);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("hello".getBytes());
        long[] got = new long[1];
        End end = Peers.drainToEnd(c, Duration.ofSeconds(10), got);
        assertEquals(End.RESET, end, "after the server's reset the client must see a reset, not " + end
                + " (it got " + got[0] + " bytes)");
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.buffersInUse() + st.pipesInUse(), "an aborted stream must give back its buffers and pipes\n" + st.render());
        assertEquals(1, st.aborts(), "the stream must be counted as aborted\n" + st.render());
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
        Fw fw = forwarder(server.port(), mode);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write("hello".getBytes());
        resetDone.get(10, TimeUnit.SECONDS);
        Thread.sleep(200);
        long[] got = new long[1];
        End end = Peers.drainToEnd(c, Duration.ofSeconds(10), got);
        assertEquals(End.RESET, end, "after the server's reset the client must see a reset, not " + end
                + " (it got " + got[0] + " bytes of 256 MiB)");
        assertTrue(got[0] < 256 * MiB);
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.buffersInUse() + st.pipesInUse(), "an aborted stream must give back its buffers and pipes\n" + st.render());
        assertEquals(1, st.aborts(), st.render());
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
        Fw fw = forwarder(server.port(), mode);
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.writePattern(c.getOutputStream(), 9, MiB);
        Thread.sleep(200); // the bytes are on their way or through
        Peers.reset(c);
        String end = serverEnd.get(10, TimeUnit.SECONDS);
        assertTrue(end.startsWith("RESET"), "after the client's reset the server must see a reset, saw " + end);
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.buffersInUse() + st.pipesInUse(), "an aborted stream must give back its buffers and pipes\n" + st.render());
        assertEquals(1, st.aborts(), st.render());
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
        Fw fw = forwarder(server.port(), mode);
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.readExactly(c.getInputStream(), (int) MiB);
        Peers.reset(c);
        Throwable e = serverEnd.get(10, TimeUnit.SECONDS);
        assertTrue(e != null && Peers.isReset(e), "the server's writes must fail with a reset or broken pipe, got " + e);
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.buffersInUse() + st.pipesInUse(), "an aborted stream must give back its buffers and pipes\n" + st.render());
        assertEquals(1, st.aborts(), st.render());
    }
}
