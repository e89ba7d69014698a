package org.forwarder.splice;

import org.forwarder.Forwarder;
import org.forwarder.config.ConfigParser;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.forwarder.splice.SplicePeers.*;
import static org.junit.jupiter.api.Assertions.*;

/** Kernel splice forwarding: integrity, fallbacks, the pipe pool, and the seed 000/004 regressions. */
class SpliceTest {
    private final List<AutoCloseable> closeMe = new ArrayList<>();
    private final List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeMe.size() - 1; i >= 0; i--) closeMe.get(i).close();
    }

    private <T extends AutoCloseable> T keep(T c) {
        closeMe.add(c);
        return c;
    }

    private Forwarder start(String cfg) throws Exception {
        return keep(Forwarder.start(ConfigParser.parse(cfg, "test.cfg"), log::add));
    }

    private static String spliceCfg(int serverPort, String extraGlobal, String options) {
        return """
                global
                    maxconn 1000
                %s
                listen splice
                    mode tcp
                    bind 127.0.0.1:0
                    timeout connect 5s
                    timeout client 30s
                    timeout server 30s
                %s
                    server s1 127.0.0.1:%d
                """.formatted(extraGlobal, options, serverPort);
    }

    /** Server: hash everything it reads while sending {@code respSize} seeded bytes; then shut. */
    private static TestServer sinkAndSource(int respSize, long seed, List<String> seenHashes) throws IOException {
        return new TestServer(s -> {
            try (s) {
                byte[] resp = data(seed, respSize);
                Thread writer = Thread.ofPlatform().start(() -> {
                    try {
                        write(s.getOutputStream(), resp);
                        s.shutdownOutput();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                byte[] got = readAll(s.getInputStream(), 80 << 20);
                seenHashes.add(got.length + ":" + sha256(got));
                writer.join();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    /** Client: sends {@code reqSize} seeded bytes (then FIN) while reading the whole response. */
    private static String exchange(int port, int reqSize, long seed, int respMax) throws Exception {
        return exchange(port, reqSize, seed, respMax, 0);
    }

    /** As above, but the client starts reading only after {@code readDelayMs}. */
    private static String exchange(int port, int reqSize, long seed, int respMax, long readDelayMs) throws Exception {
        try (Socket c = connect(port)) {
            byte[] req = data(seed, reqSize);
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    write(c.getOutputStream(), req);
                    c.shutdownOutput();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            if (readDelayMs > 0) Thread.sleep(readDelayMs);
            byte[] got = readAll(c.getInputStream(), respMax);
            writer.join();
            return got.length + ":" + sha256(got);
        }
    }

    @Test
    @Timeout(120)
    void bytesAreIntactBothWaysThroughPipesForManySizes() throws Exception {
        int[] sizes = {0, 1, 4095, 4096, 65537, (1 << 20) + 13, 16 << 20};
        for (int size : sizes) {
            List<String> serverSaw = new java.util.concurrent.CopyOnWriteArrayList<>();
            try (TestServer srv = sinkAndSource(size, 7, serverSaw);
                 Forwarder fw = Forwarder.start(ConfigParser.parse(spliceCfg(srv.port(), "",
                         "    option splice-request\n    option splice-response"), "t.cfg"), log::add)) {
                int port = fw.boundAddresses().get(0).port();
                String expectResp = size + ":" + sha256(data(7, size));
                String expectReq = size + ":" + sha256(data(11, size));
                ExecutorService pool = Executors.newFixedThreadPool(8);
                try {
                    List<Future<String>> results = new ArrayList<>();
                    for (int i = 0; i < 8; i++) results.add(pool.submit(() -> exchange(port, size, 11, 80 << 20)));
                    for (Future<String> f : results) assertEquals(expectResp, f.get(60, TimeUnit.SECONDS), "response, size " + size);
                } finally {
                    pool.shutdownNow();
                }
                waitFor(() -> serverSaw.size() == 8, 10_000);
                for (String h : serverSaw) assertEquals(expectReq, h, "request, size " + size);
                StatsSnapshot st = waitForIdle(fw);
                long total = 8L * size;
                assertEquals(total, st.requestBytesCopied() + st.requestBytesSpliced(), "request bytes accounted");
                assertEquals(total, st.responseBytesCopied() + st.responseBytesSpliced(), "response bytes accounted");
                if (size >= 65537) {
                    assertTrue(st.requestBytesSpliced() > 0, "request went through pipes: " + st);
                    assertTrue(st.responseBytesSpliced() > 0, "response went through pipes: " + st);
                }
                assertEquals(0, st.pipesInUse(), "every pipe back in the pool");
                assertEquals(0, st.buffersInUse());
            }
        }
    }

    @Test
    @Timeout(60)
    void aTransferThatEndsWhileThePipeIsFullKeepsItsTail() throws Exception {
        int size = 8 << 20;
        byte[] payload = data(99, size);
        for (int round = 0; round < 5; round++) {
            try (TestServer srv = new TestServer(s -> {
                try (s) {
                    write(s.getOutputStream(), payload); // then close at once: the FIN follows the data
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }); Forwarder fw = Forwarder.start(ConfigParser.parse(spliceCfg(srv.port(), "",
                    "    option splice-response"), "t.cfg"), log::add)) {
                try (Socket c = connect(fw.boundAddresses().get(0).port())) {
                    Thread.sleep(300); // let pipes and socket buffers fill while nobody reads
                    byte[] got = readAll(c.getInputStream(), size + 1);
                    assertEquals(size, got.length, "the stream's tail was lost");
                    assertEquals(sha256(payload), sha256(got));
                }
                assertTrue(waitForIdle(fw).responseBytesSpliced() > 0);
            }
        }
    }

    @Test
    @Timeout(60)
    void spliceFailureFallsBackToCopyWithoutLosingAByte() throws Exception {
        int size = 4 << 20;
        List<String> serverSaw = new java.util.concurrent.CopyOnWriteArrayList<>();
        TestServer srv = keep(sinkAndSource(size, 3, serverSaw));
        Forwarder fw = start(spliceCfg(srv.port(), "", "    option splice-request\n    option splice-response"));
        int port = fw.boundAddresses().get(0).port();
        // the very first splice-in of the stream fails, as HAProxy saw with EBADF on some kernels
        fw.call(w -> {
            w.raw().injectSpliceInFailure(Errno.EBADF, 1);
            return null;
        });
        assertEquals(size + ":" + sha256(data(3, size)), exchange(port, size, 5, 8 << 20));
        waitFor(() -> serverSaw.size() == 1, 10_000);
        assertEquals(size + ":" + sha256(data(5, size)), serverSaw.get(0));
        StatsSnapshot st = waitForIdle(fw);
        assertEquals(1, st.spliceFallbacks());
        assertTrue(st.requestBytesCopied() > 0 || st.responseBytesCopied() > 0, "the failed direction copied: " + st);

        // mid-stream, with bytes already in the pipe: EINVAL and ENOSYS take the same way out
        for (int errno : new int[] {Errno.EINVAL, Errno.ENOSYS}) {
            serverSaw.clear();
            try (Socket c = connect(port)) {
                OutputStream out = c.getOutputStream();
                InputStream in = c.getInputStream();
                byte[] req = data(21, size);
                AtomicLong sent = new AtomicLong();
                Thread writer = Thread.ofPlatform().start(() -> {
                    try {
                        for (int off = 0; off < size; off += 65536) {
                            out.write(req, off, Math.min(65536, size - off));
                            if (sent.addAndGet(65536) == 1 << 20) {
                                fw.call(w -> {
                                    w.raw().injectSpliceInFailure(errno, 1);
                                    return null;
                                });
                            }
                        }
                        c.shutdownOutput();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                byte[] got = readAll(in, 8 << 20);
                writer.join();
                assertEquals(sha256(data(3, size)), sha256(got));
            }
            waitFor(() -> serverSaw.size() == 1, 10_000);
            assertEquals(size + ":" + sha256(data(21, size)), serverSaw.get(0), "request after " + Errno.name(errno));
        }
        assertEquals(3, waitForIdle(fw).spliceFallbacks());
    }

    @Test
    @Timeout(60)
    void pipesAreBoundedByMaxpipesAndReused() throws Exception {
        int size = 16 << 20; // more than loopback socket buffers hold, so a late reader leaves pipes full
        List<String> serverSaw = new java.util.concurrent.CopyOnWriteArrayList<>();
        TestServer srv = keep(sinkAndSource(size, 8, serverSaw));
        Forwarder fw = start(spliceCfg(srv.port(), "    maxpipes 2", "    option splice-request\n    option splice-response"));
        int port = fw.boundAddresses().get(0).port();
        AtomicInteger maxInUse = new AtomicInteger();
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    maxInUse.accumulateAndGet(fw.stats().pipesInUse(), Math::max);
                    Thread.sleep(2);
                } catch (Exception e) {
                    return;
                }
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> results = new ArrayList<>();
            // clients read late, so the response pipes stay full and held: the others must copy
            for (int i = 0; i < 8; i++) results.add(pool.submit(() -> exchange(port, size, 9, 32 << 20, 500)));
            for (Future<String> f : results) assertEquals(size + ":" + sha256(data(8, size)), f.get(60, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
            sampler.interrupt();
            sampler.join();
        }
        waitFor(() -> serverSaw.size() == 8, 10_000);
        for (String h : serverSaw) assertEquals(size + ":" + sha256(data(9, size)), h);
        StatsSnapshot st = waitForIdle(fw);
        assertTrue(maxInUse.get() <= 2, "never more than maxpipes pipes: saw " + maxInUse.get());
        assertTrue(st.requestBytesCopied() + st.responseBytesCopied() > 0, "streams without a pipe copied: " + st);
        assertTrue(st.requestBytesSpliced() + st.responseBytesSpliced() > 0, "streams with a pipe spliced");
        assertEquals(0, st.pipesInUse());
        assertTrue(st.pipesFree() >= 1 && st.pipesFree() <= 2, "empty pipes are kept for reuse: " + st.pipesFree());
    }

    @Test
    @Timeout(60)
    void spliceAutoSplicesOnlyFastStreamers() throws Exception {
        List<String> serverSaw = new java.util.concurrent.CopyOnWriteArrayList<>();
        int small = 100;
        TestServer srv = keep(sinkAndSource(small, 1, serverSaw));
        Forwarder fw = start(spliceCfg(srv.port(), "", "    option splice-auto"));
        int port = fw.boundAddresses().get(0).port();
        assertEquals(small + ":" + sha256(data(1, small)), exchange(port, small, 2, 1 << 20));
        StatsSnapshot st = waitForIdle(fw);
        assertEquals(0, st.requestBytesSpliced() + st.responseBytesSpliced(), "a small exchange is not a streamer");
        int big = 32 << 20;
        assertEquals(small + ":" + sha256(data(1, small)), exchange(port, big, 2, 1 << 20));
        waitFor(() -> serverSaw.size() == 2, 10_000);
        assertEquals(big + ":" + sha256(data(2, big)), serverSaw.get(1));
        st = waitForIdle(fw);
        assertTrue(st.requestBytesSpliced() > 0, "a 32 MiB upload becomes a fast streamer: " + st);
    }

    @Test
    @Timeout(60)
    void globalNospliceTurnsEverySpliceOptionOff() throws Exception {
        int size = 4 << 20;
        List<String> serverSaw = new java.util.concurrent.CopyOnWriteArrayList<>();
        TestServer srv = keep(sinkAndSource(size, 4, serverSaw));
        Forwarder fw = start(spliceCfg(srv.port(), "    nosplice",
                "    option splice-request\n    option splice-response\n    option splice-auto"));
        assertEquals(size + ":" + sha256(data(4, size)), exchange(fw.boundAddresses().get(0).port(), size, 6, 8 << 20));
        waitFor(() -> serverSaw.size() == 1, 10_000);
        assertEquals(size + ":" + sha256(data(6, size)), serverSaw.get(0));
        StatsSnapshot st = waitForIdle(fw);
        assertEquals(0, st.requestBytesSpliced() + st.responseBytesSpliced(), "nosplice: " + st);
        assertEquals(0, st.pipesInUse() + st.pipesFree(), "no pipe was ever made");
        assertEquals(2L * size, st.requestBytesCopied() + st.responseBytesCopied());
    }

    /**
     * Seed 000: splice both ways, 20 connections where each side sends 1,000,000 bytes the other
     * does not read. Everything stalls by design; the loop must then sleep, and still serve others.
     */
    @Test
    @Timeout(90)
    void seed000StallCostsNoCpuAndOthersAreStillServed() throws Exception {
        byte[] mb = new byte[1_000_000];
        TestServer stalling = keep(new TestServer(s -> {
            try {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                for (int i = 0; i < 5; i++) {
                    readFully(in, new byte[10]);
                    out.write(mb);
                }
            } catch (IOException e) {
                // closed by the test's teardown while blocked: expected
            }
        }));
        TestServer echo = keep(new TestServer(s -> {
            try (s) {
                s.getInputStream().transferTo(s.getOutputStream());
            } catch (IOException e) {
                // ignore
            }
        }));
        Forwarder fw = start("""
                global
                    maxpipes 50000
                    maxconn 10000

                listen srv1
                    option splice-request
                    option splice-response
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d

                listen other
                    bind 127.0.0.1:0
                    server e1 127.0.0.1:%d
                """.formatted(stalling.port(), echo.port()));
        int port = fw.boundAddresses().get(0).port();
        List<Socket> clients = new ArrayList<>();
        List<Thread> writers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Socket c = keep(connect(port));
            clients.add(c);
            writers.add(Thread.ofPlatform().daemon().start(() -> {
                try {
                    c.getOutputStream().write(mb);
                    readFully(c.getInputStream(), new byte[10]);
                } catch (IOException e) {
                    // closed by teardown
                }
            }));
        }
        // let everything fill up and stall
        waitFor(() -> fw.stats().active() == 20, 10_000);
        long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long prev = -1;
        while (System.nanoTime() < settle) {
            Thread.sleep(500);
            StatsSnapshot st = fw.stats();
            long moved = st.requestBytesSpliced() + st.responseBytesSpliced() + st.requestBytesCopied() + st.responseBytesCopied();
            if (moved == prev) break;
            prev = moved;
        }
        long cpu0 = fw.pollerCpuNanos();
        long passes0 = fw.stats().passes();
        Thread.sleep(3000);
        long cpu = fw.pollerCpuNanos() - cpu0;
        long passes = fw.stats().passes() - passes0;
        assertTrue(cpu < TimeUnit.MILLISECONDS.toNanos(150),
                "a stalled forwarder must sleep: " + cpu / 1_000_000 + " ms CPU in 3 s, " + passes + " passes");
        assertTrue(passes < 300, "the loop spun: " + passes + " passes in 3 s");

        // a fresh connection on another listener is still served
        try (Socket c = connect(fw.boundAddresses().get(1).port())) {
            byte[] msg = data(5, 100_000);
            Thread w = Thread.ofPlatform().start(() -> {
                try {
                    write(c.getOutputStream(), msg);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            byte[] back = new byte[msg.length];
            readFully(c.getInputStream(), back);
            w.join();
            assertEquals(sha256(msg), sha256(back));
        }
        for (Socket c : clients) c.close();
        for (Thread t : writers) t.join(5000);
    }

    /**
     * Seed 004: the server resets while the client is not reading, so the error arrives with a
     * hang-up on an fd nobody is reading. The stream must close, the CPU must not spin, no fd leaks.
     */
    @Test
    @Timeout(60)
    void seed004ServerResetWhileClientNotReading() throws Exception {
        int baseline = openFds();
        for (String opts : new String[] {"", "    option splice-request\n    option splice-response"}) {
            TestServer srv = new TestServer(s -> {
                try {
                    OutputStream out = s.getOutputStream();
                    byte[] chunk = new byte[65536];
                    s.setSoTimeout(100);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                    // fill everything between us and the client, which does not read
                    Thread filler = Thread.ofPlatform().daemon().start(() -> {
                        try {
                            while (System.nanoTime() < deadline) out.write(chunk);
                        } catch (IOException e) {
                            // the reset below ends it
                        }
                    });
                    filler.join(1500);
                    s.setSoLinger(true, 0);
                    s.close(); // RST
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            try (srv; Forwarder fw = Forwarder.start(ConfigParser.parse(spliceCfg(srv.port(), "", opts), "t.cfg"), log::add)) {
                try (Socket c = connect(fw.boundAddresses().get(0).port())) {
                    waitFor(() -> srv.accepted.size() == 1, 5000);
                    waitFor(() -> srv.accepted.get(0).isClosed(), 10_000);
                    waitFor(() -> fw.stats().active() == 0, 5000);
                    long cpu0 = fw.pollerCpuNanos();
                    Thread.sleep(1000);
                    long cpu = fw.pollerCpuNanos() - cpu0;
                    assertTrue(cpu < TimeUnit.MILLISECONDS.toNanos(50), "spinning after the reset: " + cpu / 1_000_000 + " ms");
                    assertThrows(SocketException.class, () -> {
                        InputStream in = c.getInputStream();
                        byte[] b = new byte[1 << 16];
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                        while (System.nanoTime() < deadline) {
                            if (in.read(b) < 0) return; // a clean EOF would be wrong
                        }
                    }, "the server's reset must reach the client as a reset");
                    assertEquals(1, fw.stats().aborts());
                }
            }
        }
        waitFor(() -> openFds() <= baseline, 5000);
        assertTrue(openFds() <= baseline, "fds leaked: " + openFds() + " > " + baseline);
    }

    private static StatsSnapshot waitForIdle(Forwarder fw) throws InterruptedException {
        waitFor(() -> fw.stats().active() == 0, 10_000);
        return fw.stats();
    }

    static void waitFor(java.util.function.BooleanSupplier cond, long ms) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!cond.getAsBoolean() && System.nanoTime() < deadline) Thread.sleep(10);
    }
}
