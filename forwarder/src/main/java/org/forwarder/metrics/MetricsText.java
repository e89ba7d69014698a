package org.forwarder.metrics;

import org.forwarder.stats.Counter;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.ProcessRate;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.stats.ShowInfo;
import org.forwarder.stats.ShowInfo.Field;
import org.forwarder.stats.ShowStat;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.StatsSnapshot;

import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The Prometheus text exposition (format 0.0.4) of one snapshot, in the names, HELP and TYPE
 * lines and labels of HAProxy 2.6's exporter, so dashboards and alert rules written for HAProxy
 * read ours unchanged: {@code haproxy_process_*} from {@link ShowInfo}'s fields,
 * {@code haproxy_frontend_*}, {@code haproxy_backend_*} and {@code haproxy_server_*} (labels
 * {@code proxy}, {@code server}) from {@link ShowStat}'s rows. Why from those two: they already
 * give every figure HAProxy's semantics (what a backend's weight sums, what lastchg is), so the
 * exporter cannot drift from {@code show info}/{@code show stat}.
 *
 * <p>Only figures we have are exported: HAProxy's metrics for features forwarder lacks (HTTP,
 * SSL, compression, health checks, peers) are left out rather than shown as a 0 that would
 * mean "nothing happened". A figure empty in the row (a server without maxconn) is {@code NaN},
 * as HAProxy prints it. Forwarder's own figures (copied and spliced bytes, pipes, buffers, loop
 * activity per loop with a {@code loop} label) are under {@code forwarder_*}, from the counters'
 * own names and help lines.
 *
 * <p>A pure function of its inputs; {@link Section}s select parts as HAProxy's {@code scope}
 * query parameter does.
 */
public final class MetricsText {

    /** The parts of the page, as HAProxy's {@code ?scope=} names them. */
    public enum Section { GLOBAL, FRONTEND, BACKEND, SERVER }

    private enum Kind { COUNTER, GAUGE }

    /** How a column's value is printed: as it is, or milliseconds as seconds. */
    private enum Unit { PLAIN, MS }

    private record RowMetric(String name, Kind kind, String column, Unit unit, String help) {}

    private record ProcessMetric(String name, Kind kind, Field field, String help) {}

    private static final Kind C = Kind.COUNTER;
    private static final Kind G = Kind.GAUGE;

    // HAProxy 2.6.12's names, types and help texts (captured from its exporter, see the test resources).
    private static final String H_CUR = "Number of current sessions on the frontend, backend or server";
    private static final String H_MAX = "Highest value of current sessions encountered since process started";
    private static final String H_LIM = "Frontend/listener/server's maxconn, backend's fullconn";
    private static final String H_TOT = "Total number of sessions since process started";
    private static final String H_BIN = "Total number of request bytes since process started";
    private static final String H_BOUT = "Total number of response bytes since process started";
    private static final String H_CHKDOWN = "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started";
    private static final String H_DOWNTIME = "Total time spent in DOWN state, for server or backend";
    private static final String H_STATUS = "Current status of the service, per state label value.";
    private static final String H_QCUR = "Number of current queued connections";
    private static final String H_ECON = "Total number of failed connections to server since the worker process started";
    private static final String H_WRETR = "Total number of server connection retries since the worker process started";
    private static final String H_WREDIS = "Total number of server redispatches due to connection failures since the worker process started";
    private static final String H_WEIGHT = "Server's effective weight, or sum of active servers' effective weights for a backend";
    private static final String H_LASTCHG = "How long ago the last server state changed, in seconds";
    private static final String H_LBTOT = "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)";
    private static final String H_CLI_ABRT = "Total number of requests or connections aborted by the client since the worker process started";
    private static final String H_SRV_ABRT = "Total number of requests or connections aborted by the server since the worker process started";
    private static final String H_QTIME = "Avg. queue time for last 1024 successful connections.";
    private static final String H_CTIME = "Avg. connect time for last 1024 successful connections.";
    private static final String H_TTIME = "Avg. total time for last 1024 successful connections.";
    private static final String H_UWEIGHT = "Server's user weight, or sum of active servers' user weights for a backend";

