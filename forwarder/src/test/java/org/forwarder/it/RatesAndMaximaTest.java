package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.ProcessRate;
import org.forwarder.stats.ProxyAverage;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.stats.ProxyMax;
import org.forwarder.stats.ProxyRate;
import org.forwarder.stats.StatsRegistry.Row;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Maxima (smax, qmax, rate_max), time averages (qtime, ctime, ttime), rates (ConnRate, rate,
 * BytesOutRate) and the syscall counters, through real streams with a known concurrency and
 * known waits; read from the test's thread as any reader would.
 */
class RatesAndMaximaTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static Row row(StatsSnapshot st, String name) {
        return st.rows().stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow();
    }

    private static String live(StatsSnapshot st, String name) {
        Row r = row(st, name);
        StringBuilder sb = new StringBuilder(name).append(':');
        for (ProxyCounter c : ProxyCounter.values()) sb.append(' ').append(c.haproxy() == null ? c.name() : c.haproxy()).append('=').append(st.get(r, c));
        for (ProxyMax m : ProxyMax.values()) sb.append(' ').append(m.haproxy()).append('=').append(st.max(r, m));
        for (ProxyRate x : ProxyRate.values()) sb.append(' ').append(x.haproxy()).append('=').append(st.rate(r, x));
        for (ProxyAverage a : ProxyAverage.values()) sb.append(' ').append(a.haproxy()).append('=').append(st.average(r, a));
        return sb.toString();
    }

    /**
     * One server slot (maxconn 1), three clients: the first holds the slot for 300 ms, the two
     * others wait in the queue. smax is 3 on the frontend and backend, 1 on the server; qmax 2.
     * The two queued streams waited at least 300 ms, so the average queue time over the three is
     * at least 200 ms; every stream lived at least as long as it waited. The third client sends
     * nothing until its server connection is up: the first recv finds nothing (EAGAIN).
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void maximaQueueAndTotalTimesAndRates() throws Exception {
        long t0 = System.nanoTime();
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneSlotQueue(server.port(), "20s", "20s"));
        Socket a = Peers.connect(cleanup, fw.port);
        byte[] msg = Peers.Pattern.bytes(3, 10_000);
        assertArrayEquals(msg, Peers.exchange(a, msg));
        StatsSnapshot first = fw.stats();
        assertTrue(first.rate(ProcessRate.CONN_RATE) >= 1, first.render());
        assertTrue(first.rate(ProcessRate.BYTES_OUT_RATE) >= 1, "BytesOutRate " + first.rate(ProcessRate.BYTES_OUT_RATE));
        assertTrue(first.rate(ProcessRate.BYTES_OUT_RATE) <= 2L * msg.length, "BytesOutRate " + first.rate(ProcessRate.BYTES_OUT_RATE));
        assertTrue(first.rate(row(first, "q"), ProxyRate.RATE) >= 1, live(first, "q"));

        Socket b = Peers.connect(cleanup, fw.port);
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("two streams queued", Duration.ofSeconds(5),
                () -> fw.fw.stats().backend("q", ProxyCounter.QCUR) == 2, () -> live(fw.fw.stats(), "q"));
        StatsSnapshot busy = fw.stats();
        Row fe = busy.rows().stream().filter(r -> r.name().equals("q") && r.type() == org.forwarder.stats.StatsRegistry.Type.FRONTEND).findFirst().orElseThrow();
        Row be = busy.rows().stream().filter(r -> r.name().equals("q") && r.type() == org.forwarder.stats.StatsRegistry.Type.BACKEND).findFirst().orElseThrow();
        Row srv = row(busy, "q/s1");
        assertEquals(2, busy.max(be, ProxyMax.QMAX), live(busy, "q"));
        assertEquals(3, busy.max(be, ProxyMax.SMAX), live(busy, "q"));
        assertEquals(1, busy.max(srv, ProxyMax.SMAX), live(busy, "q/s1"));
        long loops = Math.max(1, Peers.suiteLoops());
        // a loop may hold a place for an accept under way: at most one more per other loop
        long feSmax = busy.max(fe, ProxyMax.SMAX);
        assertTrue(feSmax >= 3 && feSmax <= 3 + loops - 1, "frontend smax " + feSmax);
        long rateMax = busy.max(fe, ProxyMax.RATE_MAX);
        assertTrue(rateMax >= 1 && rateMax <= 3, "rate_max " + rateMax);
        long connRateMax = busy.max(ProcessRate.CONN_RATE);
        assertTrue(connRateMax >= 1 && connRateMax <= 3, "MaxConnRate " + connRateMax);

        Peers.sleep(300);
        a.close();
        // The slot goes to the queue's head, first queued first served; with two loops b and c may
        // be queued in either order (each loop queues what it accepted), so both are served at
        // once, each closing once echoed, which frees the slot for the other.
        java.util.List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.List<Thread> clients = new java.util.ArrayList<>();
        for (Socket s : new Socket[] {b, c}) {
            clients.add(Thread.ofVirtual().start(() -> {
                try {
                    assertArrayEquals(msg, Peers.exchange(s, msg));
                    s.close();
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        for (Thread t : clients) assertTrue(t.join(Duration.ofSeconds(15)), "a queued client was not served");
        assertTrue(errors.isEmpty(), errors.toString());
        assertEquals(3, server.accepted.get(), "each stream reached the server once");
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        long qtime = st.average(be, ProxyAverage.QTIME);
        long ttime = st.average(be, ProxyAverage.TTIME);
        long ctime = st.average(be, ProxyAverage.CTIME);
        assertTrue(qtime >= 200 && qtime <= elapsedMs, "qtime " + qtime + ", test took " + elapsedMs + " ms\n" + live(st, "q"));
        assertTrue(ttime >= qtime && ttime <= elapsedMs, "ttime " + ttime + "\n" + live(st, "q"));
        assertTrue(ctime >= 0 && ctime <= elapsedMs, "ctime " + ctime);
        assertEquals(qtime, st.average(srv, ProxyAverage.QTIME), "one server: its streams are the backend's");
        assertEquals(ttime, st.average(srv, ProxyAverage.TTIME));
        // maxima stay after the levels dropped
        assertEquals(2, st.max(be, ProxyMax.QMAX));
        assertEquals(0, st.backend("q", ProxyCounter.QCUR));
        assertTrue(st.get(ProcessCounter.RECV_CALLS) > st.get(ProcessCounter.RECV_EAGAIN), st.render());
        assertTrue(st.get(ProcessCounter.SEND_CALLS) >= 6, st.render());
        assertTrue(st.get(ProcessCounter.EPOLL_WAIT_CALLS) > 0, st.render());
        // the same figures in HAProxy's show stat columns
        org.forwarder.config.Config cfg = org.forwarder.config.ConfigParser.parse(
                Peers.oneSlotQueue(server.port(), "20s", "20s"), "it.cfg");
        java.util.List<org.forwarder.stats.ShowStat.Row> rows = org.forwarder.stats.ShowStat.withLiveFigures(
                org.forwarder.stats.ShowStat.rows(org.forwarder.stats.ShowStat.layout(cfg), org.forwarder.stats.ShowStat.figures(st), 1), st);
        org.forwarder.stats.ShowStat.Row backendRow = rows.stream().filter(r -> r.svname().equals("BACKEND")).findFirst().orElseThrow();
        org.forwarder.stats.ShowStat.Row serverRow = rows.stream().filter(r -> r.svname().equals("s1")).findFirst().orElseThrow();
        assertEquals("2", backendRow.get("qmax"));
        assertEquals("3", backendRow.get("smax"));
        assertEquals(Long.toString(qtime), backendRow.get("qtime"));
        assertEquals(Long.toString(ttime), backendRow.get("ttime"));
        assertEquals("1", serverRow.get("smax"));
    }

    /**
     * A dead server tried first (leastconn), 'retries 2' with 'option redispatch' and 'timeout
     * connect 150ms': two refused connects, each followed by a turn-around of 150 ms, then the
     * live server. The connect time covers both turn-arounds: at least 300 ms.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void connectTimeCoversRetries() throws Exception {
        long t0 = System.nanoTime();
        int dead = Peers.deadPort();
        TestServer alive = cleanup.add(new TestServer("alive", 50, Peers.taggedEcho("alive")));
        Fw fw = Peers.startText(cleanup, Peers.defaults("20s", "retries 2", "timeout connect 150ms", "balance leastconn",
                "option redispatch") + "listen l\n    bind 127.0.0.1:0\n    server dead 127.0.0.1:" + dead
                + "\n    server alive 127.0.0.1:" + alive.port() + "\n");
        Socket c = Peers.connect(cleanup, fw.port);
        assertEquals("alive", Peers.readLine(c.getInputStream()));
        c.close();
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        Row be = st.rows().stream().filter(r -> r.name().equals("l") && r.type() == org.forwarder.stats.StatsRegistry.Type.BACKEND).findFirst().orElseThrow();
        long ctime = st.average(be, ProxyAverage.CTIME);
        assertTrue(ctime >= 300 && ctime <= elapsedMs, "ctime " + ctime + ", test took " + elapsedMs + " ms\n" + live(st, "l"));
        assertEquals(ctime, st.average(row(st, "l/alive"), ProxyAverage.CTIME));
        assertEquals(0, st.average(row(st, "l/dead"), ProxyAverage.CTIME), "no stream reached the dead server");
        assertTrue(st.average(be, ProxyAverage.TTIME) >= ctime);
        assertEquals(0, st.average(be, ProxyAverage.QTIME));
    }

    /**
     * A server that reads nothing for 300 ms while the client pushes 16 MiB through: at most a
     * buffer (16 KiB) per recv and per send, so each of the two moves by at least 1024 calls (or
     * splices, should the stream splice). A short send marks the socket full without calling
     * again, so send's EAGAIN stays rare; the count of EAGAINs never passes the calls. Every
     * byte arrives.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sendsMeetAFullSocket() throws Exception {
        int len = 16 << 20;
        CompletableFuture<Long> got = new CompletableFuture<>();
        TestServer slow = cleanup.add(new TestServer("slow", 50, (s, i) -> {
            Peers.sleep(300);
            InputStream in = s.getInputStream();
            byte[] buf = new byte[1 << 16];
            long n = 0;
            for (int r; (r = in.read(buf)) > 0; ) n += r;
            got.complete(n);
        }));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(slow.port(), "20s"));
        StatsSnapshot before = fw.stats();
        Socket c = Peers.connect(cleanup, fw.port);
        OutputStream out = c.getOutputStream();
        Peers.writePattern(out, 9, len);
        c.shutdownOutput();
        assertEquals(len, got.get(20, TimeUnit.SECONDS));
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(10));
        long recvs = st.get(ProcessCounter.RECV_CALLS) - before.get(ProcessCounter.RECV_CALLS);
        long sends = st.get(ProcessCounter.SEND_CALLS) - before.get(ProcessCounter.SEND_CALLS);
        long splices = st.get(ProcessCounter.SPLICE_CALLS) - before.get(ProcessCounter.SPLICE_CALLS);
        assertTrue(recvs + splices >= len / (16 << 10), st.render());
        assertTrue(sends + splices >= len / (16 << 10), st.render());
        assertTrue(st.get(ProcessCounter.SEND_EAGAIN) <= st.get(ProcessCounter.SEND_CALLS), st.render());
        assertTrue(st.get(ProcessCounter.RECV_EAGAIN) < st.get(ProcessCounter.RECV_CALLS), st.render());
        assertTrue(st.get(ProcessCounter.SPLICE_EAGAIN) <= st.get(ProcessCounter.SPLICE_CALLS), st.render());
        assertTrue(st.get(ProcessCounter.EPOLL_WAIT_CALLS) > before.get(ProcessCounter.EPOLL_WAIT_CALLS));
    }
}
