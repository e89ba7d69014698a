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
 * HAProxy 2.6 defines for them: redis sends {@code PING} as a one-element array and expects
 * {@code +PONG\r\n} (else L7STS); pgsql sends a v3 startup message for the user, fails with
 * L7RSP on an error message ('E', info: its severity) and then wants an authentication request
 * ('R') of a kind a client can answer (else L7STS "PostgreSQL unknown error"); mysql reads the
 * server's greeting and, with a user, sends (without waiting for the greeting) a 4.1 client authentication packet without password
 * followed by COM_QUIT, and wants the reply not to be an error packet (an error packet, at
 * either step, is L7STS with its error number as code and the server's message; a short or
 * truncated packet L7RSP). Immutable, shared by the checks of every server of the backend.
 */
public final class CheckScript {
    /** One step; {@code data} to send or to find, {@code regex} for rstring. */
    record Step(Action action, int port, byte[] data, Pattern regex, boolean negate, Custom custom, String errorStatus) {}

    /** Expectations no tcp-check rule can say. */
    enum Custom { NONE, PGSQL_NOT_ERROR, PGSQL_AUTH, MYSQL_GREETING, MYSQL_OK }

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
                steps.add(new Step(Action.SEND, 0, ascii("*1\r\n$4\r\nPING\r\n"), null, false, Custom.NONE, null));
                steps.add(new Step(Action.EXPECT_STRING, 0, ascii("+PONG\r\n"), null, false, Custom.NONE, "L7STS"));
                return new CheckScript(steps, "Redis server is ok", null);
            }
            case PGSQL -> {
                steps.add(connect);
                steps.add(new Step(Action.SEND, 0, pgStartup(hc.user()), null, false, Custom.NONE, null));
                steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.PGSQL_NOT_ERROR, "L7RSP"));
                steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.PGSQL_AUTH, "L7STS"));
                return new CheckScript(steps, "PostgreSQL server is ok", null);
            }
            case MYSQL -> {
                steps.add(connect);
                // as HAProxy: the authentication goes right after the connect, without waiting for
                // the greeting; both replies are then read from the same buffer
                if (hc.user() != null) steps.add(new Step(Action.SEND, 0, mysqlAuth(hc.user()), null, false, Custom.NONE, null));
                steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.MYSQL_GREETING, "L7STS"));
                if (hc.user() != null) steps.add(new Step(Action.EXPECT_BINARY, 0, null, null, false, Custom.MYSQL_OK, "L7STS"));
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
     * A MySQL 4.1 client authentication packet for {@code user} (sequence number 1, answering
     * the greeting; capabilities PROTOCOL_41 | SECURE_CONNECTION, max packet 0x01008000, utf8,
     * no password, no database), then a COM_QUIT packet (sequence 0), as HAProxy's post-41 check
     * sends them.
     */
    static byte[] mysqlAuth(String user) {
        byte[] u = user.getBytes(StandardCharsets.UTF_8);
        int payload = 4 + 4 + 1 + 23 + u.length + 1 + 1;
        byte[] b = new byte[4 + payload + 5];
        b[0] = (byte) payload;
        b[1] = (byte) (payload >>> 8);
        b[2] = (byte) (payload >>> 16);
        b[3] = 1;
        int caps = 0x200 | 0x8000; // PROTOCOL_41 | SECURE_CONNECTION, little-endian
        b[4] = (byte) caps;
        b[5] = (byte) (caps >>> 8);
        int maxPacket = 0x01008000;
        b[8] = (byte) maxPacket;
        b[9] = (byte) (maxPacket >>> 8);
        b[10] = (byte) (maxPacket >>> 16);
        b[11] = (byte) (maxPacket >>> 24);
        b[12] = 0x21; // utf8_general_ci
        System.arraycopy(u, 0, b, 36, u.length);
        // the name's terminator and the empty auth response are the zeros left; then COM_QUIT
        int q = 4 + payload;
        b[q] = 1;
        b[q + 4] = 1;
        return b;
    }
}
