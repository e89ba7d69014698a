package org.forwarder.stats;

import java.util.EnumMap;
import java.util.Map;

/**
 * HAProxy 2.6's {@code show info}: one {@code Name: value} line per field, every field, in
 * HAProxy's order, with HAProxy's names (including its spellings: {@code Ulimit-n},
 * {@code Unstoppable Jobs}, {@code Build info}, and the misspelt {@code TotalSplicdedBytesOut}
 * that 2.6 prints), so scripts written against HAProxy read ours unchanged.
 *
 * <p>Why every field even when we count nothing for it: HAProxy prints them all, and a field
 * that is missing breaks parsers that index by name. A figure we do not have yet is printed as
 * {@code 0}, HAProxy's value for a counter that never moved; {@link #set} replaces it when a
 * counter exists. Which fields are still 0 for want of a counter is said at {@link #of}.
 *
 * <p>A pure function of its inputs ({@link Process} and a {@link StatsSnapshot}): no socket, no
 * clock read here. The CLI's terminating empty line is not part of the text.
 */
public final class ShowInfo {

    /** The fields of HAProxy 2.6's {@code show info}, in its order. */
    public enum Field {
        NAME("Name"), VERSION("Version"), RELEASE_DATE("Release_date"), NBTHREAD("Nbthread"), NBPROC("Nbproc"),
        PROCESS_NUM("Process_num"), PID("Pid"), UPTIME("Uptime"), UPTIME_SEC("Uptime_sec"), MEMMAX_MB("Memmax_MB"),
        POOL_ALLOC_MB("PoolAlloc_MB"), POOL_USED_MB("PoolUsed_MB"), POOL_FAILED("PoolFailed"), ULIMIT_N("Ulimit-n"),
        MAXSOCK("Maxsock"), MAXCONN("Maxconn"), HARD_MAXCONN("Hard_maxconn"), CURR_CONNS("CurrConns"),
        CUM_CONNS("CumConns"), CUM_REQ("CumReq"), MAX_SSL_CONNS("MaxSslConns"), CURR_SSL_CONNS("CurrSslConns"),
        CUM_SSL_CONNS("CumSslConns"), MAXPIPES("Maxpipes"), PIPES_USED("PipesUsed"), PIPES_FREE("PipesFree"),
        CONN_RATE("ConnRate"), CONN_RATE_LIMIT("ConnRateLimit"), MAX_CONN_RATE("MaxConnRate"), SESS_RATE("SessRate"),
        SESS_RATE_LIMIT("SessRateLimit"), MAX_SESS_RATE("MaxSessRate"), SSL_RATE("SslRate"),
        SSL_RATE_LIMIT("SslRateLimit"), MAX_SSL_RATE("MaxSslRate"), SSL_FRONTEND_KEY_RATE("SslFrontendKeyRate"),
        SSL_FRONTEND_MAX_KEY_RATE("SslFrontendMaxKeyRate"),
        SSL_FRONTEND_SESSION_REUSE_PCT("SslFrontendSessionReuse_pct"), SSL_BACKEND_KEY_RATE("SslBackendKeyRate"),
        SSL_BACKEND_MAX_KEY_RATE("SslBackendMaxKeyRate"), SSL_CACHE_LOOKUPS("SslCacheLookups"),
        SSL_CACHE_MISSES("SslCacheMisses"), COMPRESS_BPS_IN("CompressBpsIn"), COMPRESS_BPS_OUT("CompressBpsOut"),
        COMPRESS_BPS_RATE_LIM("CompressBpsRateLim"), TASKS("Tasks"), RUN_QUEUE("Run_queue"), IDLE_PCT("Idle_pct"),
        NODE("node"), STOPPING("Stopping"), JOBS("Jobs"), UNSTOPPABLE_JOBS("Unstoppable Jobs"),
        LISTENERS("Listeners"), ACTIVE_PEERS("ActivePeers"), CONNECTED_PEERS("ConnectedPeers"),
        DROPPED_LOGS("DroppedLogs"), BUSY_POLLING("BusyPolling"), FAILED_RESOLUTIONS("FailedResolutions"),
        TOTAL_BYTES_OUT("TotalBytesOut"), TOTAL_SPLICED_BYTES_OUT("TotalSplicdedBytesOut"),
        BYTES_OUT_RATE("BytesOutRate"), DEBUG_COMMANDS_ISSUED("DebugCommandsIssued"), CUM_RECV_LOGS("CumRecvLogs"),
        BUILD_INFO("Build info"), MEMMAX_BYTES("Memmax_bytes"), POOL_ALLOC_BYTES("PoolAlloc_bytes"),
        POOL_USED_BYTES("PoolUsed_bytes"), START_TIME_SEC("Start_time_sec"), TAINTED("Tainted");

        private final String label;

        Field(String label) {
            this.label = label;
        }

        /** The name HAProxy prints before the colon. */
        public String label() {
            return label;
        }
    }

