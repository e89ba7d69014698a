package org.forwarder.proxy;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 11: stream objects are pooled per loop, and nothing of a stream may leak into the next
 * one started in the same object. On one loop, a stream ends in each unusual way (client reset
 * mid-transfer, server reset, client timeout, queued then granted, connect refused with retries
 * and a redispatch, killed by {@code shutdown session}, a spliced stream whose server resets
 * while the pipe holds bytes), on frontends other than the clean one (other timeouts, retries,
 * queue, splice); then a clean stream starts in that very object (checked by identity) and must
 * look new: a half-closed exchange (the server answers after the client's FIN) with its bytes
 * intact (hash), its own tcplog line with termination state "--", its own byte count, no retry,
 * no redispatch, no queue, and a new id. A clean stream on a copy frontend splices nothing, one
 * on a splice frontend splices both ways, whatever the object carried before.
 */
class StreamReuseTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final int L = 0, SR = 1, CT = 2, Q = 3, R = 4, CLEAN = 5, SPLICE_SR = 6, SPLICE_CLEAN = 7;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    @Timeout(90)
    void aRecycledStreamObjectCarriesNothingOver() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        TestServer resetter = cleanup.add(new TestServer("resetter", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 10);
            s.setSoLinger(true, 0); // closed on return: a reset
        }));
        // the clean streams' server: takes everything up to the client's FIN, then sends it all back
        // (a half-closed exchange: a direction the last stream left shut would cut it)
        TestServer collector = cleanup.add(new TestServer("collector", 50, (s, i) -> {
            byte[] all = s.getInputStream().readAllBytes();
            s.getOutputStream().write(all);
            s.getOutputStream().flush();
        }));
        int dead = Peers.deadPort();
        try (Syslog log = new Syslog()) {
            String cfg = """
                    global
                        nbthread 1
                        log 127.0.0.1:%d local0
                    defaults
                        mode tcp
                        log global
                        option tcplog
                        timeout connect 2s
                        timeout client 10s
                        timeout server 10s
                    listen l
                        bind 127.0.0.1:0
                        server s 127.0.0.1:%d
                    listen sr
                        bind 127.0.0.1:0
                        server s 127.0.0.1:%d
                    listen ct
                        bind 127.0.0.1:0
                        timeout client 300ms
                        server s 127.0.0.1:%d
                    listen q
                        bind 127.0.0.1:0
                        timeout queue 10s
                        server s 127.0.0.1:%d maxconn 1
                    listen r
                        bind 127.0.0.1:0
                        timeout connect 200ms
                        retries 2
                        option redispatch
                        server s 127.0.0.1:%d
                    listen c
                        bind 127.0.0.1:0
                        server s 127.0.0.1:%d
                    listen ssr
                        bind 127.0.0.1:0
                        option splice-request
                        option splice-response
                        server s 127.0.0.1:%d
                    listen cs
                        bind 127.0.0.1:0
                        option splice-request
                        option splice-response
                        server s 127.0.0.1:%d
                    """.formatted(log.port(), echo.port(), resetter.port(), echo.port(), echo.port(), dead, collector.port(),
                    resetter.port(), collector.port());
            Fw fw = Peers.startText(cleanup, cfg);
            int[] ports = fw.fw.boundAddresses().stream().mapToInt(a -> a.port()).toArray();
            assertEquals(8, ports.length);
            long reuses0 = fw.fw.call(w -> w.reuses);

            // 1. the client resets in the middle of a transfer
            Socket c = Peers.connect(cleanup, ports[L]);
            Session used = live(fw);
            c.getOutputStream().write(new byte[200_000]);
            Peers.reset(c);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, false);

            // 2. the server resets
            c = Peers.connect(cleanup, ports[SR]);
            used = live(fw);
            c.getOutputStream().write(new byte[10]);
            Peers.drainToEnd(c, WAIT);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, false);

            // 3. the client times out (its frontend's 300 ms; the clean stream then pauses longer than that)
            c = Peers.connect(cleanup, ports[CT]);
            used = live(fw);
            Peers.drainToEnd(c, WAIT);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, true);

            // 4. queued, then granted the slot
            Socket a = Peers.connect(cleanup, ports[Q]);
            assertArrayEquals("a".getBytes(), Peers.exchange(a, "a".getBytes()));
            Socket b = Peers.connect(cleanup, ports[Q]);
            Peers.waitUntil("b is queued", WAIT, () -> fw.fw.stats().queuedTotal() == 1);
            used = live(fw);
            a.shutdownOutput();
            Peers.drainToEnd(a, WAIT);
            assertArrayEquals("b".getBytes(), Peers.exchange(b, "b".getBytes()));
            b.shutdownOutput();
            Peers.drainToEnd(b, WAIT);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, false);

            // 5. connect refused, retried, redispatched, given up
            c = Peers.connect(cleanup, ports[R]);
            used = live(fw);
            c.getOutputStream().write("x".getBytes());
            Peers.drainToEnd(c, WAIT);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, false);

            // 6. killed by shutdown session in the middle of an exchange
            c = Peers.connect(cleanup, ports[L]);
            used = live(fw);
            assertArrayEquals("k".getBytes(), Peers.exchange(c, "k".getBytes()));
            long killed = fw.fw.call(w -> w.newestLive().id);
            assertEquals(true, fw.fw.call(w -> w.killSession(killed)));
            Peers.drainToEnd(c, WAIT);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, false);

            // 7. spliced, and the server resets while the pipe toward it holds bytes; the clean
            //    stream after it is a copy one
            c = Peers.connect(cleanup, ports[SPLICE_SR]);
            used = live(fw);
            try {
                c.getOutputStream().write(new byte[1 << 20]);
            } catch (IOException resetMeanwhile) {
                // the server's reset may reach the client before all of it is written
            }
            Peers.drainToEnd(c, WAIT);
            cleanStreamIn(fw, log, "c", ports[CLEAN], used, false);

            // 8. copied, the client resets mid-transfer; the clean stream after it is a spliced one
            c = Peers.connect(cleanup, ports[L]);
            used = live(fw);
            c.getOutputStream().write(new byte[200_000]);
            Peers.reset(c);
            cleanStreamIn(fw, log, "cs", ports[SPLICE_CLEAN], used, false);

            long reuses = fw.fw.call(w -> w.reuses) - reuses0;
            // each clean stream, and the queued pair's second stream, started in a recycled object
            if (reuses < 8) fail("only " + reuses + " streams started in a recycled object");
        }
    }

    /** The stream the loop started last (the one the test just opened); waits for its accept. */
    private static Session live(Fw fw) {
        Session[] s = new Session[1];
        Peers.waitUntil("the stream is accepted", WAIT, () -> (s[0] = fw.fw.call(w -> w.newestLive())) != null);
        return s[0];
    }

    /**
     * Once the loop is idle, a clean stream on {@code port} (frontend {@code fe}, "cs" splices)
     * must start in {@code used} and look new: a 64 KiB echo, intact; a log line "--" with its
     * own bytes, no retry, no queue; spliced both ways on "cs", copied both ways elsewhere.
     */
    private void cleanStreamIn(Fw fw, Syslog log, String fe, int port, Session used, boolean pause) throws Exception {
        boolean splice = fe.equals("cs");
        StatsSnapshot before = fw.awaitIdleAndReleased(WAIT);
        long oldId = fw.fw.call(w -> used.id);
        Socket c = Peers.connect(cleanup, port);
        int clientPort = c.getLocalPort();
        Session s = live(fw);
        assertSame(used, s, "the clean stream starts in the object the last one ended in");
        long newId = fw.fw.call(w -> s.id);
        assertNotEquals(oldId, newId, "a new stream number");
        byte[] msg = new byte[64 * 1024];
        new Random(clientPort).nextBytes(msg);
        c.getOutputStream().write(msg);
        if (pause) Thread.sleep(700); // longer than the previous frontend's client timeout
        c.shutdownOutput();
        byte[] back = Peers.readExactly(c.getInputStream(), msg.length);
        assertArrayEquals(sha256(msg), sha256(back), "the bytes came back intact");
        assertEquals(-1, c.getInputStream().read());
        c.close();
        Matcher m = log.await("127\\.0\\.0\\.1:" + clientPort + " \\[[^]]+\\] " + fe + " " + fe + "/s (-?\\d+)/(-?\\d+)/(\\d+) (\\d+) (..) "
                + "(\\d+/\\d+/\\d+/\\d+/\\+?\\d+) (\\d+/\\d+)", WAIT);
        assertEquals("0", m.group(1), "Tw: " + m.group());
        assertEquals(String.valueOf(msg.length), m.group(4), "bytes: " + m.group());
        assertEquals("--", m.group(5), "termination state: " + m.group());
        assertEquals("1/1/0/0/0", m.group(6), "connections and retries: " + m.group());
        assertEquals("0/0", m.group(7), "queues: " + m.group());
        StatsSnapshot after = fw.awaitIdleAndReleased(WAIT);
        for (ProxyCounter kind : new ProxyCounter[] {ProxyCounter.BIN_SPLICED, ProxyCounter.BOUT_SPLICED}) {
            long spliced = after.frontend(fe, kind) - before.frontend(fe, kind);
            if (splice) {
                if (spliced <= 0) fail(kind + ": the stream on a splice frontend spliced nothing");
            } else {
                assertEquals(0, spliced, kind + ": the stream on a copy frontend spliced");
            }
        }
    }

    private static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    /** A UDP syslog receiver on 127.0.0.1. */
    static final class Syslog implements AutoCloseable {
        final DatagramSocket socket;

        Syslog() throws IOException {
            socket = new DatagramSocket(new InetSocketAddress(Peers.LOOPBACK, 0));
            socket.setSoTimeout(100);
        }

        int port() {
            return socket.getLocalPort();
        }

        /** The next line containing a match of {@code regex} within {@code max} (others are skipped). */
        Matcher await(String regex, Duration max) throws IOException {
            Pattern p = Pattern.compile(regex);
            long deadline = System.nanoTime() + max.toNanos();
            List<String> seen = new ArrayList<>();
            byte[] b = new byte[65536];
            while (System.nanoTime() < deadline) {
                DatagramPacket d = new DatagramPacket(b, b.length);
                try {
                    socket.receive(d);
                } catch (SocketTimeoutException e) {
                    continue;
                }
                String l = new String(b, 0, d.getLength(), StandardCharsets.UTF_8).strip();
                seen.add(l);
                Matcher m = p.matcher(l);
                if (m.find()) return m;
            }
            throw new AssertionError("no line matching " + regex + " within " + max + "; got " + seen);
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
