package org.forwarder.check;

import org.forwarder.config.HealthCheck;
import org.forwarder.config.HealthCheck.TcpCheckRule;
import org.forwarder.config.HealthCheck.TcpCheckRule.Action;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What a check of a backend does, as a list of steps built once from its {@link HealthCheck}:
 * the default check is one connect; {@code option tcp-check} runs its rules (with a connect
 * first when they do not start with one, as HAProxy adds it); the named checks are the rules
 * HAProxy 2.6 defines for them: redis sends {@code PING} and expects {@code +PONG}; pgsql sends
 * a startup message for the user and expects an authentication message ('R') rather than an
 * error ('E'); mysql reads the server's greeting (protocol 10) and, with a user, answers with a
 * client authentication packet and expects an OK packet. Immutable, shared by the checks of
 * every server of the backend.
 */
public final class CheckScript {
    /** One step; {@code data} to send or to find, {@code regex} for rstring. */
    record Step(Action action, int port, byte[] data, Pattern regex, boolean negate, Custom custom, String errorStatus) {}

    /** Expectations no tcp-check rule can say. */
    enum Custom { NONE, PGSQL_AUTH, MYSQL_GREETING, MYSQL_OK }

    final List<Step> steps;
    /** Whether the check looks at content (L7 statuses) or only connects (L4). */
    final boolean layer7;
    /** What a pass says in the log/stat info (e.g. "Redis server is ok"), or null. */
    final String okInfo;
    /** For mysql with a user: the user's name, for the authentication packet sent after the greeting. */
    final String mysqlUser;

    private CheckScript(List<Step> steps, String okInfo, String mysqlUser) {
        this.steps = List.copyOf(steps);
        boolean l7 = false;
        for (Step s : steps) if (s.action() != Action.CONNECT) l7 = true;
        this.layer7 = l7;
        this.okInfo = okInfo;
        this.mysqlUser = mysqlUser;
    }

    static CheckScript of(HealthCheck hc) {
        List<Step> steps = new ArrayList<>();
        Step connect = new Step(Action.CONNECT, 0, null, null, false, Custom.NONE, null);
        switch (hc.kind()) {
            case CONNECT -> {
                steps.add(connect);
                return new CheckScript(steps, null, null);
            }
            case REDIS -> {
                steps.add(connect);
                steps.add(new Step(Action.SEND, 0, ascii("PING\r\n"), null, false, Custom.NONE, null));
                steps.add(new Step(Action.EXPECT_STRING, 0, ascii("+PONG"), null, false, Custom.NONE, "L7STS"));
                return new CheckScript(steps, "Redis server is ok", null);
            }
            case PGSQL -> {
                steps.add(connect);
                steps.add(new Step(Action.SEND, 0, pgStartup(hc.user()), null, false, Custom.NONE, null));
                steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.PGSQL_AUTH, "L7RSP"));
                return new CheckScript(steps, "PostgreSQL server is ok", null);
            }
            case MYSQL -> {
                steps.add(connect);
                steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.MYSQL_GREETING, "L7RSP"));
                if (hc.user() != null) {
                    steps.add(new Step(Action.SEND, 0, mysqlAuth(hc.user()), null, false, Custom.NONE, null));
                    steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.MYSQL_OK, "L7RSP"));
                }
                return new CheckScript(steps, null, hc.user());
            }
            case TCP_CHECK -> {
                List<TcpCheckRule> rules = hc.rules();
                if (rules.isEmpty() || rules.getFirst().action() != Action.CONNECT) steps.add(connect);
                for (TcpCheckRule r : rules) {
                    Pattern p = r.action() == Action.EXPECT_RSTRING ? Pattern.compile(r.pattern()) : null;
                    steps.add(new Step(r.action(), r.port(), r.data(), p, r.negate(), Custom.NONE, null));
                }
                return new CheckScript(steps, null, null);
            }
        }
        throw new IllegalArgumentException("unknown check kind " + hc.kind());
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A PostgreSQL v3 startup message: length, protocol 3.0, "user" and its name, end. */
    static byte[] pgStartup(String user) {
        byte[] u = user.getBytes(StandardCharsets.UTF_8);
        int len = 4 + 4 + 5 + u.length + 1 + 1;
        byte[] b = new byte[len];
        b[0] = (byte) (len >>> 24);
        b[1] = (byte) (len >>> 16);
        b[2] = (byte) (len >>> 8);
        b[3] = (byte) len;
        b[4] = 0;
        b[5] = 3; // protocol 3.0
        System.arraycopy(ascii("user\0"), 0, b, 8, 5);
        System.arraycopy(u, 0, b, 13, u.length);
        return b; // the name's terminator and the list's end are the zeros left
    }

    /**
     * A MySQL client authentication packet (protocol 4.1, no password, no database) for
     * {@code user}, sequence number 1, answering the greeting.
     */
    static byte[] mysqlAuth(String user) {
        byte[] u = user.getBytes(StandardCharsets.UTF_8);
        int payload = 4 + 4 + 1 + 23 + u.length + 1 + 1;
        byte[] b = new byte[4 + payload];
        b[0] = (byte) payload;
        b[1] = (byte) (payload >>> 8);
        b[2] = (byte) (payload >>> 16);
        b[3] = 1;
        // capabilities: LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION
        int caps = 0x1 | 0x200 | 0x8000;
        b[4] = (byte) caps;
        b[5] = (byte) (caps >>> 8);
        b[6] = (byte) (caps >>> 16);
        b[7] = (byte) (caps >>> 24);
        // max packet size 16 MiB
        b[8] = 0;
        b[9] = 0;
        b[10] = 0;
        b[11] = 1;
        b[12] = 0x21; // utf8_general_ci
        System.arraycopy(u, 0, b, 36, u.length);
        return b; // the name's terminator and the empty auth response are the zeros left
    }
}