    /**
     * What the process knows about itself that no counter holds: its name and version, pid,
     * start and current time (seconds since the epoch), event loops, fd limit ({@code Ulimit-n})
     * and socket budget ({@code Maxsock}), global maxconn and maxpipes, listening sockets, the
     * host name, and whether it is stopping.
     */
    public record Process(String name, String version, String releaseDate, long pid, long startTimeSec, long nowSec,
                          int nbthread, long ulimitN, long maxsock, int maxconn, int maxpipes, int listeners,
                          String node, boolean stopping) {
        public long uptimeSec() {
            return Math.max(0, nowSec - startTimeSec);
        }
    }

    private final Map<Field, String> values = new EnumMap<>(Field.class);

    private ShowInfo() {
        for (Field f : Field.values()) values.put(f, "0");
    }

    /**
     * Every field from {@code p} and {@code s}. Left at 0 because we count nothing for them yet:
     * PoolAlloc/PoolUsed (MB and bytes), the rates and their maxima (ConnRate, MaxConnRate,
     * SessRate, MaxSessRate, BytesOutRate), Tasks, Run_queue, Idle_pct. At 0 because we have no
     * such feature, as HAProxy prints them without it: Memmax (no memory limit), PoolFailed, the
     * SSL and compression fields, rate limits, peers, resolvers, BusyPolling, debug
     * commands, Unstoppable Jobs, Tainted.
     */
    public static ShowInfo of(Process p, StatsSnapshot s) {
        ShowInfo i = new ShowInfo();
        i.set(Field.NAME, p.name());
        i.set(Field.VERSION, p.version());
        i.set(Field.RELEASE_DATE, p.releaseDate());
        i.set(Field.NBTHREAD, p.nbthread());
        i.set(Field.NBPROC, 1);
        i.set(Field.PROCESS_NUM, 1);
        i.set(Field.PID, p.pid());
        i.set(Field.UPTIME, uptime(p.uptimeSec()));
        i.set(Field.UPTIME_SEC, p.uptimeSec());
        i.set(Field.ULIMIT_N, p.ulimitN());
        i.set(Field.MAXSOCK, p.maxsock());
        i.set(Field.MAXCONN, p.maxconn());
        i.set(Field.HARD_MAXCONN, p.maxconn());
        long curr = s.get(ProcessCounter.CURR_CONNS);
        i.set(Field.CURR_CONNS, curr);
        i.set(Field.CUM_CONNS, s.get(ProcessCounter.CUM_CONNS));
        // In TCP mode each accepted connection makes one stream, which HAProxy counts as a request.
        i.set(Field.CUM_REQ, s.get(ProcessCounter.CUM_CONNS));
        i.set(Field.MAXPIPES, p.maxpipes());
        i.set(Field.PIPES_USED, s.get(ProcessCounter.PIPES_USED));
        i.set(Field.PIPES_FREE, s.get(ProcessCounter.PIPES_FREE));
        i.set(Field.NODE, p.node());
        i.set(Field.STOPPING, p.stopping() ? 1 : 0);
        // HAProxy's jobs: listeners plus open connections.
        i.set(Field.JOBS, p.listeners() + curr);
        i.set(Field.LISTENERS, p.listeners());
        long spliced = s.get(ProcessCounter.REQUEST_BYTES_SPLICED) + s.get(ProcessCounter.RESPONSE_BYTES_SPLICED);
        long copied = s.get(ProcessCounter.REQUEST_BYTES_COPIED) + s.get(ProcessCounter.RESPONSE_BYTES_COPIED);
        // Bytes sent on any socket, to servers and to clients; the spliced ones are part of it.
        i.set(Field.TOTAL_BYTES_OUT, copied + spliced);
        i.set(Field.TOTAL_SPLICED_BYTES_OUT, spliced);
        i.set(Field.BUILD_INFO, p.version());
        i.set(Field.START_TIME_SEC, p.startTimeSec());
        i.set(Field.DROPPED_LOGS, s.get(ProcessCounter.LOG_DROPPED));
        return i;
    }

    /** HAProxy's uptime form: {@code 0d 0h00m01s}. */
    static String uptime(long sec) {
        return String.format("%dd %dh%02dm%02ds", sec / 86400, (sec / 3600) % 24, (sec / 60) % 60, sec % 60);
    }

    /** Replaces the value of {@code f}. */
    public ShowInfo set(Field f, String value) {
        values.put(f, value == null ? "" : value.replace('\n', ' '));
        return this;
    }

    public ShowInfo set(Field f, long value) {
        return set(f, Long.toString(value));
    }

    /** The value printed for {@code f}. */
    public String get(Field f) {
        return values.get(f);
    }

    /** Every field, one {@code Name: value} line each, each ending in a newline. */
    public String render() {
        StringBuilder sb = new StringBuilder();
        for (Field f : Field.values()) sb.append(f.label()).append(": ").append(values.get(f)).append('\n');
        return sb.toString();
    }

    @Override
    public String toString() {
        return render();
    }
}
