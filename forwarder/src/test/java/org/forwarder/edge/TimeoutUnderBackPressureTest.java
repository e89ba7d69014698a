package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Drained;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.net.Socket;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 7.2: a timeout measures the peer's silence, not ours. A side we hold back (its bytes
 * wait for room) is not idle; a side that takes our bytes slowly is idle only when it stops
 * taking them for its whole timeout. And a stream cut while bytes are in flight ends in resets,
 * never in a clean FIN after a truncation.
 */
class TimeoutUnderBackPressureTest {
    private static final long SIZE = 64L << 20;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** Reads {@code len} bytes and returns their SHA-256 (hex), failing on an early end. */
    private static String readAndHash(InputStream in, long len) throws Exception {
        MessageDigest md = Peers.sha256();
        byte[] b = new byte[1 << 16];
        long left = len;
        while (left > 0) {
            int n = in.read(b, 0, (int) Math.min(b.length, left));
            if (n < 0) throw new AssertionError("clean EOF after " + (len - left) + " of " + len + " bytes");
            md.update(b, 0, n);
            left -= n;
        }
        return Peers.hex(md);
    }

    /**
     * timeout server 1s, timeout client 30s: the server writes 64 MiB at once, then waits; the
     * client reads nothing for 3 s, then everything. The server is not idle: we stopped reading it.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void downloadSurvivesServerTimeoutWhileClientIsSlow() throws Exception {
        CompletableFuture<Void> clientDone = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("big-response", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 1);
            Peers.writePattern(s.getOutputStream(), 21, SIZE);
            clientDone.get(30, TimeUnit.SECONDS); // then silent until the client has it all
        }));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(server.port(), "30s", "timeout server 1s"));
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write('?');
        Thread.sleep(3_000);
        assertEquals(Peers.Pattern.sha(21, SIZE), readAndHash(c.getInputStream(), SIZE), "the response must arrive whole");
        clientDone.complete(null);
        assertEquals(0, fw.stats().timeouts(), fw.stats().render());
    }

    /**
     * timeout client 1s, timeout server 30s: the client uploads 64 MiB at once; the server reads
     * nothing for 3 s, then everything. The client is not idle: we stopped reading it.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void uploadSurvivesClientTimeoutWhileServerIsSlow() throws Exception {
        CompletableFuture<String> received = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("slow-reader", 50, (s, i) -> {
            Thread.sleep(3_000);
            received.complete(readAndHash(s.getInputStream(), SIZE));
            s.getOutputStream().write('!');
        }));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(server.port(), "30s", "timeout client 1s"));
        Socket c = Peers.connect(cleanup, fw.port);
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                Peers.writePattern(c.getOutputStream(), 22, SIZE);
            } catch (Exception e) {
                received.completeExceptionally(e);
            }
        });
        assertEquals(Peers.Pattern.sha(22, SIZE), received.get(40, TimeUnit.SECONDS), "the upload must arrive whole");
        assertEquals('!', c.getInputStream().read());
        writer.join(5_000);
        assertEquals(0, fw.stats().timeouts(), fw.stats().render());
    }

    /**
     * timeout client 1s: the client stops reading for good while the server sends 64 MiB. The
     * client is idle, so the stream is cut; the client, reading later, finds a reset after what
     * it got, never a clean EOF; the server, whose bytes did not all get through, a reset too.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void cutWithBytesInFlightResetsBothSides() throws Exception {
        CompletableFuture<Boolean> serverSawReset = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("sender", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 1);
            try {
                Peers.writePattern(s.getOutputStream(), 23, SIZE);
                serverSawReset.complete(false);
            } catch (java.io.IOException e) {
                serverSawReset.complete(true);
            }
        }));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(server.port(), "30s", "timeout client 1s"));
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write('?');
        Peers.waitUntil("the stream is cut by the client timeout", Duration.ofSeconds(10),
                () -> fw.stats().timeouts() == 1, () -> fw.stats().render());
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(10));
        assertTrue(end.bytes() < SIZE, "the client cannot have got everything: " + end.bytes());
        assertEquals(End.RESET, end.end(), "a truncated stream must end with a reset, not " + end.end()
                + " after " + end.bytes() + " bytes");
        assertTrue(serverSawReset.get(10, TimeUnit.SECONDS), "the server's send must fail: its bytes did not all get through");
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
    }

    /** Real silence still times out: neither side sends anything, timeout client 1s. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void idleStreamStillTimesOutCleanly() throws Exception {
        TestServer server = cleanup.add(new TestServer("silent", 50, (s, i) -> s.getInputStream().read()));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(server.port(), "30s", "timeout client 1s"));
        Socket c = Peers.connect(cleanup, fw.port);
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(10));
        assertEquals(End.EOF, end.end(), "an idle stream that times out has nothing in flight: a clean close");
        assertTrue(end.ms() >= 900, "cut after " + end.ms() + " ms, before the 1 s client timeout");
        assertEquals(1, fw.stats().timeouts(), fw.stats().render());
    }
}
