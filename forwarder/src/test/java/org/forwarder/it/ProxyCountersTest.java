package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.forwarder.stats.ProxyCounter.BIN;
import static org.forwarder.stats.ProxyCounter.BOUT;
import static org.forwarder.stats.ProxyCounter.CLI_ABRT;
import static org.forwarder.stats.ProxyCounter.ECON;
import static org.forwarder.stats.ProxyCounter.QCUR;
import static org.forwarder.stats.ProxyCounter.QTOT;
import static org.forwarder.stats.ProxyCounter.SCUR;
import static org.forwarder.stats.ProxyCounter.SRV_ABRT;
import static org.forwarder.stats.ProxyCounter.STOT;
import static org.forwarder.stats.ProxyCounter.TIMEOUTS;
import static org.forwarder.stats.ProxyCounter.WREDIS;
import static org.forwarder.stats.ProxyCounter.WRETR;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per frontend, backend and server figures (HAProxy's show stat columns) through real streams,
 * read from the test's thread straight from the registry (no call into the loop), and readable
 * while the loop is busy.
 */
class ProxyCountersTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** Every figure of one row, for failure messages. */
    private static String row(StatsSnapshot st, String name) {
        StringBuilder sb = new StringBuilder();
        for (var r : st.rows()) {
            if (!r.name().equals(name)) continue;
            sb.append(sb.isEmpty() ? "" : "\n").append(r.type().name().toLowerCase()).append(' ').append(name).append(':');
            for (ProxyCounter c : ProxyCounter.values()) sb.append(' ').append(c.name().toLowerCase()).append('=').append(st.get(r, c));
        }
        return sb.toString();
    }

    /**
     * A dead server, retries 3 with option redispatch (leastconn: the dead server is picked first):
     * two retries there (wretr), the last moved to the live server (wredis), which carries the
     * bytes. Frontend, backend and the live server all count the same bytes.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void retriesRedispatchAndBytesPerFrontendBackendAndServer() throws Exception {
        int dead = Peers.deadPort();
        TestServer alive = cleanup.add(new TestServer("alive", 50, Peers.taggedEcho("alive")));
        Fw fw = Peers.startText(cleanup, Peers.defaults("20s", "retries 3", "timeout connect 100ms", "balance leastconn",
                "option redispatch") + "listen l\n    bind 127.0.0.1:0\n    server dead 127.0.0.1:" + dead
                + "\n    server alive 127.0.0.1:" + alive.port() + "\n");
        Socket c = Peers.connect(cleanup, fw.port);
        assertEquals("alive", Peers.readLine(c.getInputStream()));
        byte[] payload = Peers.Pattern.bytes(7, 100_000);
        assertArrayEquals(payload, Peers.exchange(c, payload));
        StatsSnapshot open = fw.fw.stats();
        assertEquals(1, open.server("l", "alive", SCUR), row(open, "l/alive"));
        assertEquals(1, open.frontend("l", SCUR), row(open, "l"));
        c.close();
        Peers.waitUntil("the stream closed and its slot is free", Duration.ofSeconds(5), () -> {
            StatsSnapshot st = fw.fw.stats();
            return st.active() == 0 && st.server("l", "alive", SCUR) == 0;
        });
        StatsSnapshot st = fw.fw.stats();
        long in = payload.length;
        long out = "alive\n".length() + payload.length;
        for (String name : new String[] {"frontend", "backend", "server"}) {
            long bin = switch (name) {
                case "frontend" -> st.frontend("l", BIN);
                case "backend" -> st.backend("l", BIN);
                default -> st.server("l", "alive", BIN);
            };
            long bout = switch (name) {
                case "frontend" -> st.frontend("l", BOUT);
                case "backend" -> st.backend("l", BOUT);
                default -> st.server("l", "alive", BOUT);
            };
            assertEquals(in, bin, name + " bin\n" + row(st, "l") + "\n" + row(st, "l/alive"));
            assertEquals(out, bout, name + " bout\n" + row(st, "l") + "\n" + row(st, "l/alive"));
        }
        String rows = row(st, "l") + "\n" + row(st, "l/dead") + "\n" + row(st, "l/alive");
        assertEquals(1, st.frontend("l", STOT), rows);
        assertEquals(1, st.backend("l", STOT), rows);
        assertEquals(0, st.frontend("l", SCUR), rows);
        assertEquals(0, st.backend("l", SCUR), rows);
        assertEquals(3, st.backend("l", ECON), rows);
        assertEquals(2, st.backend("l", WRETR), rows);
        assertEquals(1, st.backend("l", WREDIS), rows);
        assertEquals(3, st.server("l", "dead", ECON), rows);
        assertEquals(2, st.server("l", "dead", WRETR), rows);
        assertEquals(1, st.server("l", "dead", WREDIS), "counted on the server it left\n" + rows);
        assertEquals(1, st.server("l", "dead", STOT), "one slot, kept over its retries\n" + rows);
        assertEquals(0, st.server("l", "dead", SCUR), rows);
        assertEquals(0, st.server("l", "dead", BIN), rows);
        assertEquals(1, st.server("l", "alive", STOT), rows);
        assertEquals(0, st.server("l", "alive", ECON), rows);
        assertEquals(st.connectRetries(), st.backend("l", WRETR) + st.backend("l", WREDIS), st.render());
        assertEquals(st.requestBytesCopied() + st.requestBytesSpliced(), st.frontend("l", BIN), st.render());
        assertEquals(0, st.backend("l", QTOT), rows);
    }

    /**
     * Copy and splice: each proxy row counts exactly the bytes sent each way, and how many of them
     * went through pipes, which is what the process counted as spliced (all of them with splice
     * forced, none without).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", "option splice-request\n    option splice-response\n"})
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void bytesSplicedAndCopiedPerProxy(String options) throws Exception {
        SinkSource peers = new SinkSource(cleanup);
        Fw fw = Peers.startText(cleanup, Peers.defaults("20s") + "listen l\n    bind 127.0.0.1:0\n    " + options
                + "    server s 127.0.0.1:" + peers.port() + "\n");
        long req = 3 << 20;
        long resp = 5 << 20;
        peers.check(SinkSource.transfer(fw.port, 1, req, resp));
        StatsSnapshot st = fw.awaitIdleAndReleased(Duration.ofSeconds(5));
        long in = SinkSource.HEADER + req;
        String rows = row(st, "l") + "\n" + row(st, "l/s");
        for (ProxyCounter c : new ProxyCounter[] {BIN, ProxyCounter.BIN_SPLICED}) {
            long want = c == BIN ? in : st.requestBytesSpliced();
            assertEquals(want, st.frontend("l", c), c + " frontend\n" + rows);
            assertEquals(want, st.backend("l", c), c + " backend\n" + rows);
            assertEquals(want, st.server("l", "s", c), c + " server\n" + rows);
        }
        for (ProxyCounter c : new ProxyCounter[] {BOUT, ProxyCounter.BOUT_SPLICED}) {
            long want = c == BOUT ? resp : st.responseBytesSpliced();
            assertEquals(want, st.frontend("l", c), c + " frontend\n" + rows);
            assertEquals(want, st.backend("l", c), c + " backend\n" + rows);
            assertEquals(want, st.server("l", "s", c), c + " server\n" + rows);
        }
        if (options.isEmpty()) {
            assertEquals(0, st.frontend("l", ProxyCounter.BIN_SPLICED), rows);
        } else {
            assertTrue(st.frontend("l", ProxyCounter.BIN_SPLICED) > req / 2, "most request bytes spliced\n" + rows);
            assertTrue(st.frontend("l", ProxyCounter.BOUT_SPLICED) > resp / 2, "most response bytes spliced\n" + rows);
        }
    }

    /**
     * One slot: a second client waits in the queue (qcur 1 while it waits), resets there (a client
     * abort without a server), and the first stream then times out on its server.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void queueClientAbortAndTimeout() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneSlotQueue(echo.port(), "2s", "10s"));
        Socket first = Peers.connect(cleanup, fw.port);
        assertArrayEquals("a".getBytes(), Peers.exchange(first, "a".getBytes()));
        Socket second = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("the second client waits in the queue", Duration.ofSeconds(5),
                () -> fw.fw.stats().backend("q", QCUR) == 1, () -> row(fw.fw.stats(), "q"));
        StatsSnapshot waiting = fw.fw.stats();
        assertEquals(1, waiting.backend("q", QTOT), row(waiting, "q"));
        assertEquals(2, waiting.backend("q", SCUR), "both streams belong to the backend\n" + row(waiting, "q"));
        assertEquals(1, waiting.server("q", "s1", SCUR), "one slot held\n" + row(waiting, "q/s1"));
        Peers.reset(second);
        Peers.waitUntil("the queued client's reset ends its wait", Duration.ofSeconds(5),
                () -> fw.fw.stats().backend("q", QCUR) == 0 && fw.fw.stats().frontend("q", CLI_ABRT) == 1,
                () -> row(fw.fw.stats(), "q"));
        Peers.Drained end = Peers.drainToEnd(first, Duration.ofSeconds(10));
        assertEquals(Peers.End.EOF, end.end(), "an idle stream times out with a clean close");
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        String rows = row(st, "q") + "\n" + row(st, "q/s1");
        assertEquals(1, st.backend("q", CLI_ABRT), rows);
        assertEquals(0, st.server("q", "s1", CLI_ABRT), "the queued client had no server\n" + rows);
        assertEquals(0, st.backend("q", SRV_ABRT), rows);
        assertEquals(1, st.frontend("q", TIMEOUTS), rows);
        assertEquals(1, st.backend("q", TIMEOUTS), rows);
        assertEquals(1, st.server("q", "s1", TIMEOUTS), rows);
        assertEquals(2, st.frontend("q", STOT), rows);
        assertEquals(2, st.backend("q", STOT), rows);
        assertEquals(1, st.server("q", "s1", STOT), rows);
        assertEquals(0, st.frontend("q", SCUR), rows);
        assertEquals(0, st.backend("q", SCUR), rows);
        assertEquals(0, st.server("q", "s1", SCUR), rows);
        assertEquals(0, st.backend("q", QCUR), rows);
        assertEquals(1, st.aborts(), st.render());
        assertEquals(1, st.timeouts(), st.render());
    }

    /** While the loop is stuck in a long task, the counters are still read at once, and are current. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void countersAreReadWhileTheLoopIsBusy() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(echo.port(), "20s"));
        Socket c = Peers.connect(cleanup, fw.port);
        assertArrayEquals("hello".getBytes(), Peers.exchange(c, "hello".getBytes()));
        CountDownLatch busy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        fw.fw.call(w -> {
            w.poller().execute(() -> {
                busy.countDown();
                try {
                    release.await(20, TimeUnit.SECONDS); // the loop does nothing else meanwhile
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            return null;
        });
        try {
            assertTrue(busy.await(10, TimeUnit.SECONDS), "the loop never ran the blocking task");
            // asking the loop would wait for it (and give up after 10 s): the registry answers now
            StatsSnapshot st = fw.fw.stats();
            assertEquals(1, st.accepted(), st.render());
            assertEquals(1, st.active(), st.render());
            assertEquals(5, st.frontend("l", BIN), row(st, "l"));
            assertEquals(5, st.server("l", "s", BOUT), row(st, "l/s"));
            assertEquals(1, fw.fw.counters().get(org.forwarder.stats.ProcessCounter.CUM_CONNS));
            assertEquals(1, busy.getCount() + release.getCount(), "the loop was still held while we read");
        } finally {
            release.countDown();
        }
        c.close();
        fw.awaitIdle(Duration.ofSeconds(5));
    }
}
