package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The runtime API's commands that look at or change streams, servers and limits, against a live
 * forwarder, at each level, with HAProxy 2.6's answers (captured from HAProxy 2.6.12: the same
 * words, the same error lines, "Permission denied" below a command's level).
 */
class RuntimeApiTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    @TempDir
    Path dir;

    private Fw fw;
    private TestServer s1;
    private TestServer s2;

    /** The global log target: syslog lines over UDP. */
    private java.net.DatagramSocket syslog;

    @BeforeEach
    void start() throws Exception {
        s1 = cleanup.add(new TestServer("s1", 50, Peers.taggedEcho("s1")));
        s2 = cleanup.add(new TestServer("s2", 50, Peers.taggedEcho("s2")));
        syslog = cleanup.add(new java.net.DatagramSocket(0, Peers.LOOPBACK));
        syslog.setSoTimeout(5_000);
        fw = cleanup.add(Peers.startText(cleanup, """
                global
                    stats socket %s/user.sock level user
                    stats socket %s/oper.sock level operator
                    stats socket %s/admin.sock level admin
                    log 127.0.0.1:%d local0
                """.formatted(dir, dir, dir, syslog.getLocalPort())
                + Peers.defaults("10s", "timeout queue 5s", "log global", "option tcplog") + """
                frontend fe
                    bind 127.0.0.1:0
                    default_backend be
                backend be
                    server s1 127.0.0.1:%d maxconn 1
                    server s2 127.0.0.1:%d
                """.formatted(s1.port(), s2.port())));
    }

    private String admin(String cmd) throws IOException {
        return CliClient.ask(dir.resolve("admin.sock"), cmd + "\n");
    }

    private String oper(String cmd) throws IOException {
        return CliClient.ask(dir.resolve("oper.sock"), cmd + "\n");
    }

    private String user(String cmd) throws IOException {
        return CliClient.ask(dir.resolve("user.sock"), cmd + "\n");
    }

    /** A client through fe, and the server that answered its first line. */
    private record Client(Socket socket, String server) {}

    private Client connect() throws IOException {
        Socket s = Peers.connect(cleanup, fw.port);
        return new Client(s, Peers.readLine(s.getInputStream()));
    }

    /** The first syslog datagram that contains {@code text} (within 5 s). */
    private String syslogLine(String text) throws IOException {
        byte[] b = new byte[4096];
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            java.net.DatagramPacket p = new java.net.DatagramPacket(b, b.length);
            syslog.receive(p);
            String line = new String(b, 0, p.getLength(), StandardCharsets.UTF_8);
            if (line.contains(text)) return line;
        }
        throw new AssertionError("no syslog line with '" + text + "'");
    }

    private static void assertEchoes(Socket s) throws IOException {
        byte[] msg = "ping\n".getBytes(StandardCharsets.UTF_8);
        assertArrayEquals(msg, Peers.exchange(s, msg));
    }

    private String statField(String server, String column) throws IOException {
        return statField(user("show stat"), server, column);
    }

    private static String statField(String stat, String server, String column) {
        String[] lines = stat.split("\n");
        List<String> header = List.of(lines[0].substring(2).split(",", -1));
        int col = header.indexOf(column);
        for (String l : lines) {
            String[] f = l.split(",", -1);
            if (f.length > col && f[0].equals("be") && f[1].equals(server)) return f[col];
        }
        throw new AssertionError("no row be/" + server + " in show stat");
    }

    // ---- levels --------------------------------------------------------------------------

    @Test
    void eachCommandNeedsItsLevelBeforeItsArgumentsAreLookedAt() throws Exception {
        String denied = "Permission denied\n\n";
        for (String cmd : List.of("show sess", "set server be/s1 state maint", "set weight be/s1 0", "disable server be/s1",
                "enable server be/s1", "set maxconn server be/s1 3", "set maxconn frontend fe 3", "set maxconn global 3",
                "shutdown session 0x1", "shutdown sessions server be/s1", "set server nobe/x state maint")) {
            assertEquals(denied, user(cmd), cmd);
        }
        for (String cmd : List.of("set server be/s1 state maint", "set weight be/s1 0", "shutdown session 0x1",
                "shutdown sessions server be/s1", "set maxconn frontend fe 3", "disable server be/s1")) {
            assertEquals(denied, oper(cmd), cmd);
        }
        assertEquals("\n", oper("show sess"), "operator sees streams (none now)");
        assertEquals("1 (initial 1)\n\n", user("get weight be/s1"));
        assertTrue(user("show servers state").startsWith("1\n# be_id be_name srv_id"));
        assertEquals("no check", statField("s1", "status"), "nothing was changed by the refused commands");
    }

    @Test
    void helpListsEveryCommandAndAPartialCommandListsItsFamily() throws Exception {
        String help = user("help");
        assertTrue(help.startsWith("The following commands are valid at this level:\n"), help);
        for (String usage : List.of("set server <bk>/<srv> [opts]", "shutdown session [id]", "show sess [id]",
                "show servers state [<backend>]", "set maxconn frontend <frontend> <value>", "get weight <bk>/<srv>")) {
            assertTrue(help.contains("\n  " + usage), usage + " in\n" + help);
        }
        assertTrue(help.endsWith("  quit                                    : disconnect\n\n"), help);
        String partial = admin("set maxconn foo");
        assertTrue(partial.startsWith("Unknown command, but maybe one of the following ones is a better match:\n"
                + "  set maxconn frontend <frontend> <value> : change a frontend's maxconn setting\n"
                + "  set maxconn global <value>              : change the per-process maxconn setting\n"
                + "  set maxconn server <bk>/<srv>           : change a server's maxconn setting\n"
                + "  help [<command>]"), partial);
    }

    // ---- servers -------------------------------------------------------------------------

    @Test
    void maintenanceTakesNoNewStreamButKeepsTheOnesItHas() throws Exception {
        List<Client> on1 = new ArrayList<>();
        Client first = connect();
        Client second = connect();
        Client a = first.server.equals("s1") ? first : second;
        assertEquals("s1", a.server, "round-robin used s1 once");
        on1.add(a);

        assertEquals("\n", admin("set server be/s1 state maint"));
        assertEquals("MAINT", statField("s1", "status"));
        assertTrue(user("show servers state be").contains("\n3 be 1 s1 127.0.0.1 0 1 1 1 "), user("show servers state be"));
        assertTrue(fw.log.stream().anyMatch(l -> l.contains("Server be/s1 is going DOWN for maintenance.")), fw.log.toString());
        // and to the global log, at alert (local0 = 16: PRI 16 * 8 + 1), as HAProxy logs it
        assertTrue(syslogLine("Server be/s1 is going DOWN for maintenance.").startsWith("<129>"));
        for (int i = 0; i < 4; i++) assertEquals("s2", connect().server, "no new stream on a server in maintenance");
        assertEchoes(a.socket); // the stream it had goes on

        assertEquals("\n", admin("set server be/s1 state drain"));
        assertEquals("DRAIN", statField("s1", "status"), "drain replaces maintenance, as HAProxy 2.6.12 does");
        // check health 0: HAProxy zeroes it on maintenance and, without checks, never raises it again
        assertTrue(user("show servers state be").matches("(?s).*\n3 be 1 s1 127\\.0\\.0\\.1 2 8 1 1 \\d+ 1 0 0 0 0 0 0 - "
                + s1.port() + " - 0 0 - - 0\n.*"), user("show servers state be"));
        assertTrue(user("show servers state be").matches("(?s).*\n3 be 2 s2 127\\.0\\.0\\.1 2 0 1 1 \\d+ 1 0 2 0 0 0 0 - "
                + s2.port() + " - 0 0 - - 0\n.*"), user("show servers state be"));
        assertEquals("s2", connect().server, "no new stream on a draining server");

        a.socket.close(); // s1's slot (maxconn 1) is free again
        Peers.waitUntil("s1's stream closed", Duration.ofSeconds(5), () -> fw.fw.proxies().backend("be").server("s1").current() == 0);
        assertEquals("\n", admin("enable server be/s1"));
        assertEquals("no check", statField("s1", "status"));
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < 3; i++) seen.add(connect().server);
        assertTrue(seen.contains("s1"), "s1 takes streams again: " + seen);
    }

    @Test
    void weightZeroSendsNothingAndWeightsParseAsHaproxys() throws Exception {
        assertEquals("\n", admin("set weight be/s2 0"));
        assertEquals("0 (initial 1)\n\n", user("get weight be/s2"));
        assertEquals("0", statField("s2", "weight"));
        Client c = connect();
        assertEquals("s1", c.server);
        assertEquals("\n", admin("set server be/s2 weight 300%"));
        assertEquals("3 (initial 1)\n\n", user("get weight be/s2"));
        assertEquals("Absolute weight can only be between 0 and 256 inclusive.\n\n", admin("set server be/s2 weight 257"));
        assertEquals("Relative weight must be positive.\n\n", admin("set server be/s2 weight -1%"));
        assertEquals("Empty weight string empty or preceded by garbage\n\n", admin("set weight be/s2 abc"));
        assertEquals("Trailing garbage in weight string\n\n", admin("set server be/s2 weight 12abc"));
        assertEquals("Require <weight> or <weight%>.\n\n", admin("set weight be/s2"));
        assertEquals("Empty weight string empty or preceded by garbage\n\n", admin("set weight be/s2 \u0661"), "ASCII digits only");
        assertEquals("Trailing garbage in maxconn string\n\n", admin("set maxconn server be/s2 1\u0661"));
        assertEquals("\n", admin("set maxconn server be/s2 +4"));
        assertEquals("4", statField("s2", "slim"));
        assertEquals("3 (initial 1)\n\n", user("get weight be/s2"), "a refused weight changes nothing");
    }

    @Test
    void namesAreCheckedAsHaproxyChecksThem() throws Exception {
        assertEquals("Require 'backend/server'.\n\n", admin("set server be state maint"));
        assertEquals("Require 'backend/server'.\n\n", admin("set server /s1 state maint"));
        assertEquals("No such backend.\n\n", admin("set server nobe/s1 state maint"));
        assertEquals("No such backend.\n\n", admin("disable server fe/s1"));
        assertEquals("No such server.\n\n", admin("set server be/nos state maint"));
        assertEquals("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n", admin("set server be/s1 state up"));
        assertEquals("1 (initial 1)\n\n", user("get weight #3/#1"), "backend and server by #id");
        assertEquals("Can't find backend.\n\n", user("show servers state fe"));
        assertEquals("No such frontend.\n\n", admin("set maxconn frontend be 5"));
        assertEquals("A frontend name is expected.\n\n", admin("set maxconn frontend"));
        assertEquals("Value out of range.\n\n", admin("set maxconn frontend fe -1"));
        assertEquals("Integer value expected.\n\n", admin("set maxconn frontend fe abc"));
        assertEquals("Require <maxconn>.\n\n", admin("set maxconn server be/s1"));
        assertEquals("Trailing garbage in maxconn string\n\n", admin("set maxconn server be/s1 5x"));
        assertEquals("no check", statField("s1", "status"));
    }

    @Test
    void raisingAServerMaxconnServesTheQueueAtOnce() throws Exception {
        assertEquals("\n", admin("set server be/s2 state maint")); // only s1, maxconn 1
        Client held = connect();
        assertEquals("s1", held.server);
        Socket waiting = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("a stream queued", Duration.ofSeconds(5), () -> fw.fw.proxies().backend("be").queued() == 1);
        assertEquals("\n", admin("set maxconn server be/s1 2"));
        assertEquals("s1", Peers.readLine(waiting.getInputStream()), "the queued stream got the new slot");
        assertEchoes(waiting);
        assertEquals("2", statField("s1", "slim"));
        assertEchoes(held.socket);
    }

    @Test
    void aFrontendMaxconnStopsAndResumesAccepting() throws Exception {
        Client open = connect();
        assertEquals("\n", admin("set maxconn frontend fe 0")); // HAProxy: accept nothing
        Socket second = Peers.connect(cleanup, fw.port); // in the backlog: not accepted at the limit
        second.setSoTimeout(300);
        assertThrowsTimeout(second);
        assertTrue(user("show stat").contains("fe,FRONTEND,,,1,1,0,"), "one connection, limit 0: " + user("show stat"));
        assertEquals("\n", admin("set maxconn frontend fe 10"));
        second.setSoTimeout(5_000);
        assertTrue(Peers.readLine(second.getInputStream()).startsWith("s"), "accepted once the limit was raised");
        assertEchoes(open.socket);
    }

    @Test
    void showStatHasRateMaximaAndHidesAddressesBelowOperator() throws Exception {
        assertEchoes(connect().socket);
        assertEchoes(connect().socket);
        String stat = admin("show stat");
        assertEquals("127.0.0.1:" + s1.port(), statField(stat, "s1", "addr"));
        assertEquals("roundrobin", statField(stat, "BACKEND", "algo"));
        // two streams within a second; a sliding window read across a second's edge may see one
        for (String row : List.of("BACKEND", "s1", "s2")) {
            assertTrue(Long.parseLong(statField(stat, row, "rate_max")) >= 1, row + " rate_max\n" + stat);
        }
        String asUser = user("show stat");
        assertEquals("", statField(asUser, "s1", "addr"), "as HAProxy: no address below operator");
        assertEquals("", statField(asUser, "BACKEND", "algo"));
        assertEquals("\n", oper("clear counters"));
        assertEquals("0", statField(user("show stat"), "BACKEND", "rate_max"), "clear counters resets the peaks");
    }

    @Test
    void theGlobalMaxconnMovesUnderItsConfiguredValue() throws Exception {
        String hard = field(user("show info"), "Hard_maxconn");
        assertEquals(hard, field(user("show info"), "Maxconn"));
        assertEquals("\n", admin("set maxconn global 7"));
        assertEquals("7", field(user("show info"), "Maxconn"));
        assertEquals(hard, field(user("show info"), "Hard_maxconn"));
        assertEquals("Value out of range.\n\n", admin("set maxconn global " + (Long.parseLong(hard) + 1)));
        assertEquals("Expects an integer value.\n\n", admin("set maxconn global"));
        assertEquals("\n", admin("set maxconn global 0"));
        assertEquals(hard, field(user("show info"), "Maxconn"), "0 is the configured limit, as in HAProxy");
        assertEchoes(connect().socket);
    }

    private static String field(String info, String name) {
        for (String l : info.split("\n")) if (l.startsWith(name + ": ")) return l.substring(name.length() + 2);
        throw new AssertionError("no '" + name + "' line in:\n" + info);
    }

    private static void assertThrowsTimeout(Socket s) throws IOException {
        try {
            int b = s.getInputStream().read();
            throw new AssertionError("read " + b + " from a connection that should wait at the limit");
        } catch (java.net.SocketTimeoutException expected) {
            // not accepted: nothing came
        }
    }

    // ---- streams ---------------------------------------------------------------------------

    private static final Pattern SESS = Pattern.compile("^(0x[0-9a-f]+): proto=tcpv4 src=127\\.0\\.0\\.1:(\\d+) fe=fe be=be srv=(s[12]) ts=00 "
            + "epoch=0 age=\\d+s calls=\\d+ rate=\\d+ cpu=0 lat=0 rq\\[f=0h,i=0,an=00h,rx=\\w*,wx=,ax=] rp\\[f=0h,i=0,an=00h,rx=\\w*,wx=,ax=] "
            + "scf=\\[8,0h,fd=\\d+] scb=\\[8,0h,fd=\\d+] exp=\\w* rc=0 c_exp=$", Pattern.MULTILINE);

    @Test
    void showSessListsEveryStreamAndShutdownSessionEndsOne() throws Exception {
        Client a = connect();
        Client b = connect();
        String list = oper("show sess");
        Matcher m = SESS.matcher(list);
        List<String> ids = new ArrayList<>();
        List<Integer> ports = new ArrayList<>();
        while (m.find()) {
            ids.add(m.group(1));
            ports.add(Integer.parseInt(m.group(2)));
        }
        assertEquals(2, ids.size(), list);
        assertTrue(ports.contains(a.socket.getLocalPort()) && ports.contains(b.socket.getLocalPort()), list);
        assertTrue(list.endsWith("\n\n"), list);

        String id = ids.get(ports.indexOf(a.socket.getLocalPort()));
        String one = oper("show sess " + id);
        assertTrue(one.startsWith(id + ": ") && one.split("\n").length == 1, one);
        assertEquals("Session not found.\n\n", oper("show sess 0x12345"));

        assertEquals("\n", admin("shutdown session " + id));
        Peers.Drained end = Peers.drainToEnd(a.socket, Duration.ofSeconds(5));
        assertEquals(Peers.End.EOF, end.end(), "an idle stream ends with a FIN, as HAProxy's");
        String logged = syslogLine("127.0.0.1:" + a.socket.getLocalPort() + " [");
        assertTrue(logged.contains(" K- "), "killed by the admin: HAProxy's K- termination state: " + logged);
        assertFalse(oper("show sess").contains(id + ":"));
        assertEchoes(b.socket);
        assertEquals("No such session (use 'show sess').\n\n", admin("shutdown session " + id));
        assertEquals("Session pointer expected (use 'show sess').\n\n", admin("shutdown session"));
        assertEquals("Session pointer expected (use 'show sess').\n\n", admin("shutdown session garbage"));
    }

    @Test
    void streamsOfEveryLoopAreListedAndEndedAndTheirFdsClosed() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Path d2 = java.nio.file.Files.createDirectory(dir.resolve("two"));
        Fw two = cleanup.add(Peers.startText(cleanup, "global\n    nbthread 2\n    stats socket " + d2.resolve("a.sock")
                + " level admin\n" + Peers.oneServer(echo.port(), "10s")));
        Peers.warmUpJdkIo();
        var fdsBefore = Peers.fdKinds();
        List<Socket> clients = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            Socket c = Peers.connect(cleanup, two.port);
            assertEchoes(c);
            clients.add(c);
        }
        String list = CliClient.ask(d2.resolve("a.sock"), "show sess\n");
        Matcher m = Pattern.compile("^0x([0-9a-f]+): ", Pattern.MULTILINE).matcher(list);
        List<String> ids = new ArrayList<>();
        java.util.Set<Long> loops = new java.util.TreeSet<>();
        while (m.find()) {
            ids.add("0x" + m.group(1));
            loops.add(Long.parseLong(m.group(1), 16) & 63);
        }
        assertEquals(12, ids.size(), list);
        System.out.println("streams per loop seen by show sess: " + loops);
        for (String id : ids) assertEquals("\n", CliClient.ask(d2.resolve("a.sock"), "shutdown session " + id + "\n"), id);
        for (Socket c : clients) assertEquals(Peers.End.EOF, Peers.drainToEnd(c, Duration.ofSeconds(5)).end());
        for (Socket c : clients) c.close();
        assertEquals("\n", CliClient.ask(d2.resolve("a.sock"), "show sess\n"));
        Peers.awaitFdsBackTo(fdsBefore, 0, Duration.ofSeconds(5));
    }

    @Test
    void shutdownSessionsServerEndsOnlyThatServersStreams() throws Exception {
        Client a = connect();
        Client b = connect();
        Client on1 = a.server.equals("s1") ? a : b;
        Client on2 = a.server.equals("s1") ? b : a;
        assertEquals("s2", on2.server);
        assertEquals("\n", admin("shutdown sessions server be/s1"));
        assertEquals(Peers.End.EOF, Peers.drainToEnd(on1.socket, Duration.ofSeconds(5)).end());
        assertEchoes(on2.socket);
        assertEquals("No such server.\n\n", admin("shutdown sessions server be/s9"));
    }

    @Test
    void aKilledStreamWithBytesInFlightEndsWithAReset() throws Exception {
        java.nio.channels.SocketChannel c = cleanup.add(java.nio.channels.SocketChannel.open());
        c.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 4096);
        c.connect(new java.net.InetSocketAddress(Peers.LOOPBACK, fw.port));
        // we send and never read: the echo's answers pile up in the forwarder, held for us; the
        // writes stop by themselves once every buffer on the way is full (no thread left writing
        // that could take the reset's error before the reader sees it)
        c.configureBlocking(false);
        java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(1 << 14);
        int idle = 0;
        for (int i = 0; i < 10_000 && idle < 50; i++) {
            chunk.clear();
            if (c.write(chunk) == 0) {
                idle++;
                Peers.sleep(2);
            } else {
                idle = 0;
            }
        }
        Pattern held = Pattern.compile("^(0x[0-9a-f]+): .* rp\\[f=0h,i=([1-9]\\d*),", Pattern.MULTILINE);
        Matcher m = held.matcher(oper("show sess"));
        assertTrue(m.find(), "bytes held for the client: " + oper("show sess"));
        assertEquals("\n", admin("shutdown session " + m.group(1)));
        c.configureBlocking(true);
        Peers.Drained end = Peers.drainToEnd(c.socket(), Duration.ofSeconds(5));
        assertEquals(Peers.End.RESET, end.end(), "bytes it never got: a reset, not a FIN (read " + end.bytes() + ")");
    }
}
