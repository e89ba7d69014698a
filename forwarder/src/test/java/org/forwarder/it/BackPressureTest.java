package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server that never reads: clients write as fast as they can for 2 s. The forwarder must
 * push back (stop reading) instead of buffering: its buffers stay at most 2 per stream, the
 * clients' writes block far below what they tried, and the event loop does not spin meanwhile.
 */
class BackPressureTest {
    private static final long MiB = 1 << 20;
    private static final int STREAMS = 4;
    private static final long TRY = 512 * MiB;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response", "--splice-auto"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverThatNeverReadsBlocksTheClients(String mode) throws Exception {
        CountDownLatch stop = new CountDownLatch(1);
        TestServer deaf = cleanup.add(new TestServer("deaf", 50, (s, i) -> {
            if (i == 0) {
                Peers.ECHO.serve(s, i); // the warm-up connection
            } else {
                stop.await(60, TimeUnit.SECONDS); // holds the connection, never reads
            }
        }));
        cleanup.add(stop::countDown);
        Fw fw = Peers.startQuick(cleanup, deaf.port(), "60s", mode);

        try (Socket warm = new Socket()) {
            warm.connect(new InetSocketAddress(Peers.LOOPBACK, fw.port));
            warm.setSoTimeout(5_000);
            assertArrayEquals("warm".getBytes(), Peers.exchange(warm, "warm".getBytes()));
        }
        int pipesFreeAtBaseline = fw.awaitIdle(Duration.ofSeconds(5)).pipesFree();
        Peers.waitUntil("the warm-up connection ended at the server", Duration.ofSeconds(5), () -> deaf.openCount() == 0);
        Peers.warmUpJdkIo();
        Map<String, Integer> baseline = Peers.fdKinds();

        SocketChannel[] clients = new SocketChannel[STREAMS];
        long[] written = new long[STREAMS];
        for (int k = 0; k < STREAMS; k++) {
            clients[k] = cleanup.add(SocketChannel.open(new InetSocketAddress(Peers.LOOPBACK, fw.port)));
            clients[k].configureBlocking(false);
        }
        Peers.waitUntil("the server holds every stream", Duration.ofSeconds(5), () -> deaf.openCount() == STREAMS);

        ByteBuffer chunk = ByteBuffer.allocateDirect(256 * 1024);
        long t0 = System.nanoTime();
        long cpu0 = 0;
        int maxBuffers = 0;
        boolean measuring = false;
        while (System.nanoTime() - t0 < 2_000_000_000L) {
            boolean progressed = false;
            for (int k = 0; k < STREAMS; k++) {
                if (written[k] >= TRY) continue;
                chunk.clear();
                int n = clients[k].write(chunk);
                written[k] += n;
                progressed |= n > 0;
            }
            if (!progressed) Thread.sleep(20);
            if (!measuring && System.nanoTime() - t0 > 1_000_000_000L) {
                measuring = true; // by now every client is blocked: watch the loop's CPU from here
                cpu0 = fw.fw.pollerCpuNanos();
            }
            maxBuffers = Math.max(maxBuffers, fw.stats().buffersInUse());
        }
        long cpuMs = (fw.fw.pollerCpuNanos() - cpu0) / 1_000_000;
        StatsSnapshot st = fw.stats();
        System.out.printf("back-pressure [%s]: written %s, max buffers in use %d, pipes in use %d, poller CPU %d ms in the last ~1 s%n",
                mode, Arrays.toString(written), maxBuffers, st.pipesInUse(), cpuMs);

        for (int k = 0; k < STREAMS; k++) {
            chunk.clear();
            assertEquals(0, clients[k].write(chunk), "client " + k + " must be blocked: the server never reads");
            assertTrue(written[k] < 64 * MiB, "client " + k + " wrote " + written[k] / MiB
                    + " MiB to a server that never reads: the forwarder does not push back");
        }
        assertTrue(maxBuffers <= 2 * STREAMS, "buffers in use reached " + maxBuffers + " for " + STREAMS + " streams");
        assertTrue(st.pipesInUse() <= 2 * STREAMS, st.render());
        assertTrue(cpuMs < 300, "the event loop used " + cpuMs + " ms of CPU in ~1 s while every stream was blocked");
        assertEquals(STREAMS, st.active(), st.render());

        // the server gives up: its resets end every stream; then the clients go
        deaf.closeAccepted();
        StatsSnapshot end = fw.awaitIdle(Duration.ofSeconds(5));
        for (SocketChannel c : clients) c.close();
        assertEquals(0, end.buffersInUse(), end.render());
        assertEquals(0, end.pipesInUse(), end.render());
        assertEquals(STREAMS, end.aborts(), "the server's resets abort every stream\n" + end.render());
        // pipes the pool keeps for reuse are the only fds allowed to remain
        Map<String, Integer> allowed = new java.util.TreeMap<>(baseline);
        int morePipeFds = 2 * (end.pipesFree() - pipesFreeAtBaseline);
        allowed.merge("pipe", morePipeFds, Integer::sum);
        Peers.awaitFdsBackTo(allowed, 2, Duration.ofSeconds(5));
    }
}
