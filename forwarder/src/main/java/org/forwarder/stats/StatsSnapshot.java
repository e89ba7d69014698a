package org.forwarder.stats;

import java.util.List;

/**
 * Every figure of a {@link StatsRegistry}, summed over its loops and copied at one moment (see
 * the registry for what "one moment" guarantees). Figures are read by name:
 * {@link #get(ProcessCounter)}, {@link #get(StatsRegistry.Row, ProxyCounter)}, or the shorthands
 * below; {@link #render()} is the shutdown summary. Rates ({@link #rate}), time averages
 * ({@link #average}) and maxima ({@link #max}) are read at the same time: the rates against the
 * snapshot's clock, the averages as the loops' windows mixed (see {@link SwRate}), the maxima
 * from the shared objects that keep them ({@link SharedMax}).
 */
public final class StatsSnapshot {
    private static final int PROXY = ProxyCounter.values().length;

    private final StatsRegistry registry;
    private final long[] process;
    private static final int LIVE = ProxyRate.values().length + ProxyAverage.values().length + ProxyMax.values().length;
    private static final int AVERAGES_AT = ProxyRate.values().length;
    private static final int MAXES_AT = AVERAGES_AT + ProxyAverage.values().length;

    private final long[] proxies;
    /** Per {@link ProcessRate}: the rate, then its maximum. */
    private final long[] processRates;
    /** Per row: its {@link ProxyRate}s, {@link ProxyAverage}s, then {@link ProxyMax}es. */
    private final long[] live;

    StatsSnapshot(StatsRegistry registry, long[] process, long[] proxies, long[] processRates, long[] live) {
        this.registry = registry;
        this.process = process;
        this.proxies = proxies;
        this.processRates = processRates;
        this.live = live;
    }

    /** The process's rate {@code r} (per second) when the snapshot was taken. */
    public long rate(ProcessRate r) {
        return processRates[r.ordinal() * 2];
    }

    /** The highest process rate {@code r} seen (0 where none is kept, see {@link ProcessRate#haproxyMax()}). */
    public long max(ProcessRate r) {
        return processRates[r.ordinal() * 2 + 1];
    }

    /** Rate {@code r} of {@code row} (per second, summed over the loops) when the snapshot was taken. */
    public long rate(StatsRegistry.Row row, ProxyRate r) {
        return live[row.index() * LIVE + r.ordinal()];
    }

    /** Average {@code a} of {@code row} in milliseconds (see {@link SwRate} for how loops mix). */
    public long average(StatsRegistry.Row row, ProxyAverage a) {
        return live[row.index() * LIVE + AVERAGES_AT + a.ordinal()];
    }

    /** Maximum {@code m} of {@code row} (process-wide). */
    public long max(StatsRegistry.Row row, ProxyMax m) {
        return live[row.index() * LIVE + MAXES_AT + m.ordinal()];
    }

    public long get(ProcessCounter c) {
        return process[c.ordinal()];
    }

    public long get(StatsRegistry.Row row, ProxyCounter c) {
        return proxies[row.index() * PROXY + c.ordinal()];
    }

    /** The registry the snapshot was read from (its rows, by name). */
    public StatsRegistry registry() {
        return registry;
    }

    /** Every row of the registry: frontends, then each backend followed by its servers. */
    public List<StatsRegistry.Row> rows() {
        return registry.rows();
    }

    public long frontend(String name, ProxyCounter c) {
        return get(registry.frontend(name), c);
    }

    public long backend(String name, ProxyCounter c) {
        return get(registry.backend(name), c);
    }

    public long server(String backend, String server, ProxyCounter c) {
        return get(registry.server(backend, server), c);
    }

    // ---- shorthands for the process figures --------------------------------------------------