    private static final List<ProcessMetric> PROCESS = List.of(
            new ProcessMetric("nbthread", G, Field.NBTHREAD, "Number of started threads (global.nbthread)"),
            new ProcessMetric("nbproc", G, Field.NBPROC, "Number of started worker processes (historical, always 1)"),
            new ProcessMetric("relative_process_id", G, Field.PROCESS_NUM, "Relative worker process number (1)"),
            new ProcessMetric("uptime_seconds", G, Field.UPTIME_SEC, "How long ago this worker process was started (seconds)"),
            new ProcessMetric("max_fds", G, Field.ULIMIT_N, "Hard limit on the number of per-process file descriptors"),
            new ProcessMetric("max_sockets", G, Field.MAXSOCK, "Hard limit on the number of per-process sockets"),
            new ProcessMetric("max_connections", G, Field.MAXCONN,
                    "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)"),
            new ProcessMetric("hard_max_connections", G, Field.HARD_MAXCONN,
                    "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)"),
            new ProcessMetric("current_connections", G, Field.CURR_CONNS, "Current number of connections on this worker process"),
            new ProcessMetric("connections_total", C, Field.CUM_CONNS, "Total number of connections on this worker process since started"),
            new ProcessMetric("requests_total", C, Field.CUM_REQ, "Total number of requests on this worker process since started"),
            new ProcessMetric("max_pipes", G, Field.MAXPIPES, "Hard limit on the number of pipes for splicing, 0=unlimited"),
            new ProcessMetric("pipes_used_total", C, Field.PIPES_USED, "Current number of pipes in use in this worker process"),
            new ProcessMetric("pipes_free_total", C, Field.PIPES_FREE,
                    "Current number of allocated and available pipes in this worker process"),
            new ProcessMetric("current_connection_rate", G, Field.CONN_RATE,
                    "Number of front connections created on this worker process over the last second"),
            new ProcessMetric("max_connection_rate", G, Field.MAX_CONN_RATE,
                    "Highest ConnRate reached on this worker process since started (in connections per second)"),
            new ProcessMetric("current_session_rate", G, Field.SESS_RATE,
                    "Number of sessions created on this worker process over the last second"),
            new ProcessMetric("max_session_rate", G, Field.MAX_SESS_RATE,
                    "Highest SessRate reached on this worker process since started (in sessions per second)"),
            new ProcessMetric("stopping", G, Field.STOPPING, "1 if the worker process is currently stopping, otherwise zero"),
            new ProcessMetric("jobs", G, Field.JOBS,
                    "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)"),
            new ProcessMetric("listeners", G, Field.LISTENERS, "Current number of active listeners on the current worker process"),
            new ProcessMetric("bytes_out_total", C, Field.TOTAL_BYTES_OUT,
                    "Total number of bytes emitted by current worker process since started"),
            new ProcessMetric("spliced_bytes_out_total", C, Field.TOTAL_SPLICED_BYTES_OUT,
                    "Total number of bytes emitted by current worker process through a kernel pipe since started"),
            new ProcessMetric("bytes_out_rate", G, Field.BYTES_OUT_RATE,
                    "Number of bytes emitted by current worker process over the last second"),
            new ProcessMetric("build_info", G, Field.BUILD_INFO, "Build info"),
            new ProcessMetric("start_time_seconds", G, Field.START_TIME_SEC, "Start time in seconds"));

    private static final List<RowMetric> FRONTEND = List.of(
            new RowMetric("current_sessions", G, "scur", Unit.PLAIN, H_CUR),
            new RowMetric("max_sessions", G, "smax", Unit.PLAIN, H_MAX),
            new RowMetric("limit_sessions", G, "slim", Unit.PLAIN, H_LIM),
            new RowMetric("sessions_total", C, "stot", Unit.PLAIN, H_TOT),
            new RowMetric("bytes_in_total", C, "bin", Unit.PLAIN, H_BIN),
            new RowMetric("bytes_out_total", C, "bout", Unit.PLAIN, H_BOUT),
            new RowMetric("status", G, "status", Unit.PLAIN, H_STATUS),
            new RowMetric("max_session_rate", G, "rate_max", Unit.PLAIN,
                    "Highest value of sessions per second observed since the worker process started"),
            new RowMetric("connections_total", C, "conn_tot", Unit.PLAIN,
                    "Total number of new connections accepted on this frontend since the worker process started"));

