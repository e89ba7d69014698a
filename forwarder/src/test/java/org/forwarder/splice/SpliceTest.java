package org.forwarder.splice;

import org.forwarder.it.FaultySyscalls;
import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.Pattern;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Kernel splice forwarding: integrity, fallbacks, the pipe pool, and the seed 000/004 regressions.
 * The peers are those of the integration tests ({@link Peers}).
 */
class SpliceTest {
    /** Listen backlog of the test servers. */
    private static final int BACKLOG = 200;
    private static final String SPLICE_BOTH = "    option splice-request\n    option splice-response";

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

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

    /**
     * A forwarder configured by {@link #spliceCfg} in front of a sink-and-source server: it hashes
     * everything it reads (into {@code seenHashes}) while sending {@code respSize} seeded bytes; then shuts.
     */
    private static Fw sinkAndSource(Cleanup owner, int respSize, long seed, List<String> seenHashes,
                                    String extraGlobal, String options) throws Exception {
        return sinkAndSource(owner, respSize, seed, seenHashes, extraGlobal, options, org.forwarder.sys.Syscalls.newInstance());
    }

    private static Fw sinkAndSource(Cleanup owner, int respSize, long seed, List<String> seenHashes,
                                    String extraGlobal, String options, org.forwarder.sys.Syscalls sys) throws Exception {
        TestServer srv = owner.add(new TestServer("sink-and-source", BACKLOG, (s, i) -> {
            Thread writer = sendThenShut(s, Pattern.bytes(seed, respSize));
            seenHashes.add(lengthAndSha(s.getInputStream().readNBytes(80 << 20)));
            writer.join();
        }));
        return Peers.startText(owner, spliceCfg(srv.port(), extraGlobal, options), sys);
    }

    /** Client: sends {@code reqSize} seeded bytes (then FIN) while reading the whole response. */
    private String exchange(int port, int reqSize, long seed, int respMax) throws Exception {
        return exchange(port, reqSize, seed, respMax, 0);
    }

    /** As above, but the client starts reading only after {@code readDelayMs}. */
    private String exchange(int port, int reqSize, long seed, int respMax, long readDelayMs) throws Exception {
        try (Socket c = Peers.connect(cleanup, port)) {
            Thread writer = sendThenShut(c, Pattern.bytes(seed, reqSize));
            if (readDelayMs > 0) Thread.sleep(readDelayMs);
            String got = lengthAndSha(c.getInputStream().readNBytes(respMax));
            writer.join();
            return got;
        }
    }