    public long accepted() { return get(ProcessCounter.CUM_CONNS); }
    public long closed() { return get(ProcessCounter.CLOSED); }
    public int active() { return (int) get(ProcessCounter.CURR_CONNS); }
    public long connectFailures() { return get(ProcessCounter.CONNECT_FAILURES); }
    public long connectRetries() { return get(ProcessCounter.CONNECT_RETRIES); }
    public long aborts() { return get(ProcessCounter.ABORTS); }
    public long timeouts() { return get(ProcessCounter.TIMEOUTS); }
    public long queuedTotal() { return get(ProcessCounter.QUEUED); }
    public long acceptPauses() { return get(ProcessCounter.ACCEPT_PAUSES); }
    public long requestBytesCopied() { return get(ProcessCounter.REQUEST_BYTES_COPIED); }
    public long responseBytesCopied() { return get(ProcessCounter.RESPONSE_BYTES_COPIED); }
    public long requestBytesSpliced() { return get(ProcessCounter.REQUEST_BYTES_SPLICED); }
    public long responseBytesSpliced() { return get(ProcessCounter.RESPONSE_BYTES_SPLICED); }
    public long spliceFallbacks() { return get(ProcessCounter.SPLICE_FALLBACKS); }
    public int pipesInUse() { return (int) get(ProcessCounter.PIPES_USED); }
    public int pipesLargeInUse() { return (int) get(ProcessCounter.PIPES_LARGE_USED); }
    public int pipesFree() { return (int) get(ProcessCounter.PIPES_FREE); }
    public long pipesLargeBytes() { return get(ProcessCounter.PIPES_LARGE_BYTES); }
    public long pipesMemory() { return get(ProcessCounter.PIPES_MEMORY); }
    public long pipesOverBudget() { return get(ProcessCounter.PIPES_OVER_BUDGET); }
    public long pipeResizeRefused() { return get(ProcessCounter.PIPE_RESIZE_REFUSED); }
    public long pipesSurplusClosed() { return get(ProcessCounter.PIPES_SURPLUS_CLOSED); }
    public int buffersInUse() { return (int) get(ProcessCounter.BUFFERS_USED); }
    public long passes() { return get(ProcessCounter.POLL_PASSES); }
    public long epollCtlCalls() { return get(ProcessCounter.EPOLL_CTL_CALLS); }
    public long epollWaitCalls() { return get(ProcessCounter.EPOLL_WAIT_CALLS); }

    /** One line per group of figures, for logs and the shutdown summary. */
    public String render() {
        return String.join("\n",
                "connections: accepted " + accepted() + ", closed " + closed() + ", active " + active()
                        + ", aborted " + aborts() + ", timed out " + timeouts() + ", queued " + queuedTotal(),
                "server connects: failed " + connectFailures() + ", retried " + connectRetries(),
                "request bytes: copied " + requestBytesCopied() + ", spliced " + requestBytesSpliced(),
                "response bytes: copied " + responseBytesCopied() + ", spliced " + responseBytesSpliced(),
                "pipes: in use " + pipesInUse() + " (" + pipesLargeInUse() + " large), free " + pipesFree()
                        + ", splice fallbacks " + spliceFallbacks(),
                "pipe memory: large pipes " + pipesLargeBytes() + " of " + pipesMemory() + " bytes, left small (budget) "
                        + pipesOverBudget() + ", resize refused (EPERM) " + pipeResizeRefused()
                        + ", surplus closed " + pipesSurplusClosed(),
                "buffers in use: " + buffersInUse() + "; accept pauses: " + acceptPauses(),
                "poller: passes " + passes() + ", epoll_wait calls " + epollWaitCalls() + ", epoll_ctl calls " + epollCtlCalls(),
                "syscalls: recv " + get(ProcessCounter.RECV_CALLS) + " (EAGAIN " + get(ProcessCounter.RECV_EAGAIN)
                        + "), send " + get(ProcessCounter.SEND_CALLS) + " (EAGAIN " + get(ProcessCounter.SEND_EAGAIN)
                        + "), splice " + get(ProcessCounter.SPLICE_CALLS) + " (EAGAIN " + get(ProcessCounter.SPLICE_EAGAIN) + ")");
    }

    @Override
    public String toString() {
        return render();
    }
}
