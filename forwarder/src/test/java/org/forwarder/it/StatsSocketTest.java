package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ShowStat;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The stats socket's CLI over a real Unix socket, with the JDK's Unix SocketChannel as the client. */
class StatsSocketTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    @TempDir
    Path dir;

    private Path sock;

    private Fw start(String statsLines) throws Exception {
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        return start(statsLines, server.port());
    }

    private Fw start(String statsLines, int serverPort) throws Exception {
        sock = dir.resolve("s.sock");
        return cleanup.add(Peers.startText(cleanup, "global\n    stats socket " + sock + " mode 600 level user\n" + statsLines
                + Peers.oneServer(serverPort, "10s")));
    }

    private SocketChannel client() throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(sock));
        c.configureBlocking(false);
        return cleanup.add(c);
    }

    private static void send(SocketChannel c, String s) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            if (c.write(b) == 0) Peers.sleep(1);
        }
    }

    /** Reads until the peer closes (returns the text) or {@code max} passes (fails). */
    private static String readToEnd(SocketChannel c, Duration max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(65536);
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            b.clear();
            int n = c.read(b);
            if (n < 0) return out.toString(StandardCharsets.UTF_8);
            if (n == 0) {
                Peers.sleep(2);
                continue;
            }
            out.write(b.array(), 0, n);
        }
        throw new AssertionError("the CLI did not close within " + max + "; got so far: " + out);
    }

    /** Reads until the text received ends with {@code end} (within 5 s). */
    private static String readUntil(SocketChannel c, String end) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(65536);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            b.clear();
            int n = c.read(b);
            if (n < 0) throw new AssertionError("closed; got " + out);
            if (n > 0) out.write(b.array(), 0, n);
            else Peers.sleep(2);
            String s = out.toString(StandardCharsets.UTF_8);
            if (s.endsWith(end)) return s;
        }
        throw new AssertionError("no '" + end + "' within 5 s; got " + out);
    }

    private String ask(String line) throws IOException {
        try (SocketChannel c = client()) {
            send(c, line);
            return readToEnd(c, Duration.ofSeconds(5));
        }
    }

    private static String field(String info, String name) {
        for (String l : info.split("\n")) if (l.startsWith(name + ": ")) return l.substring(name.length() + 2);
        throw new AssertionError("no '" + name + "' line in:\n" + info);
    }

    @Test
    void showInfoMovesAfterAConnection() throws Exception {
        Fw fw = start("");
        String info = ask("show info\n");
        assertTrue(info.endsWith("\n\n"), info);
        assertEquals(String.valueOf(fw.fw.loops()), field(info, "Nbthread"));
        assertEquals("0", field(info, "CurrConns"));
        assertEquals(String.valueOf(ProcessHandle.current().pid()), field(info, "Pid"));
        Socket a = Peers.connect(cleanup, fw.port);
        byte[] msg = Peers.Pattern.bytes(1, 1000);
        assertArrayEquals(msg, Peers.exchange(a, msg));
        String after = ask("show info\n");
        assertEquals("1", field(after, "CurrConns"), after);
        assertEquals("1", field(after, "CumConns"), after);
    }

    @Test
    void showStatHasHeaderAndARowPerProxyAndServer() throws Exception {
        start("");
        String stat = ask("show stat\n");
        assertTrue(stat.endsWith("\n\n"), stat);
        List<String> lines = Arrays.asList(stat.split("\n"));
        assertEquals(ShowStat.HEADER, lines.get(0));
        assertEquals(4, lines.size(), stat); // header, frontend, server, backend (split drops the trailing empties)
        assertTrue(lines.get(1).startsWith("l,FRONTEND,"), stat);
        assertTrue(lines.get(2).startsWith("l,s,"), stat);
        assertTrue(lines.get(3).startsWith("l,BACKEND,"), stat);
    }

    @Test
    void severalCommandsOnALineEachEndWithAnEmptyLine() throws Exception {
        start("");
        String out = ask("show info;show stat;help\n");
        int info = out.indexOf("Nbthread: ");
        int stat = out.indexOf(ShowStat.HEADER);
        int help = out.indexOf("The following commands are valid at this level:");
        assertTrue(info >= 0 && stat > info && help > stat, out);
        assertTrue(out.substring(0, stat).endsWith("\n\n"), "show info's answer ends with an empty line");
        assertTrue(out.substring(0, help).endsWith("\n\n"), "show stat's answer ends with an empty line");
        assertTrue(out.contains("\n  show stat                               : report counters for each proxy and server\n"), out);
        assertTrue(out.endsWith("  quit                                    : disconnect\n\n"), out);
    }

    @Test
    void unknownCommandIsHaproxysAnswer() throws Exception {
        start("");
        String out = ask("frobnicate now\n");
        assertTrue(out.startsWith("Unknown command, but maybe one of the following ones is a better match:\n"), out);
        assertTrue(out.endsWith("\n\n"), out);
        assertTrue(ask("show nothing\n").startsWith("Unknown command"));
    }

    @Test
    void aTooLongLineIsRefusedAndClosed() throws Exception {
        start("");
        SocketChannel c = client();
        send(c, "x".repeat(20_000));
        String out = readToEnd(c, Duration.ofSeconds(5));
        assertEquals("Command line too long: over 16384 bytes without a newline; closing.\n\n", out);
    }

    @Test
    void promptModeKeepsTheConnectionUntilQuit() throws Exception {
        start("");
        SocketChannel c = client();
        send(c, "prompt\n");
        assertEquals("\n> ", readUntil(c, "\n> "));
        send(c, "show info\n");
        String info = readUntil(c, "\n> ");
        assertTrue(info.startsWith("Name: forwarder\n"), info);
        assertTrue(info.endsWith("\n\n> "), info);
        send(c, "quit\n");
        assertEquals("", readToEnd(c, Duration.ofSeconds(5)));
    }

    @Test
    void anIdleClientIsClosedAfterStatsTimeout() throws Exception {
        start("    stats timeout 300ms\n");
        SocketChannel c = client();
        long t0 = System.nanoTime();
        assertEquals("", readToEnd(c, Duration.ofSeconds(5)));
        assertTrue(System.nanoTime() - t0 >= 250_000_000L, "closed before the timeout");
    }

    @Test
    void aClientThatNeverEndsItsLineDoesNotStopForwarding() throws Exception {
        SinkSource peers = new SinkSource(cleanup);
        Fw fw = start("    stats timeout 30s\n", peers.port());
        SocketChannel slow = client();
        send(slow, "show in");
        peers.check(SinkSource.transfer(fw.port, 1, 4 << 20, 4 << 20));
        // the slow client is still there, unanswered, and gets its answer once its line ends
        send(slow, "fo\n");
        assertTrue(readToEnd(slow, Duration.ofSeconds(5)).startsWith("Name: forwarder\n"));
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"\n", ";"})
    void aFloodOfCommandsThatIsNeverReadNeitherStopsForwardingNorLosesAnAnswer(String separator) throws Exception {
        SinkSource peers = new SinkSource(cleanup);
        Fw fw = start("    stats timeout 30s\n", peers.port());
        SocketChannel flood = client();
        int commands = (16 * 1024 - 16) / "show stat\n".length();
        send(flood, "prompt\n" + ("show stat" + separator).repeat(commands - 1) + "show stat\n");
        // it reads nothing meanwhile: a transfer and another client are served all the same
        peers.check(SinkSource.transfer(fw.port, 1, 4 << 20, 4 << 20));
        assertTrue(ask("show info\n").startsWith("Name: forwarder\n"));
        send(flood, "quit\n");
        String all = readToEnd(flood, Duration.ofSeconds(10));
        assertEquals(commands, all.split("# pxname,", -1).length - 1, "every command answered, in order");
    }

    @Test
    void theSocketFileIsMode600AndRemovedAtStop() throws Exception {
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Peers.warmUpJdkIo();
        var fdsBefore = Peers.fdKinds();
        Fw fw = start("", server.port());
        assertTrue(Files.exists(sock));
        assertEquals(EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(sock));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(sock), files.toList(), "no temporary name is left");
        }
        ask("show info\n");
        fw.close();
        assertFalse(Files.exists(sock), "the socket file is removed at stop");
        Peers.awaitFdsBackTo(fdsBefore, 4, Duration.ofSeconds(5));
    }

    @Test
    void clientsBeyondStatsMaxconnWaitForAPlace() throws Exception {
        start("    stats maxconn 1\n");
        SocketChannel first = client();
        send(first, "prompt\n");
        assertEquals("\n> ", readUntil(first, "\n> "));
        SocketChannel second = client(); // the kernel queues it; the CLI does not accept it yet
        send(second, "show info\n");
        Peers.sleep(200);
        ByteBuffer b = ByteBuffer.allocate(16);
        assertEquals(0, second.read(b), "the client beyond stats maxconn is not served");
        send(first, "quit\n");
        assertEquals("", readToEnd(first, Duration.ofSeconds(5)));
        assertTrue(readToEnd(second, Duration.ofSeconds(5)).startsWith("Name: forwarder\n"));
    }

    @Test
    void tcpStatsSocket() throws Exception {
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        int port = Peers.deadPort();
        cleanup.add(Peers.startText(cleanup, "global\n    stats socket ipv4@127.0.0.1:" + port + " level user\n"
                + Peers.oneServer(server.port(), "10s")));
        try (Socket s = new Socket(Peers.LOOPBACK, port)) {
            s.getOutputStream().write("show stat\n".getBytes(StandardCharsets.US_ASCII));
            String out = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(out.startsWith(ShowStat.HEADER + "\n"), out);
            assertTrue(out.endsWith("\n\n"), out);
        }
    }

    @Test
    void aStatsSocketThatCannotBeBoundFailsTheStartAndLeavesNothingOpen() throws Exception {
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Peers.warmUpJdkIo();
        var fdsBefore = Peers.fdKinds();
        Path missing = dir.resolve("no-such-dir").resolve("s.sock");
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> Peers.startText(cleanup, "global\n    stats socket " + missing + "\n" + Peers.oneServer(server.port(), "10s")));
        assertTrue(e.getMessage().startsWith("stats socket " + missing + " (it.cfg:2): bind "), e.getMessage());
        assertTrue(e.getMessage().contains("ENOENT"), e.getMessage());
        Peers.awaitFdsBackTo(fdsBefore, 4, Duration.ofSeconds(5));
        Peers.waitUntil("no forwarder thread left", Duration.ofSeconds(5), () -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("forwarder-")));
    }
}
