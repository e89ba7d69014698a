package org.forwarder.it;

import org.forwarder.config.BackendConfig;
import org.forwarder.config.Config;
import org.forwarder.config.ConfigParser;
import org.forwarder.config.HealthCheck;
import org.forwarder.config.ServerCheck;
import org.forwarder.config.ServerConfig;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.proxy.Backend;
import org.forwarder.proxy.Server;
import org.forwarder.stats.ProxyCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Health checks at run time: a server killed is marked DOWN and gets no more clients, restarted
 * it comes UP and gets them again; backups take over and hand back; maintenance stops the checks;
 * {@code observe layer4} marks down a server that refuses; fds come back after the stop and the
 * loops do not spin between checks. Checks are configured on the records (the parser's part is
 * elsewhere), with a small {@code inter} so that the tests take seconds. Waits are bounded; no
 * assertion is about how fast anything was.
 */
class HealthCheckTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** {@code check inter <inter> rise <rise> fall <fall>} and the rest as HAProxy's defaults. */
    static ServerCheck check(long inter, int rise, int fall, boolean backup) {
        return new ServerCheck(true, inter, inter, inter, rise, fall, 0, null, false, backup, 0, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, false, false);
    }

    /** The configuration of {@code text} with the named servers of backend {@code backend} checked as given. */
    static Config withChecks(Config c, String backend, HealthCheck hc, Map<String, ServerCheck> checks) {
        Map<String, BackendConfig> backends = new LinkedHashMap<>(c.backends());
        BackendConfig b = backends.get(backend);
        List<ServerConfig> servers = new ArrayList<>();
        for (ServerConfig s : b.servers()) {
            ServerCheck sc = checks.getOrDefault(s.name(), s.check());
            servers.add(new ServerConfig(s.name(), s.address(), s.weight(), s.maxconn(), sc, s.where()));
        }
        backends.put(backend, new BackendConfig(b.name(), b.where(), b.balance(), servers, b.timeouts(), b.retries(),
                b.splice(), b.redispatchAfter(), hc));
        return new Config(c.global(), c.frontends(), backends, c.warnings(), c.prometheus());
    }

    /** Global lines put before the defaults (e.g. a stats socket). */
    private String global = "";
    /** Sections put after the listener (e.g. a Prometheus frontend). */
    private String tail = "";

    private Fw start(Map<String, Integer> ports, HealthCheck hc, Map<String, ServerCheck> checks, String... more) throws Exception {
        StringBuilder lines = new StringBuilder();
        ports.forEach((name, port) -> lines.append("    server ").append(name).append(" 127.0.0.1:").append(port).append('\n'));
        for (String m : more) lines.append("    ").append(m).append('\n');
        Config c = ConfigParser.parse(global + Peers.defaults("20s") + """
                listen lb
                    bind 127.0.0.1:0
                    balance roundrobin
                %s""".formatted(lines) + tail, "it.cfg");
        return Peers.startConfig(cleanup, withChecks(c, "lb", hc, checks));
    }

    private TestServer server(String tag, int port) throws IOException {
        return cleanup.add(new TestServer(tag, 100, Peers.taggedEcho(tag), port));
    }

    /** Which server a fresh client reaches ("-" when its connection closed without a tag). */
    private String pickOnce(Fw fw) throws Exception {
        try (Socket s = Peers.connect(cleanup, fw.port)) {
            String tag = Peers.readLine(s.getInputStream());
            return tag == null || tag.isEmpty() ? "-" : tag;
        } catch (IOException e) {
            return "-";
        }
    }

    private List<String> picks(Fw fw, int n) throws Exception {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(pickOnce(fw));
        return out;
    }

    private static Server srv(Fw fw, String name) {
        return fw.fw.proxies().backend("lb").server(name);
    }

    /** Whether a line of the log starts with {@code start} and has {@code parts}, waiting for it a while. */
    private static boolean logged(Fw fw, String start, String... parts) {
        return Peers.await(WAIT, () -> loggedNow(fw, start, parts));
    }

    private static boolean loggedNow(Fw fw, String start, String... parts) {
        for (String line : fw.log) {
            if (!line.startsWith(start)) continue;
            boolean all = true;
            for (String p : parts) all &= line.contains(p);
            if (all) return true;
        }
        return false;
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void killedServerGoesDownGetsNoClientsAndComesBackUp() throws Exception {
        TestServer s1 = server("s1", 0);
        int port1 = s1.port();
        TestServer s2 = server("s2", 0);
        Fw fw = start(Map.of("s1", port1, "s2", s2.port()), HealthCheck.DEFAULT,
                Map.of("s1", check(100, 2, 2, false), "s2", check(100, 2, 2, false)));
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status) && "L4OK".equals(srv(fw, "s2").op.status));
        assertEquals(Set.of("s1", "s2"), new TreeSet<>(picks(fw, 6)), "both servers take clients while up");

        s1.close();
        long killed = System.nanoTime();
        Peers.waitUntil("s1 marked DOWN", WAIT, () -> !srv(fw, "s1").up());
        System.out.println("s1 DOWN after " + (System.nanoTime() - killed) / 1_000_000 + " ms (inter 100 fall 2)");
        assertTrue(logged(fw, "alert: Server lb/s1 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: ",
                "ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."), "log: " + fw.log);
        assertEquals("DOWN", srv(fw, "s1").op.statusText());
        List<String> whileDown = picks(fw, 10);
        assertEquals(List.of("s2", "s2", "s2", "s2", "s2", "s2", "s2", "s2", "s2", "s2"), whileDown, "no client to a DOWN server");

        TestServer again = server("s1", port1);
        Peers.waitUntil("s1 UP again", WAIT, () -> srv(fw, "s1").up());
        assertTrue(again.accepted.get() >= 2, "rise 2: two checks passed on the restarted server");
        assertTrue(logged(fw, "Server lb/s1 is UP, reason: Layer4 check passed, check duration: ",
                "ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."), "log: " + fw.log);
        assertEquals(Set.of("s1", "s2"), new TreeSet<>(picks(fw, 6)), "the server is back in the rotation");
        assertEquals(1, srv(fw, "s1").op.downs(), "one transition to DOWN");
    }

    private void backupsTakeOverAndHandBack(boolean allBackups, Set<String> whileDown) throws Exception {
        TestServer s1 = server("s1", 0);
        int port1 = s1.port();
        TestServer b1 = server("b1", 0);
        TestServer b2 = server("b2", 0);
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("s1", port1);
        ports.put("b1", b1.port());
        ports.put("b2", b2.port());
        HealthCheck hc = new HealthCheck(HealthCheck.Kind.CONNECT, null, List.of(), 0, allBackups);
        Fw fw = start(ports, hc, Map.of("s1", check(100, 2, 2, false), "b1", check(100, 2, 2, true),
                "b2", check(100, 2, 2, true)));
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status));
        assertEquals(Set.of("s1"), new TreeSet<>(picks(fw, 6)), "backups take nothing while an active server is up");

        s1.close();
        Peers.waitUntil("s1 marked DOWN", WAIT, () -> !srv(fw, "s1").up());
        assertTrue(logged(fw, "alert: Server lb/s1 is DOWN", "0 active and 2 backup servers left. Running on backup. 0 sessions active,"),
                "log: " + fw.log);
        assertEquals(whileDown, new TreeSet<>(picks(fw, 6)), "the backups serve while no active server is up");

        server("s1", port1);
        Peers.waitUntil("s1 UP again", WAIT, () -> srv(fw, "s1").up());
        assertEquals(Set.of("s1"), new TreeSet<>(picks(fw, 6)), "handed back to the active server");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void firstBackupTakesOverAndHandsBack() throws Exception {
        backupsTakeOverAndHandBack(false, Set.of("b1"));
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void allBackupsTakeOverWithOptionAllbackups() throws Exception {
        backupsTakeOverAndHandBack(true, Set.of("b1", "b2"));
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void maintenanceStopsTheChecksAndReadyRestartsThem() throws Exception {
        TestServer s1 = server("s1", 0);
        Fw fw = start(Map.of("s1", s1.port()), HealthCheck.DEFAULT, Map.of("s1", check(50, 1, 1, false)));
        Peers.waitUntil("checks reach the server", WAIT, () -> s1.accepted.get() >= 3);
        Backend be = fw.fw.proxies().backend("lb");
        Server sv = srv(fw, "s1");
        fw.fw.proxies().changeServer(be, sv, Server.MAINT, -1, -1);
        Peers.sleep(200); // a check under way when the state changed ends
        int before = s1.accepted.get();
        Peers.sleep(600); // twelve intervals
        assertEquals(before, s1.accepted.get(), "no check reaches a server in maintenance");
        fw.fw.proxies().changeServer(be, sv, Server.READY, -1, -1);
        Peers.waitUntil("checks again after ready", WAIT, () -> s1.accepted.get() > before + 1);
        Peers.waitUntil("UP after its checks pass", WAIT, sv::up);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void observeLayer4MarksDownAServerThatRefuses() throws Exception {
        TestServer live = server("live", 0);
        int dead = Peers.deadPort();
        // inter 60 s: the first check of the second server comes after 30 s, long after the test
        ServerCheck slow = check(60_000, 2, 3, false);
        ServerCheck observed = new ServerCheck(true, 60_000, 60_000, 60_000, 2, 3, 0, null, false, false, 0, true,
                2, ServerCheck.OnError.MARK_DOWN, false, false);
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("live", live.port());
        ports.put("dead", dead);
        Fw fw = start(ports, HealthCheck.DEFAULT, Map.of("live", slow, "dead", observed), "retries 0");
        Peers.waitUntil("live checked", WAIT, () -> srv(fw, "live").op.status != null);
        assertTrue(srv(fw, "dead").up(), "not checked yet: up");
        List<String> seen = picks(fw, 8);
        assertTrue(!srv(fw, "dead").up(), "two refused connects in a row mark it down; picks " + seen);
        assertTrue(logged(fw, "alert: Server lb/dead is DOWN, reason: Health analyze, info: \"Detected 2 consecutive errors, last one was: L4 unsuccessful connection\"",
                "1 active and 0 backup servers left."), "log: " + fw.log);
        assertEquals(List.of("live", "live", "live", "live", "live", "live"), picks(fw, 6), "only the live server after");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checksLeaveNoFdsAndDoNotSpin() throws Exception {
        Peers.warmUpJdkIo();
        TestServer s1 = server("s1", 0);
        int dead = Peers.deadPort();
        Map<String, Integer> baseline = Peers.fdKinds();
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("s1", s1.port());
        ports.put("s2", dead);
        Fw fw = start(ports, HealthCheck.DEFAULT, Map.of("s1", check(100, 2, 2, false), "s2", check(100, 2, 2, false)));
        Peers.waitUntil("s2 DOWN", WAIT, () -> !srv(fw, "s2").up());
        long passes0 = fw.fw.call(w -> w.poller().passes());
        int accepted0 = s1.accepted.get();
        Peers.sleep(1000);
        long passes = fw.fw.call(w -> w.poller().passes()) - passes0;
        int checks = s1.accepted.get() - accepted0;
        assertTrue(checks >= 2, "checks keep running: " + checks);
        // about ten checks per server per second, a few passes each: a spinning loop makes millions
        assertTrue(passes < 5_000, "loop passes in a second of checks: " + passes);
        fw.close();
        Peers.awaitFdsBackTo(baseline, 4, WAIT);
    }

    /** The cells of {@code show stat}'s row of server {@code sv}, by column name. */
    private static Map<String, String> statRow(String csv, String sv) {
        String[] lines = csv.split("\n");
        String[] head = lines[0].substring(2).split(",", -1);
        for (String line : lines) {
            String[] cells = line.split(",", -1);
            if (cells.length < 2 || !cells[0].equals("lb") || !cells[1].equals(sv)) continue;
            Map<String, String> m = new LinkedHashMap<>();
            for (int i = 0; i < head.length && i < cells.length; i++) m.put(head[i], cells[i]);
            return m;
        }
        throw new AssertionError("no row for " + sv + " in " + csv);
    }

    /** The fields of {@code show servers state}'s line of server {@code sv}. */
    private static String[] stateLine(String dump, String sv) {
        for (String line : dump.split("\n")) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[1].equals("lb") && f[3].equals(sv)) return f;
        }
        throw new AssertionError("no line for " + sv + " in " + dump);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void runtimeApiShowsTheChecksAndDisablesThem(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path sock = dir.resolve("admin.sock");
        global = "global\n    stats socket " + sock + " level admin\n";
        tail = """
                frontend prometheus
                    bind 127.0.0.1:0
                    mode http
                    http-request use-service prometheus-exporter if { path /metrics }
                """;
        TestServer s1 = server("s1", 0);
        int dead = Peers.deadPort();
        TestServer s3 = server("s3", 0);
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("s1", s1.port());
        ports.put("s2", dead);
        ports.put("s3", s3.port());
        Fw fw = start(ports, HealthCheck.DEFAULT, Map.of("s1", check(100, 2, 3, false), "s2", check(100, 2, 3, false)));
        Peers.waitUntil("s2 DOWN, s1 checked", WAIT, () -> !srv(fw, "s2").up() && "L4OK".equals(srv(fw, "s1").op.status));

        String stat = CliClient.ask(sock, "show stat\n");
        Map<String, String> r1 = statRow(stat, "s1"), r2 = statRow(stat, "s2"), r3 = statRow(stat, "s3");
        assertTrue(r1.get("status").startsWith("UP"), "s1: " + r1);
        assertTrue(r1.get("check_status").matches("(\\* )?L4OK"), "s1: " + r1);
        assertEquals("Layer4 check passed", r1.get("check_desc"));
        assertEquals(List.of("2", "3", "4"), List.of(r1.get("check_rise"), r1.get("check_fall"), r1.get("check_health")));
        assertEquals("DOWN", r2.get("status"));
        assertTrue(r2.get("check_status").matches("(\\* )?L4CON"), "s2: " + r2);
        assertEquals("Layer4 connection problem", r2.get("check_desc"));
        assertEquals("1", r2.get("chkdown"));
        assertTrue(Long.parseLong(r2.get("chkfail")) >= 1, "s2: " + r2);
        assertEquals("no check", r3.get("status"), "a server without check");
        assertEquals("", r3.get("check_status"));

        Socket m = Peers.connect(cleanup, fw.fw.metricsAddresses().getFirst().port());
        String page = PrometheusTest.request(m, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").body();
        for (String line : List.of("haproxy_server_status{proxy=\"lb\",server=\"s2\",state=\"DOWN\"} 1",
                "haproxy_server_check_status{proxy=\"lb\",server=\"s2\",state=\"L4CON\"} 1",
                "haproxy_server_check_status{proxy=\"lb\",server=\"s1\",state=\"L4OK\"} 1",
                "haproxy_server_check_up_down_total{proxy=\"lb\",server=\"s2\"} 1",
                "haproxy_server_check_code{proxy=\"lb\",server=\"s1\"} 0",
                "haproxy_server_check_failures_total{proxy=\"lb\",server=\"s3\"} NaN",
                "haproxy_backend_check_up_down_total{proxy=\"lb\"} 0")) {
            assertTrue(page.contains(line + "\n"), line + " in\n" + page);
        }
        assertTrue(!page.contains("haproxy_server_check_status{proxy=\"lb\",server=\"s3\""), "no check status for a server without check");

        String state = CliClient.ask(sock, "show servers state\n");
        String[] f2 = stateLine(state, "s2");
        // op state 0 (stopped), check status 8 (L4CON), result 2 (failed), health 0
        assertEquals(List.of("0", "8", "2", "0"), List.of(f2[5], f2[10], f2[11], f2[12]), state);
        String[] f1 = stateLine(state, "s1");
        assertEquals(List.of("2", "6", "3", "4"), List.of(f1[5], f1[10], f1[11], f1[12]), state);

        assertEquals("\n", CliClient.ask(sock, "disable health lb/s1\n"));
        Peers.sleep(200); // a check under way ends
        int before = s1.accepted.get();
        Peers.sleep(500);
        assertEquals(before, s1.accepted.get(), "no check after disable health");
        assertEquals("\n", CliClient.ask(sock, "enable health lb/s1\n"));
        Peers.waitUntil("checks again after enable health", WAIT, () -> s1.accepted.get() > before + 1);

        assertEquals("\n", CliClient.ask(sock, "set server lb/s3 health down\n"));
        assertEquals("DOWN", statRow(CliClient.ask(sock, "show stat\n"), "s3").get("status"));
        assertTrue(logged(fw, "alert: Server lb/s3 is DOWN, changed from CLI. 1 active and 0 backup servers left."), "log: " + fw.log);
        assertEquals(Set.of("s1"), new TreeSet<>(picks(fw, 4)), "no client to a server set down");
        assertEquals("\n", CliClient.ask(sock, "set server lb/s3 health up\n"));
        assertTrue(logged(fw, "Server lb/s3 is UP, changed from CLI. 2 active and 0 backup servers online."), "log: " + fw.log);
        assertEquals(Set.of("s1", "s3"), new TreeSet<>(picks(fw, 4)));
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void configTextChecksServersAndBackups() throws Exception {
        TestServer s1 = server("s1", 0);
        int port1 = s1.port();
        TestServer b1 = server("b1", 0);
        TestServer b2 = server("b2", 0);
        Fw fw = Peers.startText(cleanup, Peers.defaults("20s", "timeout check 1s", "default-server inter 100 rise 2 fall 2") + """
                listen lb
                    bind 127.0.0.1:0
                    option allbackups
                    server s1 127.0.0.1:%d check
                    server b1 127.0.0.1:%d check backup
                    server b2 127.0.0.1:%d backup
                    server off 127.0.0.1:%d check disabled
                """.formatted(port1, b1.port(), b2.port(), Peers.deadPort()));
        Server sv = srv(fw, "s1");
        assertEquals(100, sv.check().interMs(), "default-server's inter");
        Peers.waitUntil("s1 checked", WAIT, () -> "L4OK".equals(sv.op.status));
        assertTrue(srv(fw, "off").inMaintenance(), "disabled starts in maintenance");
        assertEquals(Set.of("s1"), new TreeSet<>(picks(fw, 4)));
        s1.close();
        Peers.waitUntil("s1 DOWN", WAIT, () -> !sv.up());
        assertEquals(Set.of("b1", "b2"), new TreeSet<>(picks(fw, 6)), "option allbackups: every usable backup");
        assertEquals(0, srv(fw, "off").op.downs(), "a server in maintenance is not checked");
    }

    /**
     * A server whose listener closes while the streams it accepted go on: its checks fail, its
     * streams do not. With {@code on-marked-down shutdown-sessions} they end when it goes DOWN,
     * logged with HAProxy's termination state "D-" (measured: bench/logs/compare.py).
     */
    private void streamsOnAServerMarkedDown(boolean shutdownSessions) throws Exception {
        java.net.ServerSocket listener = new java.net.ServerSocket();
        listener.setReuseAddress(true);
        listener.bind(new java.net.InetSocketAddress(Peers.LOOPBACK, 0));
        cleanup.add(listener);
        java.util.concurrent.BlockingQueue<Socket> accepted = new java.util.concurrent.LinkedBlockingQueue<>();
        Thread acceptor = Thread.ofVirtual().start(() -> {
            try {
                while (true) {
                    Socket a = listener.accept();
                    a.setSoTimeout(200);
                    try {
                        if (a.getInputStream().read() == 'x') {
                            a.getOutputStream().write('y');
                            cleanup.add(a);
                            accepted.add(a);
                            continue;
                        }
                    } catch (IOException e) {
                        // a check: reset or nothing sent
                    }
                    a.close();
                }
            } catch (IOException e) {
                // listener closed
            }
        });
        ServerCheck sc = new ServerCheck(true, 100, 100, 100, 1, 1, 0, null, false, false, 0, false, 10,
                ServerCheck.OnError.FAIL_CHECK, shutdownSessions, false);
        LogTest.Syslog syslog = cleanup.add(new LogTest.Syslog());
        global = "global\n    log 127.0.0.1:" + syslog.port() + " local0\n";
        Fw fw = start(Map.of("s1", listener.getLocalPort()), HealthCheck.DEFAULT, Map.of("s1", sc), "log global", "option tcplog");
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write('x');
        assertEquals('y', c.getInputStream().read());
        Socket srvSide = accepted.take();
        listener.close();
        acceptor.join(5000);
        Peers.waitUntil("s1 DOWN", WAIT, () -> !srv(fw, "s1").up());
        if (shutdownSessions) {
            Peers.waitUntil("the stream ended", WAIT, () -> fw.fw.stats().active() == 0);
            c.setSoTimeout(5000);
            int r;
            try {
                r = c.getInputStream().read();
            } catch (IOException e) {
                r = -1; // reset
            }
            assertEquals(-1, r, "the client's stream ended when its server went DOWN");
            syslog.await(".*127\\.0\\.0\\.1:" + c.getLocalPort() + " \\[.*\\] lb lb/s1 \\S+ \\d+ D- .*", WAIT);
        } else {
            Peers.sleep(300);
            srvSide.setSoTimeout(5000);
            c.getOutputStream().write('z');
            assertEquals('z', srvSide.getInputStream().read(), "the stream goes on on a DOWN server");
            assertEquals(1, fw.fw.stats().active());
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void onMarkedDownShutdownSessionsEndsTheServersStreams() throws Exception {
        streamsOnAServerMarkedDown(true);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void withoutItStreamsOnADownServerGoOn() throws Exception {
        streamsOnAServerMarkedDown(false);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void drainKeepsItsStreamsTakesNoNewOnesAndIsStillChecked() throws Exception {
        TestServer s1 = server("s1", 0);
        TestServer s2 = server("s2", 0);
        Fw fw = start(Map.of("s1", s1.port(), "s2", s2.port()), HealthCheck.DEFAULT,
                Map.of("s1", check(100, 2, 2, false), "s2", check(100, 2, 2, false)));
        Peers.waitUntil("first checks done", WAIT, () -> srv(fw, "s1").op.status != null && srv(fw, "s2").op.status != null);
        Socket held = null;
        for (int i = 0; i < 4 && held == null; i++) {
            Socket c = Peers.connect(cleanup, fw.port);
            if ("s1".equals(Peers.readLine(c.getInputStream()))) held = c;
            else c.close();
        }
        assertTrue(held != null, "a stream on s1");
        Backend be = fw.fw.proxies().backend("lb");
        fw.fw.proxies().changeServer(be, srv(fw, "s1"), Server.DRAIN, -1, -1);
        assertEquals(List.of("s2", "s2", "s2", "s2", "s2"), picks(fw, 5), "no new stream on a draining server");
        assertEquals("ping", new String(Peers.exchange(held, "ping".getBytes())), "its stream goes on");
        int checks = s1.accepted.get();
        Peers.waitUntil("still checked while draining", WAIT, () -> s1.accepted.get() > checks + 1);
        assertTrue(srv(fw, "s1").up(), "UP and draining");
    }

    /** Refused clients (retries 0, error-limit 1) until {@code on-error} marks the server DOWN (rise 2, fall 5, health at its top). */
    private int refusalsUntilDown(ServerCheck.OnError onError) throws Exception {
        TestServer live = server("live", 0);
        ServerCheck slow = check(60_000, 2, 5, false);
        ServerCheck observed = new ServerCheck(true, 60_000, 60_000, 60_000, 2, 5, 0, null, false, false, 0, true,
                1, onError, false, false);
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("live", live.port());
        ports.put("dead", Peers.deadPort());
        Fw fw = start(ports, HealthCheck.DEFAULT, Map.of("live", slow, "dead", observed), "retries 0");
        Server dead = srv(fw, "dead");
        fw.fw.proxies().forceHealth(fw.fw.proxies().backend("lb"), dead, true);
        assertEquals("UP", dead.op.statusText());
        int refused = 0;
        for (int i = 0; i < 40 && dead.up(); i++) {
            if (pickOnce(fw).equals("-")) refused++;
        }
        assertTrue(!dead.up(), "marked down at last");
        assertTrue(logged(fw, "alert: Server lb/dead is DOWN, reason: Health analyze, info: \"Detected 1 consecutive errors"), "log " + fw.log);
        return refused;
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void onErrorModesTakeHaproxysNumberOfErrors() throws Exception {
        assertEquals(1, refusalsUntilDown(ServerCheck.OnError.MARK_DOWN), "mark-down: at once");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void suddenDeathLeavesOneMoreError() throws Exception {
        assertEquals(2, refusalsUntilDown(ServerCheck.OnError.SUDDEN_DEATH), "sudden-death: to the last step, then down");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void failCheckCountsAsFailedChecks() throws Exception {
        assertEquals(5, refusalsUntilDown(ServerCheck.OnError.FAIL_CHECK), "fail-check: fall failed checks");
    }
    /**
     * HAProxy 2.6.12, right after "set server lb/s1 state ready": show stat "UP 1/3", health =
     * rise, and the next check at once (not a full inter later) takes it to the top. The server
     * holds the check's answer until told, so the state before that check is seen.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void leavingMaintenanceIsUpAtOnceAndCheckedAtOnce() throws Exception {
        java.net.ServerSocket ss = new java.net.ServerSocket();
        cleanup.add(ss);
        ss.bind(new java.net.InetSocketAddress(Peers.LOOPBACK, 0));
        java.util.concurrent.atomic.AtomicBoolean answer = new java.util.concurrent.atomic.AtomicBoolean(true);
        List<Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    Socket c = ss.accept();
                    accepted.incrementAndGet();
                    if (answer.get()) {
                        c.getOutputStream().write("+PONG\r\n".getBytes());
                        c.close();
                    } else {
                        held.add(c);
                    }
                }
            } catch (IOException e) {
                // closed
            }
        });
        Fw fw = Peers.startText(cleanup, Peers.defaults("5s", "timeout check 10s") + """
                listen lb
                    bind 127.0.0.1:0
                    option tcp-check
                    tcp-check send PING\\r\\n
                    tcp-check expect string +PONG
                    server s1 127.0.0.1:%d check inter 20s rise 2 fall 3
                """.formatted(ss.getLocalPort()));
        Server sv = srv(fw, "s1");
        Peers.waitUntil("first check", WAIT, () -> "L7OK".equals(sv.op.status));
        answer.set(false);
        Backend be = fw.fw.proxies().backend("lb");
        fw.fw.proxies().changeServer(be, sv, Server.MAINT, -1, -1);
        int before = accepted.get();
        fw.fw.proxies().changeServer(be, sv, Server.READY, -1, -1);
        assertTrue(sv.up(), "UP right after leaving maintenance; status " + sv.op.statusText());
        assertEquals("UP 1/3", sv.op.statusText());
        assertEquals(2, sv.op.health(), "health = rise");
        // inter 20s: only a check started at once reaches the server within seconds
        assertTrue(Peers.await(Duration.ofSeconds(3), () -> accepted.get() > before), "a check right after ready");
        for (Socket c : held) {
            c.getOutputStream().write("+PONG\r\n".getBytes());
            c.close();
        }
        assertTrue(Peers.await(Duration.ofSeconds(3), () -> "UP".equals(sv.op.statusText())),
                "the check right after ready passes: " + sv.op.statusText());
        t.interrupt();
    }

    /**
     * A check in flight when the server is put in maintenance: HAProxy ignores its result, the
     * server in MAINT is neither raised nor logged "is UP". The server holds the first check's
     * answer until the state changed.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkResultInFlightIsIgnoredInMaintenance() throws Exception {
        java.net.ServerSocket ss = new java.net.ServerSocket();
        cleanup.add(ss);
        ss.bind(new java.net.InetSocketAddress(Peers.LOOPBACK, 0));
        java.util.concurrent.CountDownLatch accepted = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch answer = new java.util.concurrent.CountDownLatch(1);
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    Socket c = ss.accept();
                    accepted.countDown();
                    answer.await(10, java.util.concurrent.TimeUnit.SECONDS);
                    c.getOutputStream().write("+PONG\r\n".getBytes());
                    Thread.sleep(50);
                    c.close();
                }
            } catch (Exception e) {
                // closed
            }
        });
        Fw fw = Peers.startText(cleanup, Peers.defaults("5s", "timeout check 5s") + """
                listen lb
                    bind 127.0.0.1:0
                    option tcp-check
                    tcp-check send PING\\r\\n
                    tcp-check expect string +PONG
                    server s1 127.0.0.1:%d check inter 5s rise 1 fall 1
                """.formatted(ss.getLocalPort()));
        assertTrue(accepted.await(10, java.util.concurrent.TimeUnit.SECONDS), "first check connected");
        Backend be = fw.fw.proxies().backend("lb");
        Server s = srv(fw, "s1");
        fw.fw.proxies().changeServer(be, s, Server.MAINT, -1, -1);
        answer.countDown();
        Peers.sleep(500);
        for (String line : fw.log) assertTrue(!line.contains("Server lb/s1 is UP"), "no 'is UP' for a server in maintenance: " + fw.log);
        assertTrue(!s.up(), "in MAINT the check result does not raise the server");
        t.interrupt();
    }

    /**
     * on-error fastinter: HAProxy brings the pending check forward to now + fastinter. Seen on
     * 2.6.12: inter 20s fastinter 100 fall 1, refused clients, the server DOWN within a second
     * (the first check of the dead server comes 10 s after the start, the second 20 s later).
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void onErrorFastinterBringsTheNextCheckForward() throws Exception {
        TestServer live = server("live", 0);
        int dead = Peers.deadPort();
        Fw fw = Peers.startText(cleanup, Peers.defaults("5s", "retries 0") + """
                listen lb
                    bind 127.0.0.1:0
                    balance roundrobin
                    server live 127.0.0.1:%d check inter 20s
                    server dead 127.0.0.1:%d check inter 20s fastinter 100 rise 1 fall 1 observe layer4 error-limit 1 on-error fastinter
                """.formatted(live.port(), dead));
        Server d = srv(fw, "dead");
        for (int i = 0; i < 4 && d.up(); i++) {
            try (Socket s = Peers.connect(cleanup, fw.port)) {
                s.setSoTimeout(2000);
                Peers.readLine(s.getInputStream());
            } catch (IOException e) {
                // refused through the forwarder
            }
        }
        assertTrue(Peers.await(Duration.ofSeconds(3), () -> !d.up()),
                "a check within fastinter after the observed error marks the dead server DOWN");
        assertEquals("L4CON", d.op.status);
    }

    /** chkfail (HAProxy's failed_checks) stops growing once the health is 0: a dead server at fall 2 shows 1. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void chkfailStopsCountingOnceHealthIsZero() throws Exception {
        int dead = Peers.deadPort();
        Fw fw = Peers.startText(cleanup, Peers.defaults("5s") + """
                listen lb
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d check inter 50 rise 2 fall 2
                """.formatted(dead));
        Server s = srv(fw, "s1");
        Peers.waitUntil("DOWN", WAIT, () -> !s.up());
        Peers.sleep(500); // ten more failed checks while DOWN at health 0
        assertEquals(1, s.op.failures(), "chkfail as HAProxy's (failures only while health > 0)");
    }

    /**
     * show stat as HAProxy 2.6.12: check_code 0 after a passing tcp-check (L7OK); in MAINT no
     * check_status, check_code, check_duration; the BACKEND's weight without allbackups is the
     * first usable backup's; a draining checked server below the top of its health "DRAIN 1/3";
     * after "disable health" "no check" and no check columns. The server holds the check's
     * answer once told, so the health stays where the state change put it.
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void showStatStatusAndCheckColumnsAsHaproxy(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path sock = dir.resolve("admin.sock");
        java.net.ServerSocket ss = new java.net.ServerSocket();
        cleanup.add(ss);
        ss.bind(new java.net.InetSocketAddress(Peers.LOOPBACK, 0));
        java.util.concurrent.atomic.AtomicBoolean answer = new java.util.concurrent.atomic.AtomicBoolean(true);
        List<Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    Socket c = ss.accept();
                    if (answer.get()) {
                        c.getOutputStream().write("+PONG\r\n".getBytes());
                        c.close();
                    } else {
                        held.add(c);
                    }
                }
            } catch (IOException e) {
                // closed
            }
        });
        TestServer b1 = server("b1", 0), b2 = server("b2", 0);
        Fw fw = Peers.startText(cleanup, "global\n    stats socket " + sock + " level admin\n"
                + Peers.defaults("5s", "timeout check 10s") + """
                listen lb
                    bind 127.0.0.1:0
                    option tcp-check
                    tcp-check send PING\\r\\n
                    tcp-check expect string +PONG
                    server s1 127.0.0.1:%d check inter 20s rise 2 fall 3
                    server b1 127.0.0.1:%d backup weight 7
                    server b2 127.0.0.1:%d backup weight 5
                """.formatted(ss.getLocalPort(), b1.port(), b2.port()));
        Server sv = srv(fw, "s1");
        Peers.waitUntil("first check", WAIT, () -> "L7OK".equals(sv.op.status));
        Map<String, String> r = statRow(CliClient.ask(sock, "show stat\n"), "s1");
        assertEquals(List.of("UP", "L7OK", "0"), List.of(r.get("status"), r.get("check_status"), r.get("check_code")), r.toString());
        assertTrue(!r.get("check_duration").isEmpty(), r.toString());

        answer.set(false);
        assertEquals("\n", CliClient.ask(sock, "set server lb/s1 state maint\n"));
        String stat = CliClient.ask(sock, "show stat\n");
        r = statRow(stat, "s1");
        assertEquals(List.of("MAINT", "", "", ""),
                List.of(r.get("status"), r.get("check_status"), r.get("check_code"), r.get("check_duration")), r.toString());
        assertEquals("7", statRow(stat, "BACKEND").get("weight"), "the first backup serves alone: its weight");

        assertEquals("\n", CliClient.ask(sock, "set server lb/s1 state drain\n"));
        r = statRow(CliClient.ask(sock, "show stat\n"), "s1");
        assertEquals("DRAIN 1/3", r.get("status"), r.toString());

        assertEquals("\n", CliClient.ask(sock, "disable health lb/s1\n"));
        assertEquals("\n", CliClient.ask(sock, "set server lb/s1 state ready\n"));
        r = statRow(CliClient.ask(sock, "show stat\n"), "s1");
        assertEquals(List.of("no check", "", "", ""),
                List.of(r.get("status"), r.get("check_status"), r.get("check_code"), r.get("check_duration")), r.toString());
        for (Socket c : held) c.close();
        t.interrupt();
    }

    /**
     * observe layer4 counts the server's failures only: a connect that fails here (connect()
     * giving EADDRNOTAVAIL, no free local port) is not the server's error, as HAProxy, and does
     * not mark it down (error-limit 1, on-error mark-down).
     */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void observeLayer4IgnoresLocalConnectErrors() throws Exception {
        TestServer s1 = server("s1", 0);
        FaultySyscalls sys = new FaultySyscalls();
        Fw fw = Peers.startText(cleanup, Peers.defaults("5s", "retries 0") + """
                listen lb
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d check inter 20s observe layer4 error-limit 1 on-error mark-down
                """.formatted(s1.port()), sys);
        Server sv = srv(fw, "s1");
        Peers.waitUntil("first check", WAIT, () -> "L4OK".equals(sv.op.status));
        sys.failConnects(org.forwarder.sys.Errno.EADDRNOTAVAIL, 3);
        for (int i = 0; i < 3; i++) {
            try (Socket c = Peers.connect(cleanup, fw.port)) {
                c.setSoTimeout(3000);
                Peers.readLine(c.getInputStream());
            } catch (IOException e) {
                // the forwarder could not connect
            }
        }
        Peers.sleep(100);
        assertTrue(sv.up(), "a local connect error is not the server's: " + sv.op.statusText() + " " + fw.log);
        assertEquals("s1", pickOnce(fw), "the server still takes clients");
    }

    /**
     * A client served by backup b1 while the active s1 is DOWN: with {@code on-marked-up
     * shutdown-backup-sessions} on s1 its stream ends when s1 comes back UP, logged "U-" as
     * HAProxy's (measured: bench/logs/compare.py); without it, it goes on.
     */
    private void backupStreamsWhenTheActiveComesUp(boolean shutdownBackupSessions) throws Exception {
        TestServer s1 = server("s1", 0);
        int port1 = s1.port();
        TestServer b1 = server("b1", 0);
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("s1", port1);
        ports.put("b1", b1.port());
        ServerCheck active = new ServerCheck(true, 100, 100, 100, 1, 1, 0, null, false, false, 0, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, false, shutdownBackupSessions);
        LogTest.Syslog syslog = cleanup.add(new LogTest.Syslog());
        global = "global\n    log 127.0.0.1:" + syslog.port() + " local0\n";
        Fw fw = start(ports, HealthCheck.DEFAULT, Map.of("s1", active, "b1", check(100, 1, 1, true)), "log global", "option tcplog");
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status));
        s1.close();
        Peers.waitUntil("s1 marked DOWN", WAIT, () -> !srv(fw, "s1").up());
        Socket c = Peers.connect(cleanup, fw.port);
        assertEquals("b1", Peers.readLine(c.getInputStream()), "the backup serves while s1 is DOWN");
        assertEquals(1, fw.fw.stats().active());

        server("s1", port1);
        Peers.waitUntil("s1 UP again", WAIT, () -> srv(fw, "s1").up());
        assertTrue(logged(fw, "Server lb/s1 is UP"), "log: " + fw.log);
        c.setSoTimeout(5000);
        if (shutdownBackupSessions) {
            Peers.waitUntil("the backup's stream ended", WAIT, () -> fw.fw.stats().active() == 0);
            int r;
            try {
                r = c.getInputStream().read();
            } catch (IOException e) {
                r = -1; // reset
            }
            assertEquals(-1, r, "the client's stream on the backup ended when s1 came UP");
            syslog.await(".*127\\.0\\.0\\.1:" + c.getLocalPort() + " \\[.*\\] lb lb/b1 \\S+ \\d+ U- .*", WAIT);
        } else {
            Peers.sleep(300);
            assertEquals("z", new String(Peers.exchange(c, "z".getBytes())), "the stream on the backup goes on");
            assertEquals(1, fw.fw.stats().active());
        }
        assertEquals(List.of("s1", "s1"), picks(fw, 2), "new clients go to s1 again");
    }

    /**
     * {@code slowstart} ramps a server's maxconn as HAProxy's does: back UP with maxconn 4 and
     * slowstart 3 s, four clients at once get one slot (at least 1, the ramp's share rounded down)
     * and three wait in the queue; without any stream ending, the warm-up timer gives them the
     * slots the ramp adds, and all four are served once the period is over.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void slowstartRampsMaxconnAndTheQueueFollowsTheRamp() throws Exception {
        TestServer s1 = server("s1", 0);
        int port = s1.port();
        ServerCheck sc = new ServerCheck(true, 100, 100, 100, 1, 1, 0, null, false, false, 3_000, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, false, false);
        Fw fw = start(Map.of("s1", port), HealthCheck.DEFAULT, Map.of("s1", sc), "timeout queue 20s");
        fw.fw.proxies().changeServer(fw.fw.proxies().backend("lb"), srv(fw, "s1"), -1, -1, 4);
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status));
        s1.close();
        Peers.waitUntil("s1 DOWN", WAIT, () -> !srv(fw, "s1").up());
        server("s1", port);
        Peers.waitUntil("s1 UP again", WAIT, () -> srv(fw, "s1").up());
        clientsFollowTheRamp(fw, 4, Duration.ofSeconds(8));
    }

    /**
     * The same for a server without checks that leaves maintenance (HAProxy ramps it too): no
     * check runs to serve the queue, the warm-up timer alone lets the three waiting clients in.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void slowstartAfterMaintenanceWithoutChecksServesTheQueueToo() throws Exception {
        TestServer s1 = server("s1", 0);
        ServerCheck noCheck = new ServerCheck(false, 2000, 2000, 2000, 2, 3, 0, null, false, false, 3_000, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, false, false);
        Fw fw = start(Map.of("s1", s1.port()), HealthCheck.DEFAULT, Map.of("s1", noCheck), "timeout queue 20s");
        Backend be = fw.fw.proxies().backend("lb");
        fw.fw.proxies().changeServer(be, srv(fw, "s1"), Server.MAINT, -1, 4);
        fw.fw.proxies().changeServer(be, srv(fw, "s1"), Server.READY, -1, -1);
        clientsFollowTheRamp(fw, 4, Duration.ofSeconds(8));
    }

    /**
     * Right after s1's ramp began: {@code n} clients, one served and the others queued, then all
     * of them served by s1 within {@code max}, with no stream ending.
     */
    private void clientsFollowTheRamp(Fw fw, int n, Duration max) throws Exception {
        List<Socket> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) clients.add(Peers.connect(cleanup, fw.port));
        Peers.waitUntil("one served, " + (n - 1) + " queued", WAIT,
                () -> fw.fw.stats().backend("lb", ProxyCounter.QCUR) == n - 1 && fw.fw.stats().server("lb", "s1", ProxyCounter.SCUR) == 1);
        Peers.waitUntil("the ramp serves the queue", max, () -> fw.fw.stats().backend("lb", ProxyCounter.QCUR) == 0,
                () -> "qcur " + fw.fw.stats().backend("lb", ProxyCounter.QCUR) + ", scur " + fw.fw.stats().server("lb", "s1", ProxyCounter.SCUR)
                        + ", throttle " + srv(fw, "s1").throttlePercent() + "; log " + fw.log);
        for (Socket c : clients) {
            c.setSoTimeout(5000);
            assertEquals("s1", Peers.readLine(c.getInputStream()), "each client is served by s1");
        }
        assertEquals(n, fw.fw.stats().server("lb", "s1", ProxyCounter.SCUR));
    }

    /**
     * With {@code inter} (3 s) longer than the slowstart (1 s), the queue still follows the ramp,
     * not the checks: the streams held back are served right after the ramp ends (HAProxy's
     * warm-up task runs every max(1 s, T/20) whatever the checks do). Found by review: served
     * at the next check, 3 s later, by the first version.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void theRampsEndServesTheQueueWithoutWaitingForTheNextCheck() throws Exception {
        TestServer s1 = server("s1", 0);
        ServerCheck sc = new ServerCheck(true, 3_000, 3_000, 100, 1, 1, 0, null, false, false, 1_000, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, false, false);
        Fw fw = start(Map.of("s1", s1.port()), HealthCheck.DEFAULT, Map.of("s1", sc), "timeout queue 10s");
        Backend be = fw.fw.proxies().backend("lb");
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status));
        fw.fw.proxies().changeServer(be, srv(fw, "s1"), Server.MAINT, -1, 3);
        fw.fw.proxies().changeServer(be, srv(fw, "s1"), Server.READY, -1, -1);
        clientsFollowTheRamp(fw, 3, Duration.ofMillis(2_200));
    }

    /**
     * A server put in maintenance with {@code on-marked-down shutdown-sessions} ends its streams,
     * logged "D-", as HAProxy 2.6 does for every way a server stops (srv_update_status), not only
     * a failed check. Found by review.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void maintenanceWithShutdownSessionsEndsTheStreams() throws Exception {
        TestServer s1 = server("s1", 0);
        ServerCheck sc = new ServerCheck(true, 100, 100, 100, 1, 1, 0, null, false, false, 0, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, true, false);
        LogTest.Syslog syslog = cleanup.add(new LogTest.Syslog());
        global = "global\n    log 127.0.0.1:" + syslog.port() + " local0\n";
        Fw fw = start(Map.of("s1", s1.port()), HealthCheck.DEFAULT, Map.of("s1", sc), "log global", "option tcplog");
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status));
        Socket c = Peers.connect(cleanup, fw.port);
        assertEquals("s1", Peers.readLine(c.getInputStream()));
        fw.fw.proxies().changeServer(fw.fw.proxies().backend("lb"), srv(fw, "s1"), Server.MAINT, -1, -1);
        c.setSoTimeout(5000);
        int r;
        try {
            r = c.getInputStream().read();
        } catch (java.net.SocketTimeoutException e) {
            r = -2; // still open
        } catch (IOException e) {
            r = -1; // reset
        }
        assertEquals(-1, r, "the stream on s1 ended when s1 went into maintenance");
        syslog.await(".*127\\.0\\.0\\.1:" + c.getLocalPort() + " \\[.*\\] lb lb/s1 \\S+ \\d+ D- .*", WAIT);
    }

    /**
     * A stream still connecting (its server's accept queue full, the SYN unanswered) ended by its
     * server going DOWN is logged "DC", as HAProxy 2.6.12 ("KC" measured for the CLI's kill):
     * only an established stream is logged without a phase. Found by review.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aConnectingStreamKilledIsLoggedWithPhaseC() throws Exception {
        java.net.ServerSocket full = cleanup.add(new java.net.ServerSocket());
        full.bind(new java.net.InetSocketAddress("127.0.0.1", 0), 1);
        for (int i = 0; i < 3; i++) {
            Socket f = cleanup.add(new Socket());
            try {
                f.connect(full.getLocalSocketAddress(), 300);
            } catch (IOException e) {
                // the accept queue is full from here on
            }
        }
        ServerCheck sc = new ServerCheck(false, 100, 100, 100, 1, 1, 0, null, false, false, 0, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, true, false);
        LogTest.Syslog syslog = cleanup.add(new LogTest.Syslog());
        global = "global\n    log 127.0.0.1:" + syslog.port() + " local0\n";
        Fw fw = start(Map.of("s1", full.getLocalPort()), HealthCheck.DEFAULT, Map.of("s1", sc), "log global", "option tcplog",
                "timeout connect 20s");
        Socket c = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("connecting to s1", WAIT, () -> fw.fw.stats().server("lb", "s1", ProxyCounter.SCUR) == 1);
        Peers.sleep(300);
        fw.fw.proxies().killStreamsOn(srv(fw, "s1"), 'D');
        java.util.regex.Matcher m = syslog.await(".*127\\.0\\.0\\.1:" + c.getLocalPort() + " \\[.*\\] lb lb/s1 \\S+ \\d+ (D.) .*", WAIT);
        assertEquals("DC", m.group(1), "a stream killed while connecting is logged with phase C");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void onMarkedUpShutdownBackupSessionsEndsTheBackupsStreams() throws Exception {
        backupStreamsWhenTheActiveComesUp(true);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void withoutItStreamsOnABackupGoOnWhenTheActiveComesUp() throws Exception {
        backupStreamsWhenTheActiveComesUp(false);
    }

    /**
     * An active server that comes UP but cannot take streams (weight 0) leaves the backups'
     * streams alone: HAProxy shuts them only for a non-zero effective weight. Found by review.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anActiveThatCannotTakeStreamsLeavesTheBackupsStreams() throws Exception {
        BackupServing b = backupServing();
        Backend be = b.fw().fw.proxies().backend("lb");
        b.fw().fw.proxies().changeServer(be, srv(b.fw(), "s1"), -1, 0, -1);
        assertTrue(b.fw().fw.proxies().forceHealth(be, srv(b.fw(), "s1"), true), "s1 is UP");
        Peers.sleep(500);
        assertEquals("z", new String(Peers.exchange(b.client(), "z".getBytes())), "the stream on the backup goes on");
    }

    /**
     * {@code set server ... health up} on a server in maintenance changes no state (HAProxy's
     * srv_set_running returns at once): no "is UP", no kill of the backups' streams. Found by review.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void healthUpInMaintenanceChangesNothing() throws Exception {
        BackupServing b = backupServing();
        Backend be = b.fw().fw.proxies().backend("lb");
        b.fw().fw.proxies().changeServer(be, srv(b.fw(), "s1"), Server.MAINT, -1, -1);
        assertTrue(!b.fw().fw.proxies().forceHealth(be, srv(b.fw(), "s1"), true), "no state change in maintenance");
        assertTrue(!srv(b.fw(), "s1").up(), "still not UP");
        Peers.sleep(500);
        assertEquals("z", new String(Peers.exchange(b.client(), "z".getBytes())), "the stream on the backup goes on");
    }

    private record BackupServing(Fw fw, Socket client) {}

    /** s1 (active, on-marked-up shutdown-backup-sessions) DOWN, a client served by backup b1. */
    private BackupServing backupServing() throws Exception {
        TestServer s1 = server("s1", 0);
        TestServer b1 = server("b1", 0);
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("s1", s1.port());
        ports.put("b1", b1.port());
        ServerCheck active = new ServerCheck(true, 100, 100, 100, 1, 1, 0, null, false, false, 0, false,
                ServerCheck.DEFAULT_ERROR_LIMIT, ServerCheck.OnError.FAIL_CHECK, false, true);
        Fw fw = start(ports, HealthCheck.DEFAULT, Map.of("s1", active, "b1", check(100, 1, 1, true)));
        Peers.waitUntil("first checks done", WAIT, () -> "L4OK".equals(srv(fw, "s1").op.status));
        s1.close();
        Peers.waitUntil("s1 marked DOWN", WAIT, () -> !srv(fw, "s1").up());
        Socket c = Peers.connect(cleanup, fw.port);
        assertEquals("b1", Peers.readLine(c.getInputStream()), "the backup serves while s1 is DOWN");
        c.setSoTimeout(5000);
        return new BackupServing(fw, c);
    }

    /**
     * A server at its maxconn (one client holds its only slot, a second waits in the queue) is
     * still checked, its checks take neither the slot nor the queued client's place, and killed
     * it is still marked DOWN.
     */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checksGoOnAtMaxconnAndTakeNoSlot(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path sock = dir.resolve("admin.sock");
        // a listener whose accepted connections outlive it: killed, the held slot stays held
        java.net.ServerSocket listener = new java.net.ServerSocket();
        listener.setReuseAddress(true);
        listener.bind(new java.net.InetSocketAddress(Peers.LOOPBACK, 0));
        cleanup.add(listener);
        java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
        Thread.ofVirtual().start(() -> {
            try {
                while (true) {
                    Socket a = cleanup.add(listener.accept());
                    accepted.incrementAndGet();
                    try {
                        a.getOutputStream().write("s1\n".getBytes());
                    } catch (IOException e) {
                        // a check, reset already
                    }
                }
            } catch (IOException e) {
                // listener closed
            }
        });
        Fw fw = Peers.startText(cleanup, "global\n    stats socket " + sock + " level admin\n"
                + Peers.defaults("20s", "timeout queue 20s") + """
                listen lb
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d check inter 100ms rise 1 fall 2 maxconn 1
                """.formatted(listener.getLocalPort()));
        Server sv = srv(fw, "s1");
        Backend be = fw.fw.proxies().backend("lb");
        Peers.waitUntil("s1 checked", WAIT, () -> "L4OK".equals(sv.op.status));
        Socket holder = Peers.connect(cleanup, fw.port);
        assertEquals("s1", Peers.readLine(holder.getInputStream()));
        Socket waiter = Peers.connect(cleanup, fw.port);
        Peers.waitUntil("the second client queued", WAIT, () -> be.queued() == 1);
        assertEquals(1, sv.current());

        int before = accepted.get();
        Peers.waitUntil("checks go on while the slot is held", WAIT, () -> accepted.get() >= before + 3);
        assertEquals(1, sv.current(), "the checks took no slot");
        assertEquals(1, be.queued(), "the checks took no place in the queue");
        String stat = CliClient.ask(sock, "show stat\n");
        // smax and qmax: no check held a slot or a queue place even for a moment
        Map<String, String> row = statRow(stat, "s1"), back = statRow(stat, "BACKEND");
        assertEquals(List.of("1", "1", "1", "1"), List.of(row.get("scur"), row.get("smax"), back.get("qcur"), back.get("qmax")), stat);
        assertTrue(sv.up(), "still UP");
        waiter.setSoTimeout(300);
        try {
            int r = waiter.getInputStream().read();
            throw new AssertionError("the queued client got a server: " + r);
        } catch (java.net.SocketTimeoutException expected) {
            // still waiting for the slot
        }

        listener.close(); // killed; the holder's stream stays
        Peers.waitUntil("s1 marked DOWN at its maxconn", WAIT, () -> !sv.up());
        assertEquals(1, sv.current(), "marked DOWN while the slot was held");
        assertTrue(logged(fw, "alert: Server lb/s1 is DOWN, reason: Layer4 connection problem"), "log: " + fw.log);
    }
}