    /** Starts a thread that writes {@code b} to {@code s}, then shuts the write side (FIN). */
    private static Thread sendThenShut(Socket s, byte[] b) {
        return Thread.ofPlatform().start(() -> {
            try {
                s.getOutputStream().write(b);
                s.shutdownOutput();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    /** "length:SHA-256" of what came, as {@link #expected} gives it for what was sent. */
    private static String lengthAndSha(byte[] got) {
        return got.length + ":" + Peers.sha(got);
    }

    /** "length:SHA-256" of {@code size} bytes of the pattern of {@code seed}. */
    private static String expected(long seed, int size) {
        return size + ":" + Pattern.sha(seed, size);
    }

    @Test
    @Timeout(120)
    void bytesAreIntactBothWaysThroughPipesForManySizes() throws Exception {
        int[] sizes = {0, 1, 4095, 4096, 65537, (1 << 20) + 13, 16 << 20};
        for (int size : sizes) {
            List<String> serverSaw = new CopyOnWriteArrayList<>();
            try (Cleanup perSize = new Cleanup()) {
                Fw fw = sinkAndSource(perSize, size, 7, serverSaw, "", SPLICE_BOTH);
                int port = fw.port;
                String expectResp = expected(7, size);
                String expectReq = expected(11, size);
                ExecutorService pool = Executors.newFixedThreadPool(8);
                try {
                    List<Future<String>> results = new ArrayList<>();
                    for (int i = 0; i < 8; i++) results.add(pool.submit(() -> exchange(port, size, 11, 80 << 20)));
                    for (Future<String> f : results) assertEquals(expectResp, f.get(60, TimeUnit.SECONDS), "response, size " + size);
                } finally {
                    pool.shutdownNow();
                }
                Peers.waitUntil("the server saw all 8 requests", Duration.ofSeconds(10), () -> serverSaw.size() == 8);
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
        byte[] payload = Pattern.bytes(99, size);
        for (int round = 0; round < 5; round++) {
            try (Cleanup perRound = new Cleanup()) {
                TestServer srv = perRound.add(new TestServer("payload", BACKLOG,
                        (s, i) -> s.getOutputStream().write(payload))); // then close at once: the FIN follows the data
                Fw fw = Peers.startText(perRound, spliceCfg(srv.port(), "", "    option splice-response"));
                try (Socket c = Peers.connect(perRound, fw.port)) {
                    Thread.sleep(300); // let pipes and socket buffers fill while nobody reads
                    byte[] got = c.getInputStream().readNBytes(size + 1);
                    assertEquals(size, got.length, "the stream's tail was lost");
                    assertEquals(Peers.sha(payload), Peers.sha(got));
                }
                assertTrue(waitForIdle(fw).responseBytesSpliced() > 0);
            }
        }
    }

    @Test
    @Timeout(60)
    void spliceFailureFallsBackToCopyWithoutLosingAByte() throws Exception {
        int size = 4 << 20;
        List<String> serverSaw = new CopyOnWriteArrayList<>();
        FaultySyscalls sys = new FaultySyscalls();
        Fw fw = sinkAndSource(cleanup, size, 3, serverSaw, "", SPLICE_BOTH, sys);
        int port = fw.port;
        // the very first splice-in of the stream fails, as HAProxy saw with EBADF on some kernels
        sys.failSpliceIns(Errno.EBADF, 1);
        assertEquals(expected(3, size), exchange(port, size, 5, 8 << 20));
        Peers.waitUntil("the server saw the request", Duration.ofSeconds(10), () -> serverSaw.size() == 1);
        assertEquals(expected(5, size), serverSaw.get(0));
        StatsSnapshot st = waitForIdle(fw);
        assertEquals(1, st.spliceFallbacks());
        assertTrue(st.requestBytesCopied() > 0 && st.responseBytesCopied() > 0, "after the failure both directions copy: " + st);

        // mid-stream, with bytes already in the pipe: EINVAL and ENOSYS take the same way out
        for (int errno : new int[] {Errno.EINVAL, Errno.ENOSYS}) {
            serverSaw.clear();
            try (Socket c = Peers.connect(cleanup, port)) {
                OutputStream out = c.getOutputStream();
                InputStream in = c.getInputStream();
                byte[] req = Pattern.bytes(21, size);
                AtomicLong sent = new AtomicLong();
                Thread writer = Thread.ofPlatform().start(() -> {
                    try {
                        for (int off = 0; off < size; off += 65536) {
                            out.write(req, off, Math.min(65536, size - off));
                            if (sent.addAndGet(65536) == 1 << 20) {
                                sys.failSpliceIns(errno, 1);
                            }
                        }
                        c.shutdownOutput();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                byte[] got = in.readNBytes(8 << 20);
                writer.join();
                assertEquals(Pattern.sha(3, size), Peers.sha(got));
            }
            Peers.waitUntil("the server saw the request", Duration.ofSeconds(10), () -> serverSaw.size() == 1);
            assertEquals(expected(21, size), serverSaw.get(0), "request after " + Errno.name(errno));
        }
        assertEquals(3, waitForIdle(fw).spliceFallbacks());
    }

    @Test
    @Timeout(60)
    void pipesAreBoundedByMaxpipesAndReused() throws Exception {
        int size = 16 << 20; // more than loopback socket buffers hold, so a late reader leaves pipes full
        List<String> serverSaw = new CopyOnWriteArrayList<>();
        Fw fw = sinkAndSource(cleanup, size, 8, serverSaw, "    maxpipes 2", SPLICE_BOTH);
        int port = fw.port;
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
            for (Future<String> f : results) assertEquals(expected(8, size), f.get(60, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
            sampler.interrupt();
            sampler.join();
        }
        Peers.waitUntil("the server saw all 8 requests", Duration.ofSeconds(10), () -> serverSaw.size() == 8);
        for (String h : serverSaw) assertEquals(expected(9, size), h);
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
        List<String> serverSaw = new CopyOnWriteArrayList<>();
        int small = 100;
        Fw fw = sinkAndSource(cleanup, small, 1, serverSaw, "", "    option splice-auto");
        int port = fw.port;
        assertEquals(expected(1, small), exchange(port, small, 2, 1 << 20));
        StatsSnapshot st = waitForIdle(fw);
        assertEquals(0, st.requestBytesSpliced() + st.responseBytesSpliced(), "a small exchange is not a streamer");
        int big = 32 << 20;
        assertEquals(expected(1, small), exchange(port, big, 2, 1 << 20));
        Peers.waitUntil("the server saw both requests", Duration.ofSeconds(10), () -> serverSaw.size() == 2);
        assertEquals(expected(2, big), serverSaw.get(1));
        st = waitForIdle(fw);
        assertTrue(st.requestBytesSpliced() > 0, "a 32 MiB upload becomes a fast streamer: " + st);
    }

    @Test
    @Timeout(60)
    void globalNospliceTurnsEverySpliceOptionOff() throws Exception {
        int size = 4 << 20;
        List<String> serverSaw = new CopyOnWriteArrayList<>();
        Fw fw = sinkAndSource(cleanup, size, 4, serverSaw, "    nosplice", SPLICE_BOTH + "\n    option splice-auto");
        assertEquals(expected(4, size), exchange(fw.port, size, 6, 8 << 20));
        Peers.waitUntil("the server saw the request", Duration.ofSeconds(10), () -> serverSaw.size() == 1);
        assertEquals(expected(6, size), serverSaw.get(0));
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
        TestServer stalling = cleanup.add(new TestServer("stalling", BACKLOG, (s, i) -> {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            for (int k = 0; k < 5; k++) {
                Peers.readExactly(in, 10);
                out.write(mb);
            }
            // keep the connection, unread request bytes and all, until the teardown closes it:
            // closing it now would reset the stream, and this test is about streams that stall
            while (!s.isClosed()) Thread.sleep(10);
        }));
        TestServer echo = cleanup.add(new TestServer("echo", BACKLOG, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, """
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
        int port = fw.port;
        List<Socket> clients = new ArrayList<>();
        List<Thread> writers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Socket c = Peers.connect(cleanup, port);
            clients.add(c);
            writers.add(Thread.ofPlatform().daemon().start(() -> {
                try {
                    c.getOutputStream().write(mb);
                    Peers.readExactly(c.getInputStream(), 10);
                } catch (IOException e) {
                    // closed by teardown
                }
            }));
        }
        // let everything fill up and stall
        Peers.waitUntil("20 streams open", Duration.ofSeconds(10), () -> fw.stats().active() == 20);
        long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long prev = -1;
        while (System.nanoTime() < settle) {
            Thread.sleep(500);
            StatsSnapshot st = fw.stats();
            long moved = st.requestBytesSpliced() + st.responseBytesSpliced() + st.requestBytesCopied() + st.responseBytesCopied();
            if (moved == prev) break;
            prev = moved;
        }
        long cpu0 = fw.fw.pollerCpuNanos();
        long passes0 = fw.stats().passes();
        Thread.sleep(3000);
        long cpu = fw.fw.pollerCpuNanos() - cpu0;
        long passes = fw.stats().passes() - passes0;
        assertTrue(cpu < TimeUnit.MILLISECONDS.toNanos(150),
                "a stalled forwarder must sleep: " + cpu / 1_000_000 + " ms CPU in 3 s, " + passes + " passes");
        assertTrue(passes < 300, "the loop spun: " + passes + " passes in 3 s");

        // a fresh connection on another listener is still served
        try (Socket c = Peers.connect(cleanup, fw.fw.boundAddresses().get(1).port())) {
            byte[] msg = Pattern.bytes(5, 100_000);
            Thread w = Thread.ofPlatform().start(() -> {
                try {
                    c.getOutputStream().write(msg);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            byte[] back = Peers.readExactly(c.getInputStream(), msg.length);
            w.join();
            assertEquals(Peers.sha(msg), Peers.sha(back));
        }
        for (Socket c : clients) c.close();
        for (Thread t : writers) t.join(5000);
    }

    /**
     * Seed 004: the server resets while the client is not reading, so the error arrives with a
     * hang-up on an fd nobody is reading. The CPU must not spin while the stream holds what the
     * server sent before its reset (issue 7.1: those bytes are the client's); once the client
     * reads, it gets them and then the reset, and the stream closes without leaking an fd.
     */
    @Test
    @Timeout(60)
    void seed004ServerResetWhileClientNotReading() throws Exception {
        Peers.warmUpJdkIo(); // the test server's virtual threads open the JDK's pollers lazily: not a leak
        int baseline = Peers.fdCount();
        for (String opts : new String[] {"", SPLICE_BOTH}) {
            try (Cleanup perRound = new Cleanup()) {
                TestServer srv = perRound.add(new TestServer("reset", BACKLOG, (s, i) -> {
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
                    Peers.reset(s);
                }));
                Fw fw = Peers.startText(perRound, spliceCfg(srv.port(), "", opts));
                try (Socket c = Peers.connect(perRound, fw.port)) {
                    Peers.waitUntil("the server accepted", Duration.ofSeconds(5), () -> srv.accepted.get() == 1);
                    Peers.waitUntil("the server reset its socket", Duration.ofSeconds(10), () -> srv.finished.get() == 1);
                    Peers.waitUntil("the forwarder saw the reset", Duration.ofSeconds(5), () -> fw.stats().aborts() == 1);
                    long cpu0 = fw.fw.pollerCpuNanos();
                    Thread.sleep(1000);
                    long cpu = fw.fw.pollerCpuNanos() - cpu0;
                    assertTrue(cpu < TimeUnit.MILLISECONDS.toNanos(50), "spinning after the reset: " + cpu / 1_000_000 + " ms");
                    long[] got = new long[1];
                    assertThrows(SocketException.class, () -> {
                        InputStream in = c.getInputStream();
                        byte[] b = new byte[1 << 16];
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                        while (System.nanoTime() < deadline) {
                            int n = in.read(b);
                            if (n < 0) return; // a clean EOF would be wrong
                            got[0] += n;
                        }
                    }, "the server's reset must reach the client as a reset");
                    assertTrue(got[0] > 0, "the bytes sent before the reset must reach the client first");
                    Peers.waitUntil("the stream closed after the reset", Duration.ofSeconds(5), () -> fw.stats().active() == 0);
                    assertEquals(1, fw.stats().aborts());
                }
            }
        }
        Peers.await(Duration.ofSeconds(5), () -> Peers.fdCount() <= baseline);
        assertTrue(Peers.fdCount() <= baseline, "fds leaked: " + Peers.fdCount() + " > " + baseline);
    }

    /**
     * Waits (up to 10 s) until no stream is open and returns the stats; a stream still open fails
     * no test here by itself, only the assertions on the stats do.
     */
    private static StatsSnapshot waitForIdle(Fw fw) {
        Peers.waitUntil("every stream closed", Duration.ofSeconds(10), () -> fw.stats().active() == 0);
        return fw.stats();
    }
}
