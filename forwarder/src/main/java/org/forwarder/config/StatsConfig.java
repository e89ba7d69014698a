package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.List;
import java.util.Objects;

/**
 * The runtime API's settings from {@code global}: the stats sockets ({@code stats socket}), how
 * long an idle CLI client may stay ({@code stats timeout}) and how many may be connected at once
 * ({@code stats maxconn}). Defaults are HAProxy's: 10 s and 10 clients.
 */
public record StatsConfig(List<Socket> sockets, long timeoutMs, int maxconn) {

    public static final long DEFAULT_TIMEOUT_MS = 10_000;
    public static final int DEFAULT_MAXCONN = 10;
    public static final StatsConfig NONE = new StatsConfig(List.of(), DEFAULT_TIMEOUT_MS, DEFAULT_MAXCONN);

    /**
     * What a client of a socket may do. Only {@code user} commands (show) exist yet; operator and
     * admin are accepted now for the commands that change state (set server, shutdown session...).
     */
    public enum Level { USER, OPERATOR, ADMIN }

    /**
     * One stats socket: a Unix path (with its file mode, {@link #NO_MODE} = the umask's) or a TCP
     * address; {@code where} is file:line for messages.
     */
    public record Socket(SockAddr address, int mode, Level level, String where) {
        public static final int NO_MODE = -1;

        public Socket {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(level, "level");
        }
    }

    public StatsConfig {
        sockets = List.copyOf(sockets);
        if (timeoutMs < 1) throw new IllegalArgumentException("stats timeout must be positive");
        if (maxconn < 1) throw new IllegalArgumentException("stats maxconn must be at least 1");
    }
}