    private static final List<RowMetric> BACKEND = List.of(
            new RowMetric("current_queue", G, "qcur", Unit.PLAIN, H_QCUR),
            new RowMetric("max_queue", G, "qmax", Unit.PLAIN, "Highest value of queued connections encountered since process started"),
            new RowMetric("current_sessions", G, "scur", Unit.PLAIN, H_CUR),
            new RowMetric("max_sessions", G, "smax", Unit.PLAIN, H_MAX),
            new RowMetric("limit_sessions", G, "slim", Unit.PLAIN, H_LIM),
            new RowMetric("sessions_total", C, "stot", Unit.PLAIN, H_TOT),
            new RowMetric("bytes_in_total", C, "bin", Unit.PLAIN, H_BIN),
            new RowMetric("bytes_out_total", C, "bout", Unit.PLAIN, H_BOUT),
            new RowMetric("connection_errors_total", C, "econ", Unit.PLAIN, H_ECON),
            new RowMetric("retry_warnings_total", C, "wretr", Unit.PLAIN, H_WRETR),
            new RowMetric("redispatch_warnings_total", C, "wredis", Unit.PLAIN, H_WREDIS),
            new RowMetric("status", G, "status", Unit.PLAIN, H_STATUS),
            new RowMetric("weight", G, "weight", Unit.PLAIN, H_WEIGHT),
            new RowMetric("active_servers", G, "act", Unit.PLAIN, "Total number of active UP servers with a non-zero weight"),
            new RowMetric("backup_servers", G, "bck", Unit.PLAIN, "Total number of backup UP servers with a non-zero weight"),
            new RowMetric("check_up_down_total", C, "chkdown", Unit.PLAIN, H_CHKDOWN),
            new RowMetric("check_last_change_seconds", G, "lastchg", Unit.PLAIN, H_LASTCHG),
            new RowMetric("downtime_seconds_total", C, "downtime", Unit.PLAIN, H_DOWNTIME),
            new RowMetric("loadbalanced_total", C, "lbtot", Unit.PLAIN, H_LBTOT),
            new RowMetric("max_session_rate", G, "rate_max", Unit.PLAIN,
                    "Highest value of sessions per second observed since the worker process started"),
            new RowMetric("client_aborts_total", C, "cli_abrt", Unit.PLAIN, H_CLI_ABRT),
            new RowMetric("server_aborts_total", C, "srv_abrt", Unit.PLAIN, H_SRV_ABRT),
            new RowMetric("queue_time_average_seconds", G, "qtime", Unit.MS, H_QTIME),
            new RowMetric("connect_time_average_seconds", G, "ctime", Unit.MS, H_CTIME),
            new RowMetric("total_time_average_seconds", G, "ttime", Unit.MS, H_TTIME),
            new RowMetric("uweight", G, "uweight", Unit.PLAIN, H_UWEIGHT));

