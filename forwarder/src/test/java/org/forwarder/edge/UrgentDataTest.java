package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 7.4: TCP urgent data. A reader with SO_OOBINLINE off (the default) on a direct
 * connection gets every byte but the urgent one, in order; through the forwarder the same, in
 * copy and splice modes, both ways. splice() stops at the urgent mark and reports EAGAIN while
 * epoll says readable (HAProxy 2.6 spins there); the loop must neither spin nor stall.
 */
class UrgentDataTest {
    private static final int ROUNDS = 10;
    private static final byte[] EXPECTED = "abcdef".getBytes();

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** "abc", urgent 'X', "def", then FIN: all sent at once, so they arrive together. */
    private static void sendWithUrgentByte(Socket s) throws Exception {
        OutputStream out = s.getOutputStream();
        out.write("abc".getBytes());
        s.sendUrgentData('X');
        out.write("def".getBytes());
        s.shutdownOutput();
    }

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request", "--splice-auto"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientUrgentByte(String mode) throws Exception {
        BlockingQueue<byte[]> atServer = new ArrayBlockingQueue<>(ROUNDS);
        TestServer server = cleanup.add(new TestServer("oob-reader", 50, (s, i) -> atServer.add(s.getInputStream().readAllBytes())));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        for (int round = 0; round < ROUNDS; round++) {
            try (Socket c = Peers.connect(cleanup, fw.port)) {
                sendWithUrgentByte(c);
                byte[] got = atServer.poll(5, TimeUnit.SECONDS);
                assertNotNull(got, "round " + round + ": the stream stalled at the urgent mark\n" + fw.stats().render());
                assertArrayEquals(EXPECTED, got, "round " + round + ": got '" + new String(got) + "'");
                c.getInputStream().readAllBytes();
            }
        }
        assertLoopQuiet(fw);
    }

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-response", "--splice-auto"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverUrgentByte(String mode) throws Exception {
        TestServer server = cleanup.add(new TestServer("oob-writer", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 1);
            sendWithUrgentByte(s);
            s.getInputStream().readAllBytes();
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        for (int round = 0; round < ROUNDS; round++) {
            try (Socket c = Peers.connect(cleanup, fw.port)) {
                c.getOutputStream().write('?');
                c.setSoTimeout(5_000);
                byte[] got = c.getInputStream().readAllBytes();
                assertArrayEquals(EXPECTED, got, "round " + round + ": got '" + new String(got) + "'");
            }
        }
        assertLoopQuiet(fw);
    }

    /**
     * The request's last byte is urgent, then the FIN (found in review). splice stops at the mark;
     * the urgent byte must still be consumed, or the socket is closed with unread data, which
     * makes the kernel send a reset that destroys the response bytes still queued toward the
     * client. The client must get the whole 16 MiB response and a clean EOF.
     */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void responseSurvivesAnUrgentLastRequestByte(String mode) throws Exception {
        int response = 16 << 20;
        TestServer server = cleanup.add(new TestServer("big-answer", 50, (s, i) -> {
            s.getInputStream().readAllBytes();
            Peers.writePattern(s.getOutputStream(), 31, response);
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            c.getOutputStream().write("req".getBytes());
            c.sendUrgentData('X');
            c.shutdownOutput();
            Thread.sleep(1000); // the forwarder's send queue toward us fills up meanwhile
            // read slowly, so that bytes are still queued toward us when the stream ends
            InputStream in = c.getInputStream();
            byte[] b = new byte[32 << 10];
            long got = 0;
            String end = "EOF";
            try {
                int n;
                while ((n = in.read(b)) > 0) {
                    got += n;
                    Thread.sleep(1);
                }
            } catch (java.net.SocketException e) {
                end = "RESET (" + e.getMessage() + ")";
            }
            assertEquals("EOF after " + response, end + " after " + got,
                    "the client must get the whole response and a clean EOF\n" + fw.stats().render());
        }
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
    }

    /** No spin left behind: once the streams are done the loop sleeps. */
    private static void assertLoopQuiet(Fw fw) {
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
        long cpu0 = fw.fw.pollerCpuNanos();
        Peers.sleep(500);
        long cpuMs = (fw.fw.pollerCpuNanos() - cpu0) / 1_000_000;
        assertTrue(cpuMs < 50, "the loop used " + cpuMs + " ms of CPU in 500 ms with nothing to do");
    }
}
