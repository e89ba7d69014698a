package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Forwarder.shutdown(grace): no new connections, running streams finish (within the grace). */
class GracefulStopTest {
    private static final long MiB = 1 << 20;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void inFlightTransferCompletesAndNewConnectionsAreRefused() throws Exception {
        SinkSource peers = new SinkSource(cleanup);
        // warm up the JVM's own lazily opened fds (virtual-thread I/O) before the baseline
        peers.check(SinkSource.transfer(peers.port(), 1, 1000, 1000));
        Peers.waitUntil("warm-up done", Duration.ofSeconds(5), () -> peers.server.openCount() == 0);
        Peers.warmUpJdkIo();
        Map<String, Integer> before = Peers.fdKinds();

        Fw fw = Peers.startQuick(cleanup, peers.port(), "20s", "");
        int port = fw.port;
        // 8 MiB each way; the request is paced over about 1.5 s so the stop lands mid-transfer
        CompletableFuture<SinkSource.Transfer> transfer = CompletableFuture.supplyAsync(() -> {
            try {
                return SinkSource.transfer(port, 2, 8 * MiB, 8 * MiB, 10);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
        Peers.waitUntil("the transfer is under way", Duration.ofSeconds(5),
                () -> fw.stats().requestBytesCopied() > MiB / 2);

        long t0 = System.nanoTime();
        CompletableFuture<Long> stopped = CompletableFuture.supplyAsync(() -> {
            fw.fw.shutdown(Duration.ofSeconds(5));
            return (System.nanoTime() - t0) / 1_000_000;
        }, r -> Thread.ofPlatform().name("it-shutdown").start(r));

        // the listener closes at once: connects are refused while the transfer goes on
        Peers.waitUntil("connects to the stopping forwarder are refused", Duration.ofSeconds(3), () -> refused(port));
        for (int i = 0; i < 3; i++) {
            assertTrue(refused(port), "a connect succeeded after the listener closed");
        }
        assertFalse(transfer.isDone(), "the listener closed only after the transfer ended (or the transfer was too quick to prove anything)");

        SinkSource.Transfer t = transfer.get(30, TimeUnit.SECONDS);
        peers.check(t); // intact, both directions
        long ms = stopped.get(15, TimeUnit.SECONDS);
        assertTrue(ms < 5_000, "shutdown took " + ms + " ms: it must return once the last stream ended, not wait for the whole grace");
        assertFalse(fw.fw.isRunning(), "the event loop must have stopped");
        // the stopped forwarder keeps nothing open
        Peers.awaitFdsBackTo(before, 2, Duration.ofSeconds(5));
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void graceExpiryClosesWhatIsLeft() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        try (Socket warm = Peers.connect(cleanup, echo.port())) {
            assertArrayEquals("w".getBytes(), Peers.exchange(warm, "w".getBytes()));
        }
        Peers.waitUntil("warm-up done", Duration.ofSeconds(5), () -> echo.openCount() == 0);
        Peers.warmUpJdkIo();
        Map<String, Integer> before = Peers.fdKinds();
        // with splicing, so that the stop must also close the pipes the pool keeps
        Fw fw = Peers.startQuick(cleanup, echo.port(), "20s", "--splice-request --splice-response");
        Socket idle = Peers.connect(cleanup, fw.port);
        assertArrayEquals("hi".getBytes(), Peers.exchange(idle, "hi".getBytes()));
        StatsSnapshot st = fw.stats();
        assertTrue(st.pipesInUse() + st.pipesFree() > 0, "the exchange went through no pipe\n" + st.render());

        long t0 = System.nanoTime();
        fw.fw.shutdown(Duration.ofMillis(500));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 400 && ms < 5_000, "shutdown with an idle stream and 500 ms of grace took " + ms + " ms");
        assertFalse(fw.fw.isRunning());
        End end = Peers.drainToEnd(idle, Duration.ofSeconds(3)).end();
        assertNotEquals(End.TIMEOUT, end, "the stream left at the end of the grace must be closed");
        idle.close();
        Peers.waitUntil("the server saw its connection end", Duration.ofSeconds(5), () -> echo.openCount() == 0);
        Peers.awaitFdsBackTo(before, 2, Duration.ofSeconds(5));
    }

    private static boolean refused(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(Peers.LOOPBACK, port), 1_000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