    private static final List<RowMetric> SERVER = List.of(
            new RowMetric("current_queue", G, "qcur", Unit.PLAIN, H_QCUR),
            new RowMetric("current_sessions", G, "scur", Unit.PLAIN, H_CUR),
            new RowMetric("max_sessions", G, "smax", Unit.PLAIN, H_MAX),
            new RowMetric("limit_sessions", G, "slim", Unit.PLAIN, H_LIM),
            new RowMetric("sessions_total", C, "stot", Unit.PLAIN, H_TOT),
            new RowMetric("bytes_in_total", C, "bin", Unit.PLAIN, H_BIN),
            new RowMetric("bytes_out_total", C, "bout", Unit.PLAIN, H_BOUT),
            new RowMetric("connection_errors_total", C, "econ", Unit.PLAIN, H_ECON),
            new RowMetric("retry_warnings_total", C, "wretr", Unit.PLAIN, H_WRETR),
            new RowMetric("redispatch_warnings_total", C, "wredis", Unit.PLAIN, H_WREDIS),
            new RowMetric("status", G, "status", Unit.PLAIN, H_STATUS),
            new RowMetric("weight", G, "weight", Unit.PLAIN, H_WEIGHT),
            new RowMetric("check_failures_total", C, "chkfail", Unit.PLAIN,
                    "Total number of failed individual health checks per server/backend, since the worker process started"),
            new RowMetric("check_up_down_total", C, "chkdown", Unit.PLAIN, H_CHKDOWN),
            new RowMetric("check_last_change_seconds", G, "lastchg", Unit.PLAIN, H_LASTCHG),
            new RowMetric("downtime_seconds_total", C, "downtime", Unit.PLAIN, H_DOWNTIME),
            new RowMetric("loadbalanced_total", C, "lbtot", Unit.PLAIN, H_LBTOT),
            new RowMetric("check_status", G, "check_status", Unit.PLAIN, "Status of last health check, per state label value."),
            new RowMetric("check_code", G, "check_code", Unit.PLAIN, "layer5-7 code, if available of the last health check."),
            new RowMetric("check_duration_seconds", G, "check_duration", Unit.MS,
                    "Total duration of the latest server health check, in seconds."),
            new RowMetric("client_aborts_total", C, "cli_abrt", Unit.PLAIN, H_CLI_ABRT),
            new RowMetric("server_aborts_total", C, "srv_abrt", Unit.PLAIN, H_SRV_ABRT),
            new RowMetric("queue_time_average_seconds", G, "qtime", Unit.MS, H_QTIME),
            new RowMetric("connect_time_average_seconds", G, "ctime", Unit.MS, H_CTIME),
            new RowMetric("total_time_average_seconds", G, "ttime", Unit.MS, H_TTIME),
            new RowMetric("uweight", G, "uweight", Unit.PLAIN, H_UWEIGHT));

    /**
     * HAProxy 2.6's check statuses labelling haproxy_server_check_status, in its order. The three
     * check families are exported for servers with health checks only (as HAProxy does):
     * check_code 0 (no layer 5-7 code in TCP checks), check_duration once a check ended.
     */
    private static final List<String> CHECK_STATES = List.of("HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK",
            "L6TOUT", "L6RSP", "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK");

    private static boolean checked(ShowStat.Row r) {
        String st = r.get("check_status");
        return st != null && !st.isEmpty();
    }

    /** The states HAProxy labels a status with, per row type, in its order. */
    private static final List<String> FRONTEND_STATES = List.of("DOWN", "UP");
    private static final List<String> BACKEND_STATES = List.of("DOWN", "UP");
    private static final List<String> SERVER_STATES = List.of("DOWN", "UP", "MAINT", "DRAIN", "NOLB");

    /** Loop activity: exported per loop, with a {@code loop} label. */
    static final Set<ProcessCounter> PER_LOOP = EnumSet.of(ProcessCounter.POLL_PASSES, ProcessCounter.EPOLL_WAIT_CALLS,
            ProcessCounter.EPOLL_CTL_CALLS, ProcessCounter.RECV_CALLS, ProcessCounter.RECV_EAGAIN,
            ProcessCounter.SEND_CALLS, ProcessCounter.SEND_EAGAIN, ProcessCounter.SPLICE_CALLS,
            ProcessCounter.SPLICE_EAGAIN);

    private MetricsText() {}

