package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 2,000 streams open at the same time, each with one request/response, then all closed: every
 * socket the forwarder opened is closed again and its counters return to zero.
 *
 * <p>Fds: 2,000 clients + 2,000 accepted by the echo server (this JVM) + 4,000 in the forwarder
 * (same JVM) = about 8,000, well under the limit of 20,000 here.
 */
class ManyConnectionsTest {
    private static final int N = 2_000;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void twoThousandConcurrentStreamsLeaveNothingBehind() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 4096, Peers.ECHO));
        Fw fw = Peers.startQuick(cleanup, echo.port(), "60s", "--maxconn 4096");

        // warm up what the JVM opens lazily (virtual-thread pollers, classes), then take the baseline
        Peers.warmUpJdkIo();
        round(fw, 50, null);
        fw.awaitIdle(Duration.ofSeconds(5));
        Peers.waitUntil("the warm-up server sockets closed", Duration.ofSeconds(5), () -> echo.openCount() == 0);
        Map<String, Integer> baseline = Peers.fdKinds();
        System.out.println("fd baseline: " + baseline);

        StatsSnapshot[] atPeak = new StatsSnapshot[1];
        int[] serverHeld = new int[1];
        round(fw, N, () -> {
            atPeak[0] = fw.stats();
            serverHeld[0] = echo.openCount();
            System.out.println("at peak: fds " + Peers.fdKinds() + "\n" + atPeak[0].render());
        });
        assertEquals(N, atPeak[0].active(), "all streams must be open at once\n" + atPeak[0].render());
        assertEquals(N, serverHeld[0], "the server must hold one connection per client at the peak");

        StatsSnapshot end = fw.awaitIdle(Duration.ofSeconds(10));
        Peers.awaitFdsBackTo(baseline, 2, Duration.ofSeconds(5));
        assertEquals(end.accepted(), end.closed(), end.render());
        assertEquals(0, end.aborts(), end.render());
        assertEquals(0, end.buffersInUse(), end.render());
        assertEquals(0, end.connectFailures(), end.render());
        assertEquals(N + 50, end.accepted(), end.render());
    }

    /**
     * Opens {@code n} clients at once; each sends 100 bytes and reads them back; when all have,
     * runs {@code atPeak} then closes every client.
     */
    private static void round(Fw fw, int n, Runnable atPeak) throws Exception {
        List<Socket> sockets = new ArrayList<>(n);
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch exchanged = new CountDownLatch(n);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger ok = new AtomicInteger();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Socket s = new Socket();
                sockets.add(s);
                int id = i;
                futures.add(pool.submit(() -> {
                    try {
                        s.connect(new InetSocketAddress(Peers.LOOPBACK, fw.port), 10_000);
                        s.setSoTimeout(20_000);
                        byte[] msg = Peers.Pattern.bytes(id, 100);
                        byte[] back = Peers.exchange(s, msg);
                        if (!Arrays.equals(msg, back)) failures.add(id + ": wrong echo");
                        else ok.incrementAndGet();
                    } catch (Exception e) {
                        failures.add(id + ": " + e);
                    } finally {
                        exchanged.countDown();
                    }
                    try {
                        release.await(60, TimeUnit.SECONDS); // all open at once, then all closed
                    } finally {
                        s.close();
                    }
                    return null;
                }));
            }
            boolean all = exchanged.await(60, TimeUnit.SECONDS);
            if (!all) failures.add((exchanged.getCount()) + " clients still not done after 60 s");
            try {
                if (atPeak != null && failures.isEmpty()) atPeak.run();
            } finally {
                release.countDown();
            }
            for (Future<?> f : futures) f.get(60, TimeUnit.SECONDS);
        } finally {
            sockets.forEach(Peers::closeQuietly);
        }
        assertTrue(failures.isEmpty(), failures.size() + " clients failed, e.g. " + failures.stream().limit(5).toList());
        assertEquals(n, ok.get());
    }
}
