package org.forwarder.bench.load;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Short runs (about a second each) against the echo server and against broken servers, all on 127.0.0.1. */
class LoadClientTest {
    private static final InetSocketAddress ANY_LOOPBACK = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    private static final PrintStream NOWHERE = new PrintStream(OutputStream.nullOutputStream());

    @Test
    void pingpongRoundTripsAreCountedVerifiedAndLeaveNoFd() throws Exception {
        long fdsBefore = openFds();
        Summary s;
        long echoed;
        try (EchoServer echo = EchoServer.start(ANY_LOOPBACK, 2)) {
            s = LoadClient.run(Options.of("pingpong", echo.port(), 20, 2, 0.2, 0.8), NOWHERE);
            echoed = echo.bytesEchoed();
            assertNull(echo.failure());
            assertEquals(0, echo.errors());
        }
        assertEquals(0, s.errors(), s.keyValues());
        assertTrue(s.ops > 0, s.keyValues());
        assertTrue(s.allOps >= s.ops);
        assertEquals(s.ops, s.latency.count());
        assertTrue(s.rate > 0 && s.latency.percentile(50) > 0 && s.latency.max() >= s.latency.percentile(99.9));
        assertTrue(echoed >= s.allOps * 64, "the server echoed " + echoed + " bytes for " + s.allOps + " round trips");
        assertTrue(s.keyValues().startsWith("RESULT mode=pingpong conns=20 threads=2 "));
        assertTrue(s.keyValues().contains(" errors=0 "));
        assertFdsBackTo(fdsBefore);
    }

    @Test
    void connrateOpensAndClosesConnectionsAndLeavesNoFd() throws Exception {
        long fdsBefore = openFds();
        Summary s;
        long accepted;
        try (EchoServer echo = EchoServer.start(ANY_LOOPBACK, 1)) {
            s = LoadClient.run(Options.of("connrate", echo.port(), 10, 1, 0.2, 0.8), NOWHERE);
            accepted = echo.accepted();
        }
        assertEquals(0, s.errors(), s.keyValues());
        assertTrue(s.ops > 0, s.keyValues());
        assertTrue(accepted >= s.allOps, accepted + " accepted for " + s.allOps + " connections");
        assertEquals(s.ops, s.latency.count());
        assertFdsBackTo(fdsBefore);
    }

    @Test
    void idleOpensVerifiesHoldsAndSaysReady() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Summary s;
        try (EchoServer echo = EchoServer.start(ANY_LOOPBACK, 1)) {
            Options o = Options.of("idle", echo.port(), 300, 1, 0, 0).withHold(0.3);
            s = LoadClient.run(o, new PrintStream(out, true, StandardCharsets.UTF_8));
            assertEquals(300, echo.accepted());
        }
        assertEquals(0, s.errors(), s.keyValues());
        assertEquals(300, s.opened);
        assertEquals(300, s.held);
        assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("READY complete=1 opened=300 failed=0 "), out.toString());
    }

    @Test
    void alteredEchoIsAMismatch() throws Exception {
        Summary s = againstBrokenServer("pingpong", 64, in -> {   // flips one bit of every message
            byte[] b = in.clone();
            b[17] ^= 0x01;
            return b;
        });
        assertTrue(s.errors("mismatch") >= 1, s.keyValues());
        assertEquals(0, s.ops, s.keyValues());
    }

    @Test
    void closedBeforeTheEchoIsAShortRead() throws Exception {
        Summary s = againstBrokenServer("connrate", 64, in -> null);   // reads, then closes without echoing
        assertTrue(s.errors("short") >= 1, s.keyValues());
        assertEquals(0, s.ops, s.keyValues());
    }

    @Test
    void refusedConnectionsAreCounted() throws Exception {
        int port;
        try (ServerSocketChannel probe = ServerSocketChannel.open().bind(ANY_LOOPBACK)) {
            port = ((InetSocketAddress) probe.getLocalAddress()).getPort();
        }
        Summary s = LoadClient.run(Options.of("connrate", port, 2, 1, 0, 0.3), NOWHERE);
        assertTrue(s.errors("refused") >= 1, s.keyValues());
        assertEquals(s.errors(), s.errors("refused"), s.keyValues());
        assertEquals(0, s.ops);
    }

    @Test
    void badCommandLinesAreOneLineErrors() {
        assertEquals("'--port' is missing", assertThrows(IllegalArgumentException.class,
                () -> Options.parse(new String[] {"--mode", "pingpong"})).getMessage());
        assertEquals("'--conns' given twice", assertThrows(IllegalArgumentException.class,
                () -> Options.parse(new String[] {"--mode=idle", "--port", "1", "--conns", "2", "--conns", "3"})).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Options.parse(new String[] {"--mode", "idle", "--port", "1", "--host", "10.0.0.1"})).getMessage()
                .contains("not a loopback address"));
        Options o = Options.parse(new String[] {"--mode", "connrate", "--port", "9", "--duration=0.5"});
        assertEquals(0.5, o.durationS());
        assertEquals(50, o.conns());
    }

    @Test
    void connectionsAreSharedRoundRobin() {
        assertEquals(List.of(0, 2, 4), box(LoadClient.share(5, 2, 0)));
        assertEquals(List.of(1, 3), box(LoadClient.share(5, 2, 1)));
    }

    /**
     * Runs {@code mode} with one connection for half a second against a server that reads each
     * message and answers {@code reply.apply(message)}, or closes the connection when that is null.
     */
    private static Summary againstBrokenServer(String mode, int size, Function<byte[], byte[]> reply) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            server.setSoTimeout(200);
            Thread t = new Thread(() -> serve(server, size, reply), "broken-server");
            t.setDaemon(true);
            t.start();
            Summary s = LoadClient.run(Options.of(mode, server.getLocalPort(), 1, 1, 0, 0.5), NOWHERE);
            server.close();
            t.join(5_000);
            return s;
        }
    }

    private static void serve(ServerSocket server, int size, Function<byte[], byte[]> reply) {
        long end = System.nanoTime() + 5_000_000_000L;
        while (!server.isClosed() && System.nanoTime() < end) {
            try (Socket c = server.accept()) {
                c.setSoTimeout(1000);
                InputStream in = c.getInputStream();
                byte[] msg = in.readNBytes(size);
                if (msg.length < size) continue;
                byte[] answer = reply.apply(msg);
                if (answer == null) continue;
                c.getOutputStream().write(answer);
                in.read();   // until the client gives up on this connection
            } catch (IOException e) {
                // accept timeout (to look at the deadline) or the client closed: next connection
            }
        }
    }

    private static List<Integer> box(int[] a) {
        List<Integer> l = new ArrayList<>();
        for (int v : a) l.add(v);
        return l;
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /** Closed channels may give their fds back a moment later (deferred close of registered channels). */
    private static void assertFdsBackTo(long before) throws Exception {
        long now = openFds();
        for (int i = 0; i < 100 && now > before; i++) {
            Thread.sleep(20);
            now = openFds();
        }
        assertEquals(before, now, "open fds before and after the run");
    }
}
