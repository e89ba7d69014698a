package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

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
 * Found in review: a channel dropped because its peer reset must count as empty. Otherwise the
 * peer that reset keeps a write deadline from its last write, which cuts the delivery of the
 * bytes it sent before its reset while the other side is steadily taking them.
 */
class GhostDeadlineTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void drainOfResetClientIsNotCutByItsStaleWriteTimeout() throws Exception {
        CompletableFuture<long[]> atServer = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("slow-drain", 50, (s, i) -> {
            Thread.ofVirtual().start(() -> {
                try {
                    byte[] b = Peers.Pattern.bytes(5, 1 << 20);
                    s.getOutputStream().write(b); // a response the client never reads
                } catch (Exception ignored) {
                    // reset by the forwarder at the end
                }
            });
            Thread.sleep(600);
            InputStream in = s.getInputStream();
            byte[] b = new byte[4096];
            long total = 0;
            try {
                int n;
                while ((n = in.read(b)) > 0) {
                    total += n;
                    Thread.sleep(5); // ~800 KB/s: steady progress, still well past the 1 s timeout
                }
                atServer.complete(new long[] {total, 0});
            } catch (SocketException e) {
                atServer.complete(new long[] {total, 1});
            }
        }));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(server.port(), "30s", "timeout client 1s"));
        SocketChannel c = SocketChannel.open();
        cleanup.add(c);
        c.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
        c.connect(new InetSocketAddress(Peers.LOOPBACK, fw.port));
        c.configureBlocking(false);
        ByteBuffer chunk = ByteBuffer.wrap(Peers.Pattern.bytes(6, 16384));
        long t0 = System.nanoTime();
        long sent = 0;
        while (System.nanoTime() - t0 < 300_000_000L) {
            if (!chunk.hasRemaining()) chunk.rewind();
            int n = c.write(chunk);
            sent += n;
            if (n == 0) Thread.sleep(5);
        }
        c.setOption(StandardSocketOptions.SO_LINGER, 0);
        c.close(); // reset, 300 ms in: well within its 1 s timeout
        long[] seen = atServer.get(30, TimeUnit.SECONDS);
        fw.awaitIdleAndReleased(Duration.ofSeconds(5));
        System.out.println("client accepted " + sent + " bytes, server got " + seen[0] + ", reset=" + seen[1]
                + "\n" + fw.stats().render());
        assertEquals(0, fw.stats().timeouts(), "no side of this stream was idle: the server drained steadily "
                + "and the client had reset (its timeout cannot apply any more)\n" + fw.stats().render());
        assertEquals(fw.stats().requestBytesCopied(), seen[0], "every byte read from the client must reach the server");
    }
}
