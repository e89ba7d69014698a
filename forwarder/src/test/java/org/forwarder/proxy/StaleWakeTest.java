package org.forwarder.proxy;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProxyCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Wakes that arrive from another thread when their reason is gone change nothing. A queued
 * stream is woken by whichever loop frees a slot for it (a grant); the wake travels through the
 * loop's remote stack and may arrive after the wait it was for has ended, and even after the
 * pooled object was recycled for a later stream (see {@link Session}'s class comment). Here
 * another thread (the test's) wakes a stream's object over and over, the way such a late grant
 * wake would: while it waits in the queue without a grant, after it left and its object waits
 * again for a new stream, and while that new stream, granted for real, carries a megabyte each
 * way. The waits must stay waits (no connect without a slot), the transfer must be intact and
 * logged as a clean, once-queued stream.
 */
class StaleWakeTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    @Timeout(60)
    void lateWakesFromAnotherThreadChangeNothing() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        try (StreamReuseTest.Syslog log = new StreamReuseTest.Syslog()) {
            Fw fw = Peers.startText(cleanup, """
                    global
                        nbthread 1
                        log 127.0.0.1:%d local0
                    defaults
                        mode tcp
                        log global
                        option tcplog
                        timeout connect 2s
                        timeout client 20s
                        timeout server 20s
                        timeout queue 20s
                    listen q
                        bind 127.0.0.1:0
                        server s 127.0.0.1:%d maxconn 1
                    """.formatted(log.port(), echo.port()));

            // a holds the only slot; b waits in the queue
            Socket a = Peers.connect(cleanup, fw.port);
            assertArrayEquals("a".getBytes(), Peers.exchange(a, "a".getBytes()));
            Socket b = Peers.connect(cleanup, fw.port);
            Peers.waitUntil("b is queued", WAIT, () -> fw.fw.stats().backend("q", ProxyCounter.QCUR) == 1);
            Session obj = newest(fw);

            // woken without a grant: it stays in the queue, no connection is made for it
            wakeMany(obj, 500);
            Peers.sleep(200);
            stillWaiting(fw, b, echo, 1);

            // b leaves; its object is recycled for c, which waits too: a late wake changes nothing
            Peers.reset(b);
            Peers.waitUntil("b's stream ended", WAIT, () -> fw.fw.stats().backend("q", ProxyCounter.QCUR) == 0
                    && fw.fw.stats().active() == 1);
            fw.fw.call(w -> null); // a pass later, its object is free
            Socket c = Peers.connect(cleanup, fw.port);
            int cPort = c.getLocalPort();
            Peers.waitUntil("c is queued", WAIT, () -> fw.fw.stats().backend("q", ProxyCounter.QCUR) == 1);
            assertSame(obj, newest(fw), "c waits in b's recycled object");
            wakeMany(obj, 500);
            Peers.sleep(200);
            stillWaiting(fw, c, echo, 1);

            // a leaves: c gets the slot for real and carries a megabyte each way under a storm of wakes
            AtomicBoolean storming = new AtomicBoolean(true);
            AtomicLong wakes = new AtomicLong();
            Thread storm = Thread.ofPlatform().daemon().start(() -> {
                while (storming.get()) {
                    obj.wakeForGrant();
                    wakes.incrementAndGet();
                    Thread.onSpinWait();
                }
            });
            try {
                a.close();
                byte[] msg = new byte[1 << 20];
                new Random(cPort).nextBytes(msg);
                c.setSoTimeout(10_000);
                Thread writer = Thread.ofPlatform().start(() -> {
                    try {
                        c.getOutputStream().write(msg);
                        c.shutdownOutput();
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                byte[] back = c.getInputStream().readAllBytes();
                writer.join(10_000);
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                assertArrayEquals(sha.digest(msg), sha.digest(back), "the bytes came back intact");
            } finally {
                storming.set(false);
                storm.join(5_000);
            }
            assertTrue(wakes.get() > 1000, "the storm woke it " + wakes.get() + " times");
            c.close();
            Matcher m = log.await("127\\.0\\.0\\.1:" + cPort + " \\[[^]]+\\] q q/s (-?\\d+)/(-?\\d+)/(\\d+) (\\d+) (..) "
                    + "(\\d+/\\d+/\\d+/\\d+/\\+?\\d+) (\\d+/\\d+)", WAIT);
            assertEquals(String.valueOf(1 << 20), m.group(4), "bytes: " + m.group());
            assertEquals("--", m.group(5), "termination state: " + m.group());
            assertTrue(m.group(6).endsWith("/0"), "no retry: " + m.group());
            assertEquals("0/1", m.group(7), "queued once, as first in line: " + m.group());
            assertEquals(2, echo.accepted.get(), "the server saw a and c only");
            fw.awaitIdleAndReleased(WAIT);
        }
    }

    private static Session newest(Fw fw) {
        Session[] s = new Session[1];
        Peers.waitUntil("the stream is accepted", WAIT, () -> (s[0] = fw.fw.call(w -> w.newestLive())) != null);
        return s[0];
    }

    /** What a late grant wake does: queue a run of the object on its loop, from another thread. */
    private static void wakeMany(Session s, int n) {
        for (int i = 0; i < n; i++) s.wakeForGrant();
    }

    private static void stillWaiting(Fw fw, Socket client, TestServer server, int accepted) throws IOException {
        assertEquals(1, fw.fw.stats().backend("q", ProxyCounter.QCUR), "still queued");
        assertEquals(1, fw.fw.stats().server("q", "s", ProxyCounter.SCUR), "one slot, held by a");
        assertEquals(accepted, server.accepted.get(), "no connection made for the waiting stream");
        client.setSoTimeout(100);
        try {
            int r = client.getInputStream().read();
            throw new AssertionError("the waiting stream got " + r);
        } catch (SocketTimeoutException expected) {
            // nothing came back: it is not connected
        }
    }
}
