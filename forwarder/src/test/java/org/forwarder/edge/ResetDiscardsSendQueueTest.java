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
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Issue 7.1 with a slow receiver (found in review): a reset is a close with SO_LINGER 0, which
 * destroys what the socket's send queue still holds. Passing a reset on as soon as the last
 * byte was handed to send() dropped up to a send buffer of the bytes the resetting peer sent
 * before its reset. The reset must wait until the receiver has acknowledged them.
 */
class ResetDiscardsSendQueueTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void uploadThenResetReachesSlowServerWhole(String mode) throws Exception {
        CompletableFuture<long[]> atServer = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("slow-drain", 50, (s, i) -> {
            Thread.sleep(600);
            InputStream in = s.getInputStream();
            byte[] b = new byte[65536];
            long total = 0;
            try {
                int n;
                while ((n = in.read(b)) > 0) {
                    total += n;
                    Thread.sleep(5);
                }
                atServer.complete(new long[] {total, 0});
            } catch (SocketException e) {
                atServer.complete(new long[] {total, 1});
            }
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "30s", mode);
        SocketChannel c = SocketChannel.open();
        cleanup.add(c);
        c.connect(new InetSocketAddress(Peers.LOOPBACK, fw.port));
        c.configureBlocking(false);
        ByteBuffer chunk = ByteBuffer.wrap(Peers.Pattern.bytes(6, 16384));
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < 300_000_000L) {
            if (!chunk.hasRemaining()) chunk.rewind();
            if (c.write(chunk) == 0) Thread.sleep(5);
        }
        c.setOption(StandardSocketOptions.SO_LINGER, 0);
        c.close();
        long[] seen = atServer.get(30, TimeUnit.SECONDS);
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
        long read = fw.stats().requestBytesCopied() + fw.stats().requestBytesSpliced();
        System.out.println("server got " + seen[0] + " of " + read + " read from the client, reset=" + seen[1] + "\n" + fw.stats().render());
        assertEquals(0, fw.stats().timeouts(), fw.stats().render());
        assertEquals(read, seen[0], "bytes the client sent before its reset, read by the forwarder, never reached the server");
    }
}
