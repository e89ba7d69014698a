package org.forwarder.it;

import org.forwarder.config.Config;
import org.forwarder.config.ConfigParser;
import org.forwarder.config.HealthCheck;
import org.forwarder.config.HealthCheck.TcpCheckRule;
import org.forwarder.config.HealthCheck.TcpCheckRule.Action;
import org.forwarder.config.ServerCheck;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.proxy.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.DataInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The check kinds that talk to the server, each against a healthy and a broken peer on real
 * sockets: redis (PING / +PONG), pgsql (startup message / authentication request), tcp-check
 * rules (send, expect string, expect ! string). The peers speak just enough of each protocol;
 * the checks must tell the good one from the bad one, with HAProxy's statuses and log lines.
 */
class CheckKindsTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final Duration WAIT = Duration.ofSeconds(10);

    private Fw start(int good, int bad, HealthCheck hc) throws Exception {
        Config c = ConfigParser.parse(Peers.defaults("20s") + """
                listen lb
                    bind 127.0.0.1:0
                    server good 127.0.0.1:%d
                    server bad 127.0.0.1:%d
                """.formatted(good, bad), "it.cfg");
        ServerCheck sc = HealthCheckTest.check(100, 2, 2, false);
        return Peers.startConfig(cleanup, HealthCheckTest.withChecks(c, "lb", hc, Map.of("good", sc, "bad", sc)));
    }

    private static Server srv(Fw fw, String name) {
        return fw.fw.proxies().backend("lb").server(name);
    }

    private static void awaitVerdicts(Fw fw, String goodStatus, String badStatus) {
        Peers.waitUntil("good " + goodStatus + " and UP, bad " + badStatus + " and DOWN", WAIT,
                () -> srv(fw, "good").up() && goodStatus.equals(srv(fw, "good").op.status)
                        && !srv(fw, "bad").up() && badStatus.equals(srv(fw, "bad").op.status),
                () -> "; good " + srv(fw, "good").op.status + ", bad " + srv(fw, "bad").op.status + "; log " + fw.log);
    }

    private static boolean logged(Fw fw, String text) {
        return Peers.await(WAIT, () -> fw.log.stream().anyMatch(l -> l.startsWith(text)));
    }

    /** Reads a line ending in CRLF (or the end). */
    private static String line(InputStream in) throws Exception {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') if (b != '\r') sb.append((char) b);
        return sb.toString();
    }

    private static Peers.Behaviour redis(String answer) {
        return redis(answer, true);
    }

    /** A redis peer answering {@code answer} to PING, then holding the connection ({@code hold}) or closing it. */
    private static Peers.Behaviour redis(String answer, boolean hold) {
        return (s, i) -> {
            // HAProxy sends PING as a one-element array: *1, $4, PING
            String cmd = line(s.getInputStream()) + "|" + line(s.getInputStream()) + "|" + line(s.getInputStream());
            if (cmd.equals("*1|$4|PING")) s.getOutputStream().write(answer.getBytes(StandardCharsets.US_ASCII));
            if (hold) s.getInputStream().read();
        };
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void redisCheckTellsPongFromAnError() throws Exception {
        TestServer good = cleanup.add(new TestServer("good", 100, redis("+PONG\r\n")));
        // the error then the end of the connection: HAProxy decides on what came, L7STS
        TestServer bad = cleanup.add(new TestServer("bad", 100, redis("-NOAUTH Authentication required.\r\n", false)));
        Fw fw = start(good.port(), bad.port(), new HealthCheck(HealthCheck.Kind.REDIS, null, List.of(), 0, false));
        awaitVerdicts(fw, "L7OK", "L7STS");
        assertTrue(logged(fw, "alert: Server lb/bad is DOWN, reason: Layer7 wrong status, code: 0, info: \"-NOAUTH Authentication required.\", check duration: "),
                "log: " + fw.log);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void redisErrorOnAnOpenConnectionWaitsForTheTimeout() throws Exception {
        // HAProxy 2.6.12 against a redis-server with requirepass, which answers -NOAUTH and keeps
        // the connection: the pattern may still come, so the check waits for it and times out
        TestServer good = cleanup.add(new TestServer("good", 100, redis("+PONG\r\n")));
        TestServer bad = cleanup.add(new TestServer("bad", 100, redis("-NOAUTH Authentication required.\r\n", true)));
        Fw fw = start(good.port(), bad.port(), new HealthCheck(HealthCheck.Kind.REDIS, null, List.of(), 0, false));
        awaitVerdicts(fw, "L7OK", "L7TOUT");
        assertTrue(logged(fw, "alert: Server lb/bad is DOWN, reason: Layer7 timeout, check duration: "), "log: " + fw.log);
    }

    /** A PostgreSQL peer: reads the startup message, answers {@code reply} when it names user {@code user}. */
    private static Peers.Behaviour pgsql(String user, byte[] reply) {
        return (s, i) -> {
            DataInputStream in = new DataInputStream(s.getInputStream());
            int len = in.readInt();
            byte[] rest = new byte[len - 4];
            in.readFully(rest);
            assertEquals(3 << 16, ((rest[0] & 0xff) << 24) | ((rest[1] & 0xff) << 16) | ((rest[2] & 0xff) << 8) | (rest[3] & 0xff));
            String params = new String(rest, 4, rest.length - 4, StandardCharsets.UTF_8);
            if (params.equals("user\0" + user + "\0\0")) s.getOutputStream().write(reply);
            s.getInputStream().read();
        };
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void pgsqlCheckWantsAnAuthenticationMessage() throws Exception {
        byte[] authOk = {'R', 0, 0, 0, 8, 0, 0, 0, 0};
        byte[] error = "E\0\0\0\u0020SFATAL\0Mrole does not exist\0\0".getBytes(StandardCharsets.ISO_8859_1);
        TestServer good = cleanup.add(new TestServer("good", 100, pgsql("hc", authOk)));
        TestServer bad = cleanup.add(new TestServer("bad", 100, pgsql("hc", error)));
        Fw fw = start(good.port(), bad.port(), new HealthCheck(HealthCheck.Kind.PGSQL, "hc", List.of(), 0, false));
        awaitVerdicts(fw, "L7OK", "L7RSP");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void tcpCheckRulesSendAndExpect() throws Exception {
        Peers.Behaviour hello = (s, i) -> {
            String l = line(s.getInputStream());
            s.getOutputStream().write((l.equals("HELLO") ? "200 READY\r\n" : "500 WHAT\r\n").getBytes(StandardCharsets.US_ASCII));
            // and closes: "! ERROR" passes at the end of the input, not before (more could come)
        };
        Peers.Behaviour failing = (s, i) -> {
            line(s.getInputStream());
            s.getOutputStream().write("200 READY but ERROR soon\r\n".getBytes(StandardCharsets.US_ASCII));
        };
        TestServer good = cleanup.add(new TestServer("good", 100, hello));
        TestServer bad = cleanup.add(new TestServer("bad", 100, failing));
        List<TcpCheckRule> rules = List.of(
                new TcpCheckRule(Action.SEND, 0, "HELLO\r\n".getBytes(StandardCharsets.US_ASCII), null, false, "it.cfg:1"),
                new TcpCheckRule(Action.EXPECT_STRING, 0, "200".getBytes(StandardCharsets.US_ASCII), null, false, "it.cfg:2"),
                new TcpCheckRule(Action.EXPECT_BINARY, 0, "ERROR".getBytes(StandardCharsets.US_ASCII), null, true, "it.cfg:3"));
        Fw fw = start(good.port(), bad.port(), new HealthCheck(HealthCheck.Kind.TCP_CHECK, null, rules, 0, false));
        awaitVerdicts(fw, "L7OK", "L7RSP");
    }

    /** A MySQL packet: 3-byte length, sequence number, payload. */
    private static byte[] packet(int seq, byte[] payload) {
        byte[] b = new byte[4 + payload.length];
        b[0] = (byte) payload.length;
        b[1] = (byte) (payload.length >>> 8);
        b[2] = (byte) (payload.length >>> 16);
        b[3] = (byte) seq;
        System.arraycopy(payload, 0, b, 4, payload.length);
        return b;
    }

    /** A MySQL peer: a protocol-10 greeting, then reads the client's packet and answers {@code reply} if it names {@code user}. */
    private static Peers.Behaviour mysql(String user, byte[] reply) {
        return (s, i) -> {
            byte[] greeting = ("\n8.0.0-fake\0" + "\1\0\0\0" + "abcdefgh\0" + "\0\u0082" + "\u0021" + "\2\0")
                    .getBytes(StandardCharsets.ISO_8859_1);
            s.getOutputStream().write(packet(0, greeting));
            DataInputStream in = new DataInputStream(s.getInputStream());
            byte[] head = new byte[4];
            in.readFully(head);
            int len = (head[0] & 0xff) | (head[1] & 0xff) << 8 | (head[2] & 0xff) << 16;
            byte[] body = new byte[len];
            in.readFully(body);
            String name = new String(body, 32, len - 32, StandardCharsets.UTF_8);
            if (head[3] == 1 && name.startsWith(user + "\0")) s.getOutputStream().write(reply);
            s.getInputStream().read();
        };
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void mysqlCheckLogsInAndWantsOk() throws Exception {
        byte[] ok = packet(2, new byte[] {0, 0, 0, 2, 0, 0, 0});
        byte[] denied = packet(2, "\u00ff\u0015\u0004#28000Access denied for user 'hc'".getBytes(StandardCharsets.ISO_8859_1));
        TestServer good = cleanup.add(new TestServer("good", 100, mysql("hc", ok)));
        TestServer bad = cleanup.add(new TestServer("bad", 100, mysql("hc", denied)));
        Fw fw = start(good.port(), bad.port(), new HealthCheck(HealthCheck.Kind.MYSQL, "hc", List.of(), 0, false));
        // an error packet is L7STS with the message after the code (haproxy 2.6.12 against MariaDB)
        awaitVerdicts(fw, "L7OK", "L7STS");
        assertTrue(logged(fw, "alert: Server lb/bad is DOWN, reason: Layer7 wrong status, code: 1045, info: \"#28000Access denied for user 'hc'\""),
                "log: " + fw.log);
    }
}
