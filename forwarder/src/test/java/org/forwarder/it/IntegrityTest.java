package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Byte-exact forwarding in both directions at once, from 0 bytes to 64 MiB, one stream at a time
 * and many at once, copying, splicing, and splicing when the forwarder decides.
 */
class IntegrityTest {
    private static final long MiB = 1 << 20;
    /** Sizes from nothing to past one buffer and one pipe. */
    private static final long[] SIZES = {0, 1, 1000, 16384, 16385, MiB + 7};
    private static final long BIG = 64 * MiB;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    private final AtomicLong requestBytes = new AtomicLong();
    private final AtomicLong responseBytes = new AtomicLong();

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void copyMode() throws Exception {
        StatsSnapshot s = run("");
        assertEquals(0, s.requestBytesSpliced() + s.responseBytesSpliced(), "nothing may be spliced without a splice option");
        assertEquals(0, s.pipesInUse() + s.pipesFree(), "no pipe may be created without a splice option");
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void copyModeWithSmallBuffers() throws Exception {
        // 1 KiB buffers: many partial sends and buffer compactions per stream
        StatsSnapshot s = run("--bufsize 1k");
        assertEquals(0, s.requestBytesSpliced() + s.responseBytesSpliced());
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void spliceBothDirections() throws Exception {
        run("--splice-request --splice-response");
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void spliceAuto() throws Exception {
        run("--splice-auto");
    }

    /** The whole scenario through a forwarder started with {@code flags}; returns its final stats. */
    private StatsSnapshot run(String flags) throws Exception {
        SinkSource peers = new SinkSource(cleanup);
        boolean spliceAsked = flags.contains("--splice-request");
        boolean spliceAuto = flags.contains("--splice-auto");
        Fw fw = Peers.startQuick(cleanup, peers.port(), "30s", flags);
        long id = 0;

        // 1. a connection that carries nothing either way: FIN for FIN
        try (Socket s = Peers.connect(cleanup, fw.port)) {
            s.shutdownOutput();
            Peers.Drained end = Peers.drainToEnd(s, Duration.ofSeconds(10));
            assertEquals(Peers.End.EOF, end.end(), "an empty connection must end with a clean EOF");
            assertEquals(0, end.bytes());
        }
        Peers.waitUntil("the server saw the empty connection", Duration.ofSeconds(5),
                () -> peers.emptyConnections.get() == 1);

        // 2. one stream at a time: every size in each direction, paired with every other
        for (int i = 0; i < SIZES.length; i++) {
            one(peers, fw, ++id, SIZES[i], SIZES[SIZES.length - 1 - i]);
            one(peers, fw, ++id, SIZES[i], SIZES[i]);
        }

        // 3. sixteen streams at once, mixed sizes (up to 4 MiB), both directions busy
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int k = 0; k < 16; k++) {
                long req = k % 4 == 3 ? 4 * MiB + k : SIZES[k % SIZES.length];
                long resp = k % 4 == 1 ? 4 * MiB - k : SIZES[(k * 5 + 3) % SIZES.length];
                long myId = ++id;
                futures.add(pool.submit(() -> {
                    one(peers, fw, myId, req, resp);
                    return null;
                }));
            }
            for (Future<?> f : futures) f.get(60, TimeUnit.SECONDS);
        }

        // 4. 64 MiB each way at once, alone, to see where its bytes went
        StatsSnapshot before = fw.awaitIdle(Duration.ofSeconds(5));
        one(peers, fw, ++id, BIG, BIG);
        StatsSnapshot after = fw.awaitIdle(Duration.ofSeconds(5));
        long reqSpliced = after.requestBytesSpliced() - before.requestBytesSpliced();
        long respSpliced = after.responseBytesSpliced() - before.responseBytesSpliced();
        System.out.printf("64 MiB stream [%s]: request spliced %d, response spliced %d, fallbacks %d%n",
                flags, reqSpliced, respSpliced, after.spliceFallbacks());
        if (spliceAsked) {
            assertTrue(reqSpliced > BIG / 2, "with --splice-request most of 64 MiB must go through a pipe, spliced " + reqSpliced);
            assertTrue(respSpliced > BIG / 2, "with --splice-response most of 64 MiB must go through a pipe, spliced " + respSpliced);
        }
        if (spliceAuto) {
            assertTrue(reqSpliced > 0, "--splice-auto never spliced a 64 MiB request");
            assertTrue(respSpliced > 0, "--splice-auto never spliced a 64 MiB response");
        }

        // 5. the books balance: every byte sent was counted once, copied or spliced; nothing is held
        StatsSnapshot end = fw.awaitIdle(Duration.ofSeconds(5));
        String st = "\n" + end.render();
        assertEquals(requestBytes.get(), end.requestBytesCopied() + end.requestBytesSpliced(),
                "request bytes copied + spliced must equal the bytes the clients sent" + st);
        assertEquals(responseBytes.get(), end.responseBytesCopied() + end.responseBytesSpliced(),
                "response bytes copied + spliced must equal the bytes the server sent" + st);
        assertEquals(id + 1, end.accepted(), "connections accepted" + st);
        assertEquals(end.accepted(), end.closed(), st);
        assertEquals(0, end.aborts(), "no stream may abort" + st);
        assertEquals(0, end.timeouts(), st);
        assertEquals(0, end.connectFailures(), st);
        assertEquals(0, end.buffersInUse(), "every buffer must be back once the streams closed" + st);
        assertEquals(0, end.pipesInUse(), "every pipe must be back once the streams closed" + st);
        assertTrue(peers.server.errors.isEmpty(), "server errors: " + peers.server.errors);
        return end;
    }

    private void one(SinkSource peers, Fw fw, long id, long req, long resp) throws Exception {
        peers.transferAndCheck(fw.port, id, req, resp);
        requestBytes.addAndGet(SinkSource.HEADER + req);
        responseBytes.addAndGet(resp);
    }
}
