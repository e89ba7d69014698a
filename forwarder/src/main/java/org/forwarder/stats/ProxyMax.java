package org.forwarder.stats;

/**
 * Highest values of a row's process-wide levels (HAProxy's {@code show stat} maxima), kept in
 * {@link StatsRegistry} by the shared objects where the level changes (see {@link SharedMax}).
 */
public enum ProxyMax {
    SMAX("smax", ProxyCounter.Rows.ALL, "most streams open at once (on a server: slots held at once)"),
    QMAX("qmax", ProxyCounter.Rows.BACKEND, "most streams waiting in the queue at once"),
    RATE_MAX("rate_max", ProxyCounter.Rows.ALL, "highest stream rate seen (streams per second: at an accept, a backend's stream start, a server's slot taken)");

    private final String haproxy;
    private final int rows;
    private final String help;

    ProxyMax(String haproxy, int rows, String help) {
        this.haproxy = haproxy;
        this.rows = rows;
        this.help = help;
    }

    public String haproxy() { return haproxy; }
    /** The rows ({@link ProxyCounter.Rows} bits) this figure is kept for. */
    public int rows() { return rows; }
    public String help() { return help; }
}
