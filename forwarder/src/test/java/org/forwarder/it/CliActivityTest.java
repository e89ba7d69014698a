package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.ShowStat;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code show activity}, {@code show pools} and {@code clear counters [all]} against a live
 * forwarder with two loops and a stats socket per level, as HAProxy 2.6 answers them.
 */
class CliActivityTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    @TempDir
    Path dir;

    private Fw fw;

    /** Two loops, a server slot at a time so a second client queues; {@code global}'s lines added. */
    private Fw start(String global) throws Exception {
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        fw = cleanup.add(Peers.startText(cleanup, "global\n    nbthread 2\n" + global
                + "    stats socket " + dir.resolve("user.sock") + " level user\n"
                + "    stats socket " + dir.resolve("oper.sock") + " level operator\n"
                + "    stats socket " + dir.resolve("admin.sock") + " level admin\n"
                + Peers.defaults("10s", "timeout queue 10s") + """
                listen l
                    bind 127.0.0.1:0
                    server s 127.0.0.1:%d maxconn 1
                """.formatted(server.port())));
        return fw;
    }

    private String ask(String level, String line) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(dir.resolve(level + ".sock")));
            ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) c.write(b);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(65536);
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            c.configureBlocking(false);
            while (System.nanoTime() < deadline) {
                in.clear();
                int n = c.read(in);
                if (n < 0) return out.toString(StandardCharsets.UTF_8);
                if (n == 0) Peers.sleep(2);
                else out.write(in.array(), 0, n);
            }
            throw new AssertionError("no complete answer to '" + line + "' within 5 s: " + out);
        }
    }

    /** The figures of an activity line: the total, then each loop's. */
    private static long[] activity(String answer, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + ": (-?\\d+) \\[((?: -?\\d+)+) \\]$").matcher(answer);
        assertTrue(m.find(), "no '" + name + ": total [ per loop ]' line in:\n" + answer);
        long[] perLoop = Arrays.stream(m.group(2).trim().split(" ")).mapToLong(Long::parseLong).toArray();
        long[] out = new long[perLoop.length + 1];
        out[0] = Long.parseLong(m.group(1));
        System.arraycopy(perLoop, 0, out, 1, perLoop.length);
        return out;
    }

    /** Column {@code column} of the {@code show stat} row whose svname is {@code sv}. */
    private static String stat(String stat, String sv, String column) {
        List<String> header = Arrays.asList(ShowStat.HEADER.substring(2).split(",", -1));
        int at = header.indexOf(column);
        assertTrue(at >= 0, column);
        for (String line : stat.split("\n")) {
            String[] f = line.split(",", -1);
            if (f.length > 1 && f[0].equals("l") && f[1].equals(sv)) return f[at];
        }
        throw new AssertionError("no row " + sv + " in:\n" + stat);
    }

    private static String info(String info, String name) {
        for (String l : info.split("\n")) if (l.startsWith(name + ": ")) return l.substring(name.length() + 2);
        throw new AssertionError("no '" + name + "' in:\n" + info);
    }

    private byte[] exchange(Socket s, long seed, int n) throws IOException {
        byte[] msg = Peers.Pattern.bytes(seed, n);
        byte[] back = Peers.exchange(s, msg);
        assertArrayEquals(msg, back);
        return back;
    }

    @Test
    void showActivityHasAColumnPerLoopAndItsFiguresGrow() throws Exception {
        start("");
        String first = ask("user", "show activity");
        assertTrue(first.matches("(?s)thread_id: 0 \\(1\\.\\.2\\)\ndate_now: \\d+\\.\\d{6}\nloops: .*\n\n"), first);
        long[] loops = activity(first, "loops");
        assertEquals(3, loops.length, "a total and two loops: " + first);
        assertEquals(loops[1] + loops[2], loops[0], first);
        for (String name : List.of("accepted", "buf_wait", "conns", "epoll_wait_calls", "epoll_ctl_calls", "recv_calls",
                "recv_eagain", "send_calls", "send_eagain", "splice_calls", "splice_eagain", "accept_pauses",
                "buffers_used", "buffers_allocated", "pipes_used", "pipes_free", "pipes_exhausted")) {
            long[] v = activity(first, name);
            assertEquals(v[1] + v[2], v[0], name + " in\n" + first);
        }
        try (Socket a = Peers.connect(cleanup, fw.port)) {
            exchange(a, 1, 5000);
            fw.fw.sync();
            String after = ask("user", "show activity");
            assertTrue(activity(after, "loops")[0] > loops[0], first + "\n---\n" + after);
            assertEquals(1, activity(after, "accepted")[0], after);
            assertEquals(1, activity(after, "conns")[0], after);
            assertTrue(activity(after, "recv_calls")[0] >= 1 && activity(after, "send_calls")[0] >= 1, after);
        }
    }

    @Test
    void showPoolsGivesHaproxysShapeForBuffersAndPipes() throws Exception {
        start("    tune.bufsize 8192\n    maxpipes 10\n    tune.buffers.limit 40\n");
        String idle = ask("user", "show pools");
        assertTrue(idle.matches("(?s).*: 0 allocated \\(0 bytes\\), 0 used .*: 0 allocated \\(0 bytes\\), 0 used .*"
                + "Total: 2 pools, 0 bytes allocated, 0 used \\(~0 by thread caches\\)\\.\n\n"), idle);
        try (Socket a = Peers.connect(cleanup, fw.port)) {
            exchange(a, 2, 200_000);
            StatsSnapshot st = fw.stats();
            String pools = ask("user", "show pools");
            Matcher m = Pattern.compile("""
                    Dumping pools usage\\. Use SIGQUIT to flush them\\.
                      - Pool buffer \\(8192 bytes\\) : (\\d+) allocated \\((\\d+) bytes\\), (\\d+) used \\(~0 by thread caches\\), needed_avg 0, 0 failures, 2 users, limit 40
                      - Pool pipe \\((\\d+) bytes\\) : (\\d+) allocated \\((\\d+) bytes\\), (\\d+) used \\(~0 by thread caches\\), needed_avg 0, 0 failures, 2 users, limit 10 \\(maxpipes\\)
                    Total: 2 pools, (\\d+) bytes allocated, (\\d+) used \\(~0 by thread caches\\)\\.

                    """).matcher(pools);
            assertTrue(m.matches(), pools);
            long buffers = Long.parseLong(m.group(1)), pipes = Long.parseLong(m.group(5));
            assertTrue(buffers + pipes >= 1, "the open stream moved its bytes through a buffer or a pipe: " + pools);
            assertTrue(buffers <= 40 && pipes <= 10, pools);
            assertEquals(buffers * 8192, Long.parseLong(m.group(2)), pools);
            assertEquals(st.buffersInUse(), Long.parseLong(m.group(3)), pools);
            assertEquals(st.pipesInUse() + st.pipesFree(), pipes, pools);
            assertEquals(st.pipesInUse(), Long.parseLong(m.group(7)), pools);
            long pipeBytes = Long.parseLong(m.group(6));
            assertTrue(pipes == 0 ? pipeBytes == 0 : pipeBytes >= pipes * 4096, pools);
            assertEquals(buffers * 8192 + pipeBytes, Long.parseLong(m.group(8)), pools);
            assertEquals(st.buffersInUse() * 8192L + st.get(ProcessCounter.PIPES_USED_BYTES), Long.parseLong(m.group(9)), pools);
        }
    }

    @Test
    void clearCountersResetsMaximaButNotTotals() throws Exception {
        start("");
        try (Socket a = Peers.connect(cleanup, fw.port)) {
            exchange(a, 3, 1000); // a holds the server's one slot before b comes
            Socket b = Peers.connect(cleanup, fw.port);
            b.getOutputStream().write(Peers.Pattern.bytes(4, 1000)); // waits in the queue: the server takes one at a time
            Peers.waitUntil("the second client queued", Duration.ofSeconds(5),
                    () -> fw.fw.stats().backend("l", org.forwarder.stats.ProxyCounter.QCUR) == 1);
            a.close();
            assertArrayEquals(Peers.Pattern.bytes(4, 1000), Peers.readExactly(b.getInputStream(), 1000));
            b.close();
        }
        fw.awaitIdle(Duration.ofSeconds(5));
        String before = ask("admin", "show stat");
        assertEquals("2", stat(before, "FRONTEND", "smax"), before);
        assertEquals("1", stat(before, "BACKEND", "qmax"), before);
        assertEquals("1", stat(before, "s", "smax"), before);
        assertTrue(Long.parseLong(stat(before, "FRONTEND", "rate_max")) >= 1, before);
        // show info leaves MaxConnRate at 0 so far: the registry's figure behind it
        assertTrue(fw.stats().max(org.forwarder.stats.ProcessRate.CONN_RATE) >= 1);

        assertEquals("\n", ask("oper", "clear counters"));

        String after = ask("admin", "show stat");
        for (String sv : List.of("FRONTEND", "s", "BACKEND")) {
            assertEquals("0", stat(after, sv, "smax"), sv + "\n" + after);
            assertEquals("2", stat(after, sv, "stot"), "totals stay: " + sv + "\n" + after);
            assertEquals("2000", stat(after, sv, "bin"), sv + "\n" + after);
            assertEquals("2000", stat(after, sv, "bout"), sv + "\n" + after);
        }
        assertEquals("0", stat(after, "BACKEND", "qmax"), after);
        assertEquals("0", stat(after, "FRONTEND", "rate_max"), after);
        assertEquals(0, fw.stats().max(org.forwarder.stats.ProcessRate.CONN_RATE));
        String infoAfter = ask("admin", "show info");
        assertEquals("2", info(infoAfter, "CumConns"), "HAProxy never clears the process totals: " + infoAfter);
        assertEquals(0, activity(ask("user", "show activity"), "accepted")[0], "show activity starts again, as HAProxy's");
    }

    @Test
    void clearCountersAllStartsEveryCounterAgainAndCountsTheNextBytesExactly() throws Exception {
        start("");
        try (Socket a = Peers.connect(cleanup, fw.port)) {
            exchange(a, 5, 3000);
        }
        fw.awaitIdle(Duration.ofSeconds(5));
        try (Socket held = Peers.connect(cleanup, fw.port)) {
            exchange(held, 6, 700);
            fw.fw.sync();
            assertEquals("\n", ask("admin", "clear counters all"));
            String cleared = ask("admin", "show stat");
            for (String sv : List.of("FRONTEND", "s", "BACKEND")) {
                assertEquals("1", stat(cleared, sv, "scur"), "a level now is not a counter: " + sv + "\n" + cleared);
                for (String col : List.of("stot", "bin", "bout", "smax")) {
                    assertEquals("0", stat(cleared, sv, col), col + " of " + sv + "\n" + cleared);
                }
            }
            assertEquals("0", stat(cleared, "BACKEND", "ttime"), cleared);
            assertEquals("2", info(ask("admin", "show info"), "CumConns"), "HAProxy never clears the process totals");
            exchange(held, 7, 12_345); // bytes of a stream that began before the clear count from the clear on
        }
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            exchange(c, 8, 54_321);
        }
        fw.awaitIdle(Duration.ofSeconds(5));
        String stat = ask("user", "show stat");
        for (String sv : List.of("FRONTEND", "s", "BACKEND")) {
            assertEquals("0", stat(stat, sv, "scur"), sv + "\n" + stat);
            assertEquals("1", stat(stat, sv, "stot"), sv + "\n" + stat);
            assertEquals(String.valueOf(12_345 + 54_321), stat(stat, sv, "bin"), "byte-exact: " + sv + "\n" + stat);
            assertEquals(String.valueOf(12_345 + 54_321), stat(stat, sv, "bout"), "byte-exact: " + sv + "\n" + stat);
        }
    }

    @Test
    void levels() throws Exception {
        start("");
        assertEquals("Permission denied\n\n", ask("user", "clear counters"));
        assertEquals("Permission denied\n\n", ask("user", "clear counters all"));
        assertEquals("Permission denied\n\n", ask("oper", "clear counters all"));
        assertEquals("\n", ask("admin", "clear counters"));
        assertEquals("\n", ask("admin", "clear counters all"));
        assertTrue(ask("user", "show activity").startsWith("thread_id: "));
        assertTrue(ask("user", "show pools").startsWith("Dumping pools usage."));
        assertEquals("'clear counters' takes 'all' or nothing, got 'now'.\n\n", ask("oper", "clear counters now"));
        assertTrue(ask("user", "show pools x").startsWith("Dumping pools usage."), "words after it are ignored, as HAProxy");
        String help = ask("user", "help");
        // as HAProxy 2.6: every level sees every command; running one above the level is denied
        assertTrue(help.contains("show activity") && help.contains("show pools") && help.contains("clear counters [all]"), help);
    }
}
