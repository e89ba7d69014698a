package org.forwarder.stats;

import static org.forwarder.stats.Counter.Kind.COUNTER;
import static org.forwarder.stats.Counter.Kind.GAUGE;

/**
 * Figures of one frontend, backend or server (a row of HAProxy's {@code show stat}, whose column
 * names {@link #haproxy()} gives). Every row has the same columns; {@link #rows()} says which rows
 * a figure is counted in (as in HAProxy, where the others are left empty).
 *
 * <p>Retries follow HAProxy's split: a failed connect tried again on the same server counts in
 * {@link #WRETR}, one moved to another server in {@link #WREDIS} (both on the backend and on the
 * server that failed), so {@code wretr + wredis} is the process's {@code CONNECT_RETRIES}.
 */
public enum ProxyCounter implements Counter {
    SCUR(GAUGE, "scur", Rows.ALL, "streams open now (on a server: slots held, connecting or connected)"),
    STOT(COUNTER, "stot", Rows.ALL, "streams so far (on a server: slots taken)"),
    QCUR(GAUGE, "qcur", Rows.BACKEND, "streams waiting in the queue for a server slot"),
    QTOT(COUNTER, null, Rows.BACKEND, "streams that waited in the queue"),
    BIN(COUNTER, "bin", Rows.ALL, "bytes read from clients (the request direction)"),
    BOUT(COUNTER, "bout", Rows.ALL, "bytes read from servers (the response direction)"),
    BIN_SPLICED(COUNTER, null, Rows.ALL, "bytes of bin moved through pipes (splice); the rest were copied"),
    BOUT_SPLICED(COUNTER, null, Rows.ALL, "bytes of bout moved through pipes (splice); the rest were copied"),
    ECON(COUNTER, "econ", Rows.BACKEND | Rows.SERVER, "server connect attempts that failed"),
    WRETR(COUNTER, "wretr", Rows.BACKEND | Rows.SERVER, "failed connects tried again on the same server"),
    WREDIS(COUNTER, "wredis", Rows.BACKEND | Rows.SERVER, "failed connects moved to another server"),
    CLI_ABRT(COUNTER, "cli_abrt", Rows.ALL, "streams the client aborted (reset, error, or left while waiting)"),
    SRV_ABRT(COUNTER, "srv_abrt", Rows.ALL, "streams the server aborted (reset or error)"),
    TIMEOUTS(COUNTER, null, Rows.ALL, "streams ended by a timeout (queue, client, server)");

    /** Which rows a figure is counted in, as a bit set. */
    public static final class Rows {
        public static final int FRONTEND = 1;
        public static final int BACKEND = 2;
        public static final int SERVER = 4;
        public static final int ALL = FRONTEND | BACKEND | SERVER;

        private Rows() {}
    }

    private final Kind kind;
    private final String haproxy;
    private final int rows;
    private final String help;

    ProxyCounter(Kind kind, String haproxy, int rows, String help) {
        this.kind = kind;
        this.haproxy = haproxy;
        this.rows = rows;
        this.help = help;
    }

    @Override public Kind kind() { return kind; }
    @Override public String haproxy() { return haproxy; }
    @Override public String help() { return help; }
    /** The rows ({@link Rows} bits) this figure is counted in. */
    public int rows() { return rows; }
}
