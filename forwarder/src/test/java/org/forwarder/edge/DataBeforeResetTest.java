package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * Issue 7.1: a peer writes a short message and resets at once. On a direct connection the other
 * end reads the message, then gets ECONNRESET; through HAProxy too. The forwarder must do the
 * same: the bytes received before the reset are forwarded first, then the reset is passed on.
 * Each case runs 20 times: the reset usually arrives in the same epoll report as the bytes.
 */
class DataBeforeResetTest {
    private static final int ROUNDS = 20;
    private static final byte[] MESSAGE = Peers.Pattern.bytes(71, 100);

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** What a reader saw: the bytes, and whether the stream ended in a reset (else a clean EOF). */
    record Seen(byte[] bytes, boolean reset) {}

    static Seen readToEnd(Socket s) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] b = new byte[4096];
        try {
            int n;
            while ((n = in.read(b)) > 0) got.write(b, 0, n);
            return new Seen(got.toByteArray(), false);
        } catch (SocketException e) {
            if (String.valueOf(e.getMessage()).toLowerCase().contains("reset")) return new Seen(got.toByteArray(), true);
            throw e;
        }
    }

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverMessageThenResetReachesClient(String mode) throws Exception {
        TestServer server = cleanup.add(new TestServer("say-and-reset", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 1);
            s.getOutputStream().write(MESSAGE);
            Peers.reset(s);
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        for (int round = 0; round < ROUNDS; round++) {
            try (Socket c = Peers.connect(cleanup, fw.port)) {
                c.getOutputStream().write('?');
                Seen seen = readToEnd(c);
                assertArrayEquals(MESSAGE, seen.bytes(), "round " + round + ": the client must get the 100 bytes sent before the reset");
                assertEquals(true, seen.reset(), "round " + round + ": then the reset, not a clean EOF");
            }
        }
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
    }

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientMessageThenResetReachesServer(String mode) throws Exception {
        BlockingQueue<Seen> atServer = new ArrayBlockingQueue<>(ROUNDS);
        TestServer server = cleanup.add(new TestServer("hear-reset", 50, (s, i) -> atServer.add(readToEnd(s))));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        for (int round = 0; round < ROUNDS; round++) {
            Socket c = Peers.connect(cleanup, fw.port);
            c.getOutputStream().write(MESSAGE);
            Peers.reset(c);
            Seen seen = atServer.poll(10, TimeUnit.SECONDS);
            assertNotNull(seen, "round " + round + ": the server never saw the end of the stream");
            assertArrayEquals(MESSAGE, seen.bytes(), "round " + round + ": the server must get the 100 bytes sent before the reset");
            assertEquals(true, seen.reset(), "round " + round + ": then the reset, not a clean EOF");
        }
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
    }

    /**
     * A reset waiting for the other side to acknowledge the last bytes ends when that side fails
     * itself (its fd may be out of epoll after a hang-up, so only SO_ERROR tells), not at its
     * 20 s timeout. The syscall double makes the client never acknowledge, then report a reset.
     */
    @org.junit.jupiter.api.Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aWaitingResetEndsWhenItsTargetFails() throws Exception {
        TestServer server = cleanup.add(new TestServer("say-and-reset", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 1);
            s.getOutputStream().write(MESSAGE);
            Peers.reset(s);
        }));
        org.forwarder.it.FaultySyscalls sys = new org.forwarder.it.FaultySyscalls();
        sys.peersNeverAcknowledge();
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", "", sys);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write('?');
        assertArrayEquals(MESSAGE, Peers.readExactly(c.getInputStream(), MESSAGE.length));
        Thread.sleep(500);
        assertEquals(1, fw.stats().active(), "the reset waits for acknowledgements that never come\n" + fw.stats().render());
        sys.reportSocketError(org.forwarder.sys.Errno.ECONNRESET);
        Peers.waitUntil("the waiting reset ends with its target's error", java.time.Duration.ofSeconds(5),
                () -> fw.stats().active() == 0, () -> fw.stats().render());
    }
}
