package org.forwarder.config;

import java.util.List;
import java.util.Objects;

/**
 * How a backend checks its servers (those with {@code check}): a TCP connect (HAProxy's default),
 * {@code option tcp-check} with its {@code tcp-check} rules, or one of the named checks operators
 * copy for the services they put behind a TCP proxy ({@code option redis-check},
 * {@code option pgsql-check user U}, {@code option mysql-check user U}); {@code timeout check}
 * (0: none, HAProxy then bounds a check by its interval) and {@code option allbackups}.
 */
public record HealthCheck(Kind kind, String user, List<TcpCheckRule> rules, long timeoutCheckMs, boolean allBackups) {

    public enum Kind { CONNECT, TCP_CHECK, REDIS, PGSQL, MYSQL }

    public static final HealthCheck DEFAULT = new HealthCheck(Kind.CONNECT, null, List.of(), 0, false);

    public HealthCheck {
        Objects.requireNonNull(kind, "kind");
        rules = List.copyOf(rules);
        if ((kind == Kind.PGSQL || kind == Kind.MYSQL) && (user == null || user.isEmpty())) {
            throw new IllegalArgumentException(kind + " check needs a user");
        }
        if (timeoutCheckMs < 0) throw new IllegalArgumentException("timeout check cannot be negative");
    }

    /**
     * One {@code tcp-check} rule: {@code connect [port P]}, {@code send <string>},
     * {@code send-binary <hex>}, {@code expect [!] string|rstring|binary <pattern>}. {@code data}
     * holds the bytes to send or to match (decoded: escapes in strings, hex in binary);
     * {@code pattern} the regular expression for {@code rstring}; {@code where} is file:line.
     */
    public record TcpCheckRule(Action action, int port, byte[] data, String pattern, boolean negate, String where) {
        public enum Action { CONNECT, SEND, EXPECT_STRING, EXPECT_RSTRING, EXPECT_BINARY }

        public TcpCheckRule {
            Objects.requireNonNull(action, "action");
            Objects.requireNonNull(where, "where");
            data = data == null ? null : data.clone();
        }
    }
}
