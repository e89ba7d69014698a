package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

    /** No spin left behind: once the streams are done the loop sleeps. */
    private static void assertLoopQuiet(Fw fw) {
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
        long cpu0 = fw.fw.pollerCpuNanos();
        Peers.sleep(500);
        long cpuMs = (fw.fw.pollerCpuNanos() - cpu0) / 1_000_000;
        assertTrue(cpuMs < 50, "the loop used " + cpuMs + " ms of CPU in 500 ms with nothing to do");
    }
}
