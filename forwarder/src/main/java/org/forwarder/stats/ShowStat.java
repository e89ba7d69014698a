package org.forwarder.stats;

import org.forwarder.config.BackendConfig;
import org.forwarder.config.Config;
import org.forwarder.config.FrontendConfig;
import org.forwarder.config.ServerConfig;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * HAProxy 2.6's {@code show stat} CSV, rendered from our counters: the header line, then per
 * proxy in configuration order its FRONTEND line, its server lines and its BACKEND line (a
 * {@code listen} proxy has all three under one name).
 *
 * <p>Why a copy of HAProxy's shape and not our own format: tools that scrape HAProxy (exporters,
 * hatop, haproxystats, shell scripts with {@code cut -d,}) address columns by position or by the
 * header's names, and tell "not applicable" (an empty field) from "zero". So the header, the
 * column order and, per row type, which fields are empty all follow what HAProxy 2.6.12 prints
 * for a TCP-mode configuration (captured in the test resources). Where HAProxy fills a field
 * that we do not count (maxima, rates, timings, HTTP and SSL figures), we print 0 as HAProxy does
 * for a figure that never moved; {@link Row#set} lets those be filled as counters arrive.
 *
 * <p>Why a small input model ({@link Proxy}, {@link Figures}) rather than the running objects:
 * the renderer is then a pure function, tested without sockets or loops; {@link #layout(Config)}
 * builds the model from the configuration and {@link #figures(StatsSnapshot)} reads a snapshot.
 *
 * <p>The text ends with a newline after the last row; the empty line that ends a command's answer
 * on HAProxy's CLI belongs to the socket code, not to this renderer.
 */
public final class ShowStat {

    /** HAProxy 2.6's {@code show stat} columns, in order (the {@code "-"} separates the proxy modules' columns). */
    static final List<String> COLUMNS = List.of(
            "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq", "dresp", "ereq",
            "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck", "chkfail", "chkdown", "lastchg",
            "downtime", "qlimit", "pid", "iid", "sid", "throttle", "lbtot", "tracked", "type", "rate", "rate_lim",
            "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
            "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt",
            "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime", "rtime",
            "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise",
            "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo",
            "conn_rate", "conn_rate_max", "conn_tot", "intercepted", "dcon", "dses", "wrew", "connect", "reuse",
            "cache_lookups", "cache_hits", "srv_icur", "src_ilim", "qtime_max", "ctime_max", "rtime_max", "ttime_max",
            "eint", "idle_conn_cur", "safe_conn_cur", "used_conn_cur", "need_conn_est", "uweight", "agg_server_status",
            "agg_server_check_status", "agg_check_status", "-", "ssl_sess", "ssl_reused_sess", "ssl_failed_handshake",
            "h2_headers_rcvd", "h2_data_rcvd", "h2_settings_rcvd", "h2_rst_stream_rcvd", "h2_goaway_rcvd",
            "h2_detected_conn_protocol_errors", "h2_detected_strm_protocol_errors", "h2_rst_stream_resp",
            "h2_goaway_resp", "h2_open_connections", "h2_backend_open_streams", "h2_total_connections",
            "h2_backend_total_streams", "h1_open_connections", "h1_open_streams", "h1_total_connections",
            "h1_total_streams", "h1_bytes_in", "h1_bytes_out", "h1_spliced_bytes_in", "h1_spliced_bytes_out");

    /** The header line as HAProxy prints it: "# ", the names, each followed by a comma. */
    public static final String HEADER = "# " + String.join(",", COLUMNS) + ",";

    private static final Map<String, Integer> INDEX = new HashMap<>();

    static {
        for (int i = 0; i < COLUMNS.size(); i++) INDEX.put(COLUMNS.get(i), i);
    }

    // Columns HAProxy fills (with 0 when nothing happened) on each row type in TCP mode, besides
    // those set from our figures and the configuration below. Taken from HAProxy 2.6.12's output.
    private static final List<String> SSL = List.of("ssl_sess", "ssl_reused_sess", "ssl_failed_handshake");
    private static final List<String> MUX = List.of("h2_headers_rcvd", "h2_data_rcvd", "h2_settings_rcvd",
            "h2_rst_stream_rcvd", "h2_goaway_rcvd", "h2_detected_conn_protocol_errors",
            "h2_detected_strm_protocol_errors", "h2_rst_stream_resp", "h2_goaway_resp", "h2_open_connections",
            "h2_backend_open_streams", "h2_total_connections", "h2_backend_total_streams", "h1_open_connections",
            "h1_open_streams", "h1_total_connections", "h1_total_streams", "h1_bytes_in", "h1_bytes_out",
            "h1_spliced_bytes_in", "h1_spliced_bytes_out");
    private static final List<String> FRONTEND_ZEROS = List.of("smax", "dreq", "dresp", "ereq", "rate", "rate_lim",
            "rate_max", "req_rate", "req_rate_max", "req_tot", "comp_in", "comp_out", "comp_byp", "comp_rsp",
            "conn_rate", "conn_rate_max", "dcon", "dses", "wrew", "eint");
    private static final List<String> SERVER_ZEROS = List.of("qmax", "smax", "dresp", "eresp", "rate", "rate_max",
            "qtime", "ctime", "rtime", "ttime", "wrew", "connect", "reuse", "srv_icur", "qtime_max", "ctime_max",
            "rtime_max", "ttime_max", "eint", "idle_conn_cur", "safe_conn_cur", "used_conn_cur", "need_conn_est");
    private static final List<String> BACKEND_ZEROS = List.of("qmax", "smax", "dreq", "dresp", "eresp", "chkdown",
            "downtime", "rate", "rate_max", "comp_in", "comp_out", "comp_byp", "comp_rsp", "qtime", "ctime", "rtime",
            "ttime", "wrew", "connect", "reuse", "qtime_max", "ctime_max", "rtime_max", "ttime_max", "eint",
            "agg_server_status", "agg_server_check_status", "agg_check_status");

    /**
     * HAProxy numbers proxies from 1 in configuration order, and the stats socket's own hidden
     * proxy (its CLI frontend, declared in {@code global}, before any proxy) takes 1: the first
     * configured proxy is 2 whenever there is a socket to ask.
     */
    public static final int FIRST_IID = 2;

    /** One server of a backend, as {@code show stat} needs it. */
    public record Server(String name, int sid, String addr, int weight, int maxconn) {}

    /** The frontend side of a proxy: its connection limit. */
    public record Frontend(int maxconn) {}

    /**
     * The backend side of a proxy: its algorithm ({@code roundrobin}, {@code leastconn}),
     * HAProxy's {@code fullconn} (the backend's {@code slim}) and its servers in order.
     */
    public record Backend(String algo, int fullconn, List<Server> servers) {
        public Backend {
            servers = List.copyOf(servers);
        }
    }

    /**
     * One HAProxy proxy: a {@code frontend} (backend null), a {@code backend} (frontend null) or a
     * {@code listen} section (both), with HAProxy's proxy number {@code iid}.
     */
    public record Proxy(String name, int iid, Frontend frontend, Backend backend) {}

    /** The counted figures of each row (a snapshot, or anything a test makes up). */
    public interface Figures {
        /** {@code c} of the frontend, backend or server ({@code server} null unless SERVER) now. */
        long get(StatsRegistry.Type type, String proxy, String server, ProxyCounter c);
    }

    private ShowStat() {}

    /**
     * Fills the columns kept apart from the counters (maxima, rates, time averages) from {@code s}
     * into rows made by {@link #rows}: {@code smax}, {@code qmax}, {@code rate}, {@code rate_max}
     * (frontends), {@code qtime}/{@code ctime}/{@code ttime} (backends and servers), each where
     * HAProxy fills it for a TCP proxy.
     */
    public static List<Row> withLiveFigures(List<Row> rows, StatsSnapshot s) {
        StatsRegistry registry = s.registry();
        for (Row r : rows) {
            switch (r.svname()) {
                case "FRONTEND" -> {
                    StatsRegistry.Row fe = registry.frontend(r.pxname());
                    // a TCP frontend's sessions are its connections: conn_rate is its rate
                    r.set("smax", s.max(fe, ProxyMax.SMAX)).set("rate", s.rate(fe, ProxyRate.RATE))
                            .set("rate_max", s.max(fe, ProxyMax.RATE_MAX))
                            .set("conn_rate", s.rate(fe, ProxyRate.RATE)).set("conn_rate_max", s.max(fe, ProxyMax.RATE_MAX));
                }
                case "BACKEND" -> {
                    StatsRegistry.Row be = registry.backend(r.pxname());
                    times(r, s, be).set("qmax", s.max(be, ProxyMax.QMAX));
                }
                default -> times(r, s, registry.server(r.pxname(), r.svname()));
            }
        }
        return rows;
    }

    private static Row times(Row r, StatsSnapshot s, StatsRegistry.Row row) {
        return r.set("smax", s.max(row, ProxyMax.SMAX)).set("rate", s.rate(row, ProxyRate.RATE))
                .set("rate_max", s.max(row, ProxyMax.RATE_MAX))
                .set("qtime", s.average(row, ProxyAverage.QTIME)).set("ctime", s.average(row, ProxyAverage.CTIME))
                .set("ttime", s.average(row, ProxyAverage.TTIME));
    }

    /** Figures read from {@code s}. */
    public static Figures figures(StatsSnapshot s) {
        return (type, proxy, server, c) -> switch (type) {
            case FRONTEND -> s.frontend(proxy, c);
            case BACKEND -> s.backend(proxy, c);
            case SERVER -> s.server(proxy, server, c);
        };
    }

    /**
     * The proxies of {@code config} in the order of the file, numbered as HAProxy does. A frontend
     * and a backend with the same name declared on the same line are one {@code listen} section.
     * A backend's fullconn is HAProxy's default: a tenth (rounded up) of the maxconn of the
     * frontends that send to it, at least 1.
     */
    public static List<Proxy> layout(Config config) {
        record Decl(int line, int seq, FrontendConfig fe, BackendConfig be) {}
        List<Decl> decls = new ArrayList<>();
        Map<String, FrontendConfig> listenFrontends = new HashMap<>();
        for (FrontendConfig fe : config.frontends()) {
            BackendConfig be = config.backend(fe.name());
            if (be != null && be.where().equals(fe.where())) listenFrontends.put(fe.name(), fe);
            else decls.add(new Decl(line(fe.where()), decls.size(), fe, null));
        }
        for (BackendConfig be : config.backends().values()) {
            decls.add(new Decl(line(be.where()), decls.size(), listenFrontends.get(be.name()), be));
        }
        decls.sort(Comparator.comparingInt(Decl::line).thenComparingInt(Decl::seq));

        Map<String, Long> feMaxconn = new HashMap<>();
        for (FrontendConfig fe : config.frontends()) feMaxconn.merge(fe.defaultBackend(), (long) fe.maxconn(), Long::sum);

        List<Proxy> out = new ArrayList<>();
        for (Decl d : decls) {
            String name = d.fe != null ? d.fe.name() : d.be.name();
            Frontend fe = d.fe == null ? null : new Frontend(d.fe.maxconn());
            Backend be = null;
            if (d.be != null) {
                List<Server> servers = new ArrayList<>();
                for (ServerConfig s : d.be.servers()) {
                    servers.add(new Server(s.name(), servers.size() + 1, s.address().toString(), s.weight(), s.maxconn()));
                }
                long sum = feMaxconn.getOrDefault(d.be.name(), 0L);
                be = new Backend(d.be.balance().keyword(), (int) Math.max(1, (sum + 9) / 10), servers);
            }
            out.add(new Proxy(name, FIRST_IID + out.size(), fe, be));
        }
        return out;
    }

    /** The line number at the end of a "file:line" place, or MAX_VALUE if there is none. */
    private static int line(String where) {
        int colon = where.lastIndexOf(':');
        try {
            return Integer.parseInt(where.substring(colon + 1));
        } catch (NumberFormatException e) {
            return Integer.MAX_VALUE;
        }
    }

    /** The whole answer: header and every row, each line ending in a newline. */
    public static String render(List<Proxy> proxies, Figures figures, long uptimeSeconds) {
        StringBuilder sb = new StringBuilder(HEADER).append('\n');
        for (Row r : rows(proxies, figures, uptimeSeconds)) sb.append(r.csv()).append('\n');
        return sb.toString();
    }

    /** The rows in HAProxy's order, as editable rows (for a caller with more figures to set). */
    public static List<Row> rows(List<Proxy> proxies, Figures figures, long uptimeSeconds) {
        List<Row> rows = new ArrayList<>();
        for (Proxy p : proxies) {
            if (p.frontend() != null) rows.add(frontendRow(p, figures));
            if (p.backend() != null) {
                for (Server s : p.backend().servers()) rows.add(serverRow(p, s, figures, uptimeSeconds));
                rows.add(backendRow(p, figures, uptimeSeconds));
            }
        }
        return rows;
    }

    private static Row frontendRow(Proxy p, Figures f) {
        Row r = new Row(p.name(), "FRONTEND");
        r.zeros(FRONTEND_ZEROS).zeros(SSL).zeros(MUX);
        r.set("-", "-");
        long stot = f.get(StatsRegistry.Type.FRONTEND, p.name(), null, ProxyCounter.STOT);
        r.set("scur", f.get(StatsRegistry.Type.FRONTEND, p.name(), null, ProxyCounter.SCUR));
        r.set("slim", p.frontend().maxconn());
        r.set("stot", stot);
        // In TCP mode every accepted connection is one session: conn_tot equals stot.
        r.set("conn_tot", stot);
        r.set("bin", f.get(StatsRegistry.Type.FRONTEND, p.name(), null, ProxyCounter.BIN));
        r.set("bout", f.get(StatsRegistry.Type.FRONTEND, p.name(), null, ProxyCounter.BOUT));
        r.set("status", "OPEN");
        ids(r, p, 0, 0);
        r.set("mode", "tcp");
        return r;
    }

    private static Row serverRow(Proxy p, Server s, Figures f, long uptime) {
        Row r = new Row(p.name(), s.name());
        r.zeros(SERVER_ZEROS).zeros(SSL);
        r.set("-", "-");
        // We queue in the backend, never on a server: a server's own queue is always empty.
        r.set("qcur", 0);
        counted(r, f, StatsRegistry.Type.SERVER, p.name(), s.name());
        if (s.maxconn() > 0) r.set("slim", s.maxconn());
        // Without health checks HAProxy says "no check"; weight 0 still counts as active here.
        r.set("status", "no check");
        r.set("weight", s.weight());
        r.set("uweight", s.weight());
        r.set("act", 1);
        r.set("bck", 0);
        r.set("lastchg", uptime); // no state change since start
        // Every slot a server took was given by the balancing algorithm.
        r.set("lbtot", f.get(StatsRegistry.Type.SERVER, p.name(), s.name(), ProxyCounter.STOT));
        ids(r, p, s.sid(), 2);
        lastSession(r, f.get(StatsRegistry.Type.SERVER, p.name(), s.name(), ProxyCounter.STOT));
        r.set("addr", s.addr());
        r.set("mode", "tcp");
        return r;
    }

    private static Row backendRow(Proxy p, Figures f, long uptime) {
        Backend be = p.backend();
        Row r = new Row(p.name(), "BACKEND");
        r.zeros(BACKEND_ZEROS).zeros(SSL).zeros(MUX);
        r.set("-", "-");
        r.set("qcur", f.get(StatsRegistry.Type.BACKEND, p.name(), null, ProxyCounter.QCUR));
        counted(r, f, StatsRegistry.Type.BACKEND, p.name(), null);
        r.set("slim", be.fullconn());
        long weight = 0;
        long active = 0;
        long lbtot = 0;
        for (Server s : be.servers()) {
            weight += s.weight();
            if (s.weight() > 0) active++; // HAProxy counts only servers that can take connections
            lbtot += f.get(StatsRegistry.Type.SERVER, p.name(), s.name(), ProxyCounter.STOT);
        }
        // HAProxy: UP while the servers' usable weight is above zero.
        r.set("status", weight > 0 ? "UP" : "DOWN");
        r.set("weight", weight);
        r.set("uweight", weight);
        r.set("act", active);
        r.set("bck", 0);
        r.set("lastchg", uptime);
        r.set("lbtot", lbtot);
        ids(r, p, 0, 1);
        lastSession(r, f.get(StatsRegistry.Type.BACKEND, p.name(), null, ProxyCounter.STOT));
        r.set("mode", "tcp");
        r.set("algo", be.algo());
        return r;
    }

    /** The figures backends and servers share. */
    private static void counted(Row r, Figures f, StatsRegistry.Type t, String proxy, String server) {
        r.set("scur", f.get(t, proxy, server, ProxyCounter.SCUR));
        r.set("stot", f.get(t, proxy, server, ProxyCounter.STOT));
        r.set("bin", f.get(t, proxy, server, ProxyCounter.BIN));
        r.set("bout", f.get(t, proxy, server, ProxyCounter.BOUT));
        r.set("econ", f.get(t, proxy, server, ProxyCounter.ECON));
        r.set("wretr", f.get(t, proxy, server, ProxyCounter.WRETR));
        r.set("wredis", f.get(t, proxy, server, ProxyCounter.WREDIS));
        r.set("cli_abrt", f.get(t, proxy, server, ProxyCounter.CLI_ABRT));
        r.set("srv_abrt", f.get(t, proxy, server, ProxyCounter.SRV_ABRT));
    }

    private static void ids(Row r, Proxy p, int sid, int type) {
        r.set("pid", 1);
        r.set("iid", p.iid());
        r.set("sid", sid);
        r.set("type", type);
    }

    /**
     * lastsess is seconds since the last session; HAProxy prints -1 before the first. We do not
     * keep that time yet: -1 while nothing was counted, empty (unknown) after.
     */
    private static void lastSession(Row r, long stot) {
        if (stot == 0) r.set("lastsess", -1);
    }

    /** One CSV line being built: a value per column, null for the empty fields. */
    public static final class Row {
        private final String[] values = new String[COLUMNS.size()];

        Row(String pxname, String svname) {
            set("pxname", pxname);
            set("svname", svname);
        }

        public String pxname() { return values[0]; }

        public String svname() { return values[1]; }

        /** The value of {@code column}, or null when the field is empty. */
        public String get(String column) {
            return values[index(column)];
        }

        public Row set(String column, String value) {
            values[index(column)] = value;
            return this;
        }

        public Row set(String column, long value) {
            return set(column, Long.toString(value));
        }

        private Row zeros(List<String> columns) {
            for (String c : columns) set(c, "0");
            return this;
        }

        private static int index(String column) {
            Integer i = INDEX.get(column);
            if (i == null) throw new IllegalArgumentException("no column '" + column + "' in show stat");
            return i;
        }

        /** The line as HAProxy prints it (no newline): every field followed by a comma. */
        public String csv() {
            StringBuilder sb = new StringBuilder();
            for (String v : values) {
                if (v != null) sb.append(csvField(v));
                sb.append(',');
            }
            return sb.toString();
        }

        @Override
        public String toString() {
            return csv();
        }

        /** Names are configuration words without commas or newlines; should one slip through, it must not shift the columns. */
        private static String csvField(String v) {
            return v.indexOf(',') < 0 && v.indexOf('\n') < 0 ? v : v.replace(',', ' ').replace('\n', ' ');
        }
    }
}
