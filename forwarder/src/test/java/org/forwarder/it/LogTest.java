package org.forwarder.it;

import org.forwarder.Forwarder;
import org.forwarder.config.ConfigParser;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connection log lines (option tcplog, log-format) and events, received on a real UDP syslog
 * socket on 127.0.0.1 and on a Unix datagram socket, checked field by field against what the
 * test did: names, bytes, termination state, counters; the ring's drops; fds back after stop.
 */
class LogTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    @TempDir
    Path dir;

    private static final String PID = Long.toString(ProcessHandle.current().pid());
    /** HAProxy 2.6's rfc3164 header, with our tag: {@code <134>Dec  1 19:54:15 forwarder[pid]: }. */
    private static final String RFC3164 = "<(\\d+)>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d forwarder\\[" + PID + "\\]: ";
    private static final String DATE = "\\[\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\]";

    /** A UDP syslog receiver on 127.0.0.1. */
    static final class Syslog implements AutoCloseable {
        final DatagramSocket socket;
        final List<String> lines = new CopyOnWriteArrayList<>();

        Syslog() throws IOException {
            socket = new DatagramSocket(new InetSocketAddress(Peers.LOOPBACK, 0));
            socket.setSoTimeout(100);
        }

        int port() {
            return socket.getLocalPort();
        }

        /** The next line (without its newline) within {@code max}, or null. */
        String next(Duration max) throws IOException {
            byte[] b = new byte[65536];
            long deadline = System.nanoTime() + max.toNanos();
            while (System.nanoTime() < deadline) {
                DatagramPacket p = new DatagramPacket(b, b.length);
                try {
                    socket.receive(p);
                } catch (SocketTimeoutException e) {
                    continue;
                }
                String s = new String(b, 0, p.getLength(), StandardCharsets.UTF_8);
                assertTrue(s.endsWith("\n"), "a line ends with a newline: " + s);
                return s.substring(0, s.length() - 1);
            }
            return null;
        }

        /** The next line that matches {@code regex} (others, e.g. start notices, are skipped). */
        Matcher await(String regex, Duration max) throws IOException {
            Pattern p = Pattern.compile(regex);
            long deadline = System.nanoTime() + max.toNanos();
            List<String> seen = new ArrayList<>();
            while (System.nanoTime() < deadline) {
                String l = next(Duration.ofMillis(200));
                if (l == null) continue;
                seen.add(l);
                Matcher m = p.matcher(l);
                if (m.matches()) return m;
            }
            throw new AssertionError("no line matching " + regex + " within " + max + "; got " + seen);
        }

        /** Every line that arrives within {@code quiet} of the previous one. */
        List<String> drain(Duration quiet) throws IOException {
            List<String> out = new ArrayList<>();
            String l;
            while ((l = next(quiet)) != null) out.add(l);
            return out;
        }

        @Override
        public void close() {
            socket.close();
        }
    }

    private Syslog syslog() throws IOException {
        return cleanup.add(new Syslog());
    }

    private static String config(int syslogPort, int serverPort, String timeout, String... settings) {
        String[] all = new String[settings.length + 2];
        all[0] = "log global";
        all[1] = "option tcplog";
        System.arraycopy(settings, 0, all, 2, settings.length);
        return "global\n    log 127.0.0.1:" + syslogPort + " local0\n" + Peers.oneServer(serverPort, timeout, all);
    }

    /** Serves: reads 5 bytes, answers {@code n} pattern bytes, closes. */
    private static Peers.Behaviour answer(int n) {
        return (s, i) -> {
            Peers.readExactly(s.getInputStream(), 5);
            Peers.writePattern(s.getOutputStream(), 7, n);
            s.getOutputStream().flush();
        };
    }

    @Test
    void tcplogLineOfAKnownTransferOverUdp() throws Exception {
        Peers.warmUpJdkIo();
        Syslog log = syslog();
        TestServer server = cleanup.add(new TestServer("answer", 50, answer(12345)));
        Map<String, Integer> baseline = Peers.fdKinds();
        Fw fw = Peers.startText(cleanup, config(log.port(), server.port(), "10s"));
        log.await(RFC3164.replace("(\\d+)", "133") + "Proxy l started\\.", Duration.ofSeconds(5));
        int clientPort;
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            clientPort = c.getLocalPort();
            c.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            c.shutdownOutput();
            Peers.Drained d = Peers.drainToEnd(c, Duration.ofSeconds(5));
            assertEquals(12345, d.bytes());
        }
        // local0 (16) * 8 + info (6) = 134; both ends closed cleanly: "--"; a lone connection: 1/1/0/0/0
        Matcher m = log.await(RFC3164 + "127\\.0\\.0\\.1:(\\d+) " + DATE + " l l/s (\\d+)/(\\d+)/(\\d+) (\\d+) (..) "
                + "(\\d+/\\d+/\\d+/\\d+/\\+?\\d+) (\\d+/\\d+)", Duration.ofSeconds(5));
        assertEquals("134", m.group(1));
        assertEquals(String.valueOf(clientPort), m.group(2));
        long tw = Long.parseLong(m.group(3));
        long tc = Long.parseLong(m.group(4));
        long tt = Long.parseLong(m.group(5));
        assertTrue(tw >= 0 && tc >= 0 && tt >= tw + tc, m.group());
        assertEquals("12345", m.group(6));
        assertEquals("--", m.group(7));
        assertEquals("1/1/0/0/0", m.group(8));
        assertEquals("0/0", m.group(9));
        fw.close();
        log.await(RFC3164.replace("(\\d+)", "132") + "Proxy l stopped \\(cumulated conns: FE: 1, BE: 1\\)\\.", Duration.ofSeconds(5));
        Peers.awaitFdsBackTo(baseline, 8, Duration.ofSeconds(5));
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals("forwarder-log") && t.isAlive()),
                "the log writer thread ended");
    }

    @Test
    void eventsGoToTheGlobalTargetsAtTheirLevels() throws Exception {
        Syslog log = syslog();
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        // no option tcplog: events only (a global target is enough)
        Fw fw = Peers.startText(cleanup, "global\n    log 127.0.0.1:" + log.port() + " local0 notice\n"
                + Peers.oneServer(server.port(), "10s"));
        log.await(RFC3164.replace("(\\d+)", "133") + "Proxy l started\\.", Duration.ofSeconds(5));
        // what the runtime API reports on a server state change, with HAProxy's levels (alert 1, emerg 0)
        fw.fw.events().alert("Server l/s is going DOWN for maintenance.");
        fw.fw.events().emerg("proxy l has no server available!");
        fw.fw.events().info("below the target's max level: not sent");
        log.await(RFC3164.replace("(\\d+)", "129") + "Server l/s is going DOWN for maintenance\\.", Duration.ofSeconds(5));
        log.await(RFC3164.replace("(\\d+)", "128") + "proxy l has no server available!", Duration.ofSeconds(5));
        fw.close();
        List<String> rest = log.drain(Duration.ofMillis(500));
        assertTrue(rest.stream().noneMatch(l -> l.contains("not sent")), rest.toString());
        assertTrue(rest.stream().anyMatch(l -> l.matches(RFC3164.replace("(\\d+)", "132") + "Proxy l stopped .*")), rest.toString());
    }

    @Test
    void refusedServerIsSC() throws Exception {
        Syslog log = syslog();
        Fw fw = Peers.startText(cleanup, config(log.port(), Peers.deadPort(), "10s", "retries 1"));
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            c.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            Peers.drainToEnd(c, Duration.ofSeconds(10));
        }
        // HAProxy 2.6: "l1/s1 1/-1/524 0 SC 1/1/0/0/1 0/0" (one retry, never connected)
        log.await(RFC3164 + "127\\.0\\.0\\.1:\\d+ " + DATE + " l l/s \\d+/-1/\\d+ 0 SC 1/1/0/0/1 0/0", Duration.ofSeconds(10));
    }

    @Test
    void clientTimeoutIsCD() throws Exception {
        Syslog log = syslog();
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, config(log.port(), server.port(), "300ms"));
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            Peers.drainToEnd(c, Duration.ofSeconds(5)); // says nothing: its timeout ends the stream
        }
        log.await(RFC3164 + "127\\.0\\.0\\.1:\\d+ " + DATE + " l l/s \\d+/\\d+/\\d+ 0 cD 1/1/0/0/0 0/0", Duration.ofSeconds(5));
    }

    @Test
    void serverResetIsSD() throws Exception {
        Syslog log = syslog();
        TestServer server = cleanup.add(new TestServer("reset", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 5);
            s.getOutputStream().write(new byte[100]);
            s.getOutputStream().flush();
            Peers.sleep(100);
            Peers.reset(s);
        }));
        Fw fw = Peers.startText(cleanup, config(log.port(), server.port(), "10s"));
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            c.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            Peers.drainToEnd(c, Duration.ofSeconds(5));
        }
        log.await(RFC3164 + "127\\.0\\.0\\.1:\\d+ " + DATE + " l l/s \\d+/\\d+/\\d+ 100 SD 1/1/0/0/0 0/0", Duration.ofSeconds(5));
    }

    @Test
    void dontlognullSkipsAConnectionThatSentNothing() throws Exception {
        Syslog log = syslog();
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, config(log.port(), server.port(), "10s", "option dontlognull"));
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            c.shutdownOutput();
            Peers.drainToEnd(c, Duration.ofSeconds(5));
        }
        fw.awaitIdle(Duration.ofSeconds(5));
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            assertEquals("abc", new String(Peers.exchange(c, "abc".getBytes(StandardCharsets.US_ASCII)), StandardCharsets.US_ASCII));
            c.shutdownOutput();
            Peers.drainToEnd(c, Duration.ofSeconds(5));
        }
        fw.awaitIdle(Duration.ofSeconds(5));
        fw.close();
        List<String> lines = log.drain(Duration.ofMillis(500)).stream().filter(l -> l.contains(" l l/s ")).toList();
        assertEquals(1, lines.size(), "only the connection that sent bytes is logged: " + lines);
        assertTrue(lines.getFirst().contains(" 3 -- "), lines.getFirst());
    }

    @Test
    void logFormatWithUnixDatagramTarget() throws Exception {
        Syscalls sys = Syscalls.get();
        Path path = dir.resolve("log.sock");
        int fd = sys.socket(SockConst.AF_UNIX, SockConst.SOCK_DGRAM | SockConst.SOCK_CLOEXEC, 0);
        assertTrue(fd >= 0);
        try {
            assertEquals(0, sys.bind(fd, SockAddr.unix(path.toString())));
            TestServer server = cleanup.add(new TestServer("answer", 50, answer(777)));
            Fw fw = Peers.startText(cleanup, "global\n    log-tag fwd-test\n" + Peers.defaults("10s") + """
                    listen l
                        bind 127.0.0.1:0
                        log %s len 200 format rfc5424 local1 info
                        log-format "%%ci %%f %%b/%%s %%U %%B %%ts %%ac/%%fc/%%bc/%%sc/%%rc %%Tt %%pid %%%%"
                        server s 127.0.0.1:%d
                    """.formatted(path, server.port()));
            try (Socket c = Peers.connect(cleanup, fw.port)) {
                c.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                c.shutdownOutput();
                assertEquals(777, Peers.drainToEnd(c, Duration.ofSeconds(5)).bytes());
            }
            String line = receive(sys, fd, Duration.ofSeconds(5));
            assertNotNull(line, "a line on the Unix datagram socket");
            // local1 (17) * 8 + info (6) = 142; rfc5424: version, ISO date with microseconds, no hostname
            Matcher m = Pattern.compile("<142>1 \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}[+-]\\d\\d:\\d\\d - fwd-test "
                    + PID + " - - 127\\.0\\.0\\.1 l l/s 5 777 -- 1/1/0/0/0 (\\d+) " + PID + " %\n").matcher(line);
            assertTrue(m.matches(), line);
        } finally {
            sys.close(fd);
        }
    }

    /** One datagram from {@code fd} (non-blocking polls), as text; null after {@code max}. */
    private static String receive(Syscalls sys, int fd, Duration max) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(65536);
            long deadline = System.nanoTime() + max.toNanos();
            while (System.nanoTime() < deadline) {
                long n = sys.recv(fd, buf, 0, buf.byteSize(), SockConst.MSG_DONTWAIT);
                if (n > 0) return new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
                Peers.sleep(5);
            }
            return null;
        }
    }

    @Test
    void aFullRingDropsAndCountsLines() throws Exception {
        Syslog log = syslog();
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        String text = config(log.port(), server.port(), "10s").replaceFirst("^global\n", "global\n    nbthread 1\n");
        List<String> messages = new CopyOnWriteArrayList<>();
        Forwarder f = Forwarder.start(ConfigParser.parse(text, "it.cfg"), messages::add, Syscalls::newInstance, 2);
        try {
            f.logWriter().hold(true);
            int port = f.boundAddresses().getFirst().port();
            for (int i = 0; i < 5; i++) {
                try (Socket c = Peers.connect(cleanup, port)) {
                    Peers.exchange(c, new byte[] {1});
                    c.shutdownOutput();
                    Peers.drainToEnd(c, Duration.ofSeconds(5));
                }
                Peers.waitUntil("stream closed", Duration.ofSeconds(5), () -> f.stats().active() == 0);
            }
            f.sync();
            assertEquals(3, f.stats().get(ProcessCounter.LOG_DROPPED), "two fit in the ring, three are dropped");
            f.logWriter().hold(false);
            long lines = 0;
            String l;
            while ((l = log.next(Duration.ofSeconds(1))) != null) if (l.contains(" l l/s ")) lines++;
            assertEquals(2, lines);
        } finally {
            f.close();
        }
    }

    @Test
    void stdoutRawAndStderrShortFromTheProgram() throws Exception {
        TestServer server = cleanup.add(new TestServer("answer", 50, answer(10)));
        int feport = Peers.deadPort();
        Path cfg = dir.resolve("f.cfg");
        java.nio.file.Files.writeString(cfg, """
                global
                    log stdout format raw local0
                    log stderr format short local0 info
                defaults
                    mode tcp
                    log global
                    option tcplog
                    timeout connect 2s
                    timeout client 10s
                    timeout server 10s
                listen l
                    bind 127.0.0.1:%d
                    server s 127.0.0.1:%d
                """.formatted(feport, server.port()));
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "org.forwarder.Main", "-f", cfg.toString()).start();
        try {
            Peers.waitUntil("the program listens", Duration.ofSeconds(20), () -> probeListening(feport));
            try (Socket c = Peers.connect(cleanup, feport)) {
                c.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                c.shutdownOutput();
                assertEquals(10, Peers.drainToEnd(c, Duration.ofSeconds(5)).bytes());
            }
            String out = readLineMatching(p.getInputStream(), " l l/s ", Duration.ofSeconds(10));
            assertTrue(out.matches("127\\.0\\.0\\.1:\\d+ " + DATE + " l l/s \\d+/\\d+/\\d+ 10 -- 1/1/0/0/0 0/0"), out);
            String err = readLineMatching(p.getErrorStream(), " l l/s ", Duration.ofSeconds(10));
            assertTrue(err.matches("<6>127\\.0\\.0\\.1:\\d+ " + DATE + " l l/s \\d+/\\d+/\\d+ 10 -- 1/1/0/0/0 0/0"), err);
        } finally {
            p.destroy();
            if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) p.destroyForcibly();
        }
    }

    /** True once something listens on 127.0.0.1:{@code port} (ss, so no connection is logged). */
    private static boolean probeListening(int port) {
        try {
            Process ss = new ProcessBuilder("ss", "-Hltn", "sport = :" + port).redirectErrorStream(true).start();
            String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            ss.waitFor();
            return !out.isBlank();
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** The first line of {@code in} containing {@code part}, read on a virtual thread for at most {@code max}. */
    private static String readLineMatching(InputStream in, String part, Duration max) throws Exception {
        java.util.concurrent.CompletableFuture<String> f = new java.util.concurrent.CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
                String l;
                while ((l = r.readLine()) != null) {
                    if (l.contains(part)) {
                        f.complete(l);
                        return;
                    }
                }
                f.complete(null);
            } catch (IOException e) {
                f.completeExceptionally(e);
            }
        });
        String l = f.get(max.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        assertNotNull(l, "a line containing '" + part + "'");
        return l;
    }
}