    /**
     * The page: {@code info} ({@code show info}'s fields), {@code rows} ({@code show stat}'s rows
     * with their live figures), {@code snap} (the same snapshot, for the forwarder-only figures
     * and the process rates) and {@code perLoop} (each {@link #PER_LOOP} counter per loop, read
     * from the registry), limited to {@code sections}.
     */
    public static String render(ShowInfo info, List<ShowStat.Row> rows, StatsSnapshot snap,
                                Function<ProcessCounter, long[]> perLoop, Set<Section> sections) {
        StringBuilder sb = new StringBuilder(16384);
        if (sections.contains(Section.GLOBAL)) {
            process(sb, info, snap);
        }
        if (sections.contains(Section.FRONTEND)) rows(sb, "frontend", FRONTEND, FRONTEND_STATES, rows, r -> r.svname().equals("FRONTEND"), false);
        if (sections.contains(Section.BACKEND)) rows(sb, "backend", BACKEND, BACKEND_STATES, rows, r -> r.svname().equals("BACKEND"), false);
        if (sections.contains(Section.SERVER)) rows(sb, "server", SERVER, SERVER_STATES, rows, MetricsText::isServer, true);
        if (sections.contains(Section.GLOBAL)) forwarderProcess(sb, snap, perLoop);
        if (sections.contains(Section.FRONTEND)) forwarderRows(sb, snap, StatsRegistry.Type.FRONTEND, "frontend");
        if (sections.contains(Section.BACKEND)) forwarderRows(sb, snap, StatsRegistry.Type.BACKEND, "backend");
        if (sections.contains(Section.SERVER)) forwarderRows(sb, snap, StatsRegistry.Type.SERVER, "server");
        return sb.toString();
    }

    private static boolean isServer(ShowStat.Row r) {
        return !r.svname().equals("FRONTEND") && !r.svname().equals("BACKEND");
    }

    private static void process(StringBuilder sb, ShowInfo info, StatsSnapshot snap) {
        for (ProcessMetric m : PROCESS) {
            String name = "haproxy_process_" + m.name;
            family(sb, name, m.kind, m.help);
            switch (m.field) {
                // show info leaves the rates at 0 for now; the snapshot has them
                case CONN_RATE, SESS_RATE -> sample(sb, name, "", Long.toString(snap.rate(ProcessRate.CONN_RATE)));
                case MAX_CONN_RATE, MAX_SESS_RATE -> sample(sb, name, "", Long.toString(snap.max(ProcessRate.CONN_RATE)));
                case BYTES_OUT_RATE -> sample(sb, name, "", Long.toString(snap.rate(ProcessRate.BYTES_OUT_RATE)));
                case BUILD_INFO -> sample(sb, name, "{version=\"" + escape(info.get(Field.VERSION)) + "\"}", "1");
                default -> sample(sb, name, "", number(info.get(m.field)));
            }
        }
    }

    private static void rows(StringBuilder sb, String type, List<RowMetric> metrics, List<String> states,
                             List<ShowStat.Row> rows, Predicate<ShowStat.Row> which, boolean server) {
        if (rows.stream().noneMatch(which)) return;
        for (RowMetric m : metrics) {
            String name = "haproxy_" + type + "_" + m.name;
            boolean checkFamily = m.column.equals("check_status") || m.column.equals("check_code") || m.column.equals("check_duration");
            if (checkFamily && rows.stream().noneMatch(r -> which.test(r) && checked(r))) continue;
            family(sb, name, m.kind, m.help);
            for (ShowStat.Row r : rows) {
                if (!which.test(r)) continue;
                String labels = "proxy=\"" + escape(r.pxname()) + "\"" + (server ? ",server=\"" + escape(r.svname()) + "\"" : "");
                if (checkFamily) {
                    if (!checked(r)) continue;
                    switch (m.column) {
                        case "check_status" -> {
                            String st = r.get("check_status");
                            if (st.startsWith("* ")) st = st.substring(2);
                            for (String c : CHECK_STATES) sample(sb, name, "{" + labels + ",state=\"" + c + "\"}", c.equals(st) ? "1" : "0");
                        }
                        case "check_code" -> sample(sb, name, "{" + labels + "}", "0");
                        default -> {
                            String d = r.get("check_duration");
                            if (d != null && !d.isEmpty()) sample(sb, name, "{" + labels + "}", value(d, m.unit));
                        }
                    }
                    continue;
                }
                if (m.column.equals("status")) {
                    String state = state(r.get("status"));
                    for (String s : states) sample(sb, name, "{" + labels + ",state=\"" + s + "\"}", s.equals(state) ? "1" : "0");
                } else {
                    sample(sb, name, "{" + labels + "}", value(r.get(m.column), m.unit));
                }
            }
        }
    }

