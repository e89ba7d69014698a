package org.forwarder.config;

/** How a backend picks a server for each new connection. */
public enum Balance {
    /** Each server in turn, in proportion to its weight. */
    ROUNDROBIN,
    /** The server with the fewest active connections relative to its weight. */
    LEASTCONN;

    /** The word used for this algorithm in the configuration ({@code roundrobin}, {@code leastconn}). */
    public String keyword() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