    /** HAProxy's state label for a {@code show stat} status: OPEN and "no check" are UP. */
    static String state(String status) {
        if (status == null) return "DOWN";
        if (status.equals("OPEN") || status.equals("no check") || status.startsWith("UP")) return "UP";
        for (String s : List.of("MAINT", "DRAIN", "NOLB")) if (status.startsWith(s)) return s;
        return "DOWN";
    }

    private static void forwarderProcess(StringBuilder sb, StatsSnapshot snap, Function<ProcessCounter, long[]> perLoop) {
        for (ProcessCounter c : ProcessCounter.values()) {
            if (c.haproxy() != null || PER_LOOP.contains(c)) continue; // HAProxy's name is exported above
            String name = forwarderName("forwarder_", c);
            family(sb, name, kind(c), c.help());
            sample(sb, name, "", Long.toString(snap.get(c)));
        }
        for (ProcessCounter c : PER_LOOP) {
            String name = forwarderName("forwarder_loop_", c);
            family(sb, name, kind(c), c.help() + ", per event loop");
            long[] v = perLoop.apply(c);
            for (int i = 0; i < v.length; i++) sample(sb, name, "{loop=\"" + i + "\"}", Long.toString(v[i]));
        }
    }

    private static void forwarderRows(StringBuilder sb, StatsSnapshot snap, StatsRegistry.Type type, String typeName) {
        int bit = switch (type) {
            case FRONTEND -> ProxyCounter.Rows.FRONTEND;
            case BACKEND -> ProxyCounter.Rows.BACKEND;
            case SERVER -> ProxyCounter.Rows.SERVER;
        };
        List<StatsRegistry.Row> rows = snap.rows().stream().filter(r -> r.type() == type).toList();
        if (rows.isEmpty()) return;
        for (ProxyCounter c : ProxyCounter.values()) {
            if (c.haproxy() != null || (c.rows() & bit) == 0) continue;
            String name = forwarderName("forwarder_" + typeName + "_", c);
            family(sb, name, kind(c), c.help());
            for (StatsRegistry.Row r : rows) {
                String labels = "{proxy=\"" + escape(r.proxy()) + "\""
                        + (type == StatsRegistry.Type.SERVER ? ",server=\"" + escape(r.server()) + "\"" : "") + "}";
                sample(sb, name, labels, Long.toString(snap.get(r, c)));
            }
        }
    }

    /** {@code prefix} and the counter's name in lower case; a counter's ends in {@code _total}. */
    static String forwarderName(String prefix, Counter c) {
        String base = c == ProxyCounter.QTOT ? "queued" : c.name().toLowerCase(Locale.ROOT);
        return prefix + base + (c.kind() == Counter.Kind.COUNTER ? "_total" : "");
    }

    private static Kind kind(Counter c) {
        return c.kind() == Counter.Kind.COUNTER ? Kind.COUNTER : Kind.GAUGE;
    }

    private static void family(StringBuilder sb, String name, Kind kind, String help) {
        sb.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
        sb.append("# TYPE ").append(name).append(' ').append(kind == Kind.COUNTER ? "counter" : "gauge").append('\n');
    }

    private static void sample(StringBuilder sb, String name, String labels, String value) {
        sb.append(name).append(labels).append(' ').append(value).append('\n');
    }

    /** A column's value as Prometheus reads it: NaN when empty (as HAProxy prints it), seconds for MS. */
    private static String value(String v, Unit unit) {
        if (v == null || v.isEmpty()) return "NaN";
        if (unit == Unit.MS) {
            try {
                return String.format(Locale.ROOT, "%.6f", Long.parseLong(v) / 1000.0);
            } catch (NumberFormatException e) {
                return "NaN";
            }
        }
        return number(v);
    }

    private static String number(String v) {
        if (v == null || v.isEmpty()) return "NaN";
        for (int i = 0; i < v.length(); i++) {
            char ch = v.charAt(i);
            if (!(ch >= '0' && ch <= '9') && !(i == 0 && ch == '-')) return "NaN";
        }
        return v;
    }

    /** A label value: backslash, double quote and newline escaped. */
    static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
