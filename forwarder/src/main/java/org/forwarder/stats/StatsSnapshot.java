package org.forwarder.stats;

import java.util.List;

/**
 * Every figure of a {@link StatsRegistry}, summed over its loops and copied at one moment (see
 * the registry for what "one moment" guarantees). Figures are read by name:
 * {@link #get(ProcessCounter)}, {@link #get(StatsRegistry.Row, ProxyCounter)}, or the shorthands
 * below; {@link #render()} is the shutdown summary.
 */
public final class StatsSnapshot {
    private static final int PROXY = ProxyCounter.values().length;

    private final StatsRegistry registry;
    private final long[] process;
    private final long[] proxies;

    StatsSnapshot(StatsRegistry registry, long[] process, long[] proxies) {
        this.registry = registry;
        this.process = process;
        this.proxies = proxies;
    }

    public long get(ProcessCounter c) {
        return process[c.ordinal()];
    }

    public long get(StatsRegistry.Row row, ProxyCounter c) {
        return proxies[row.index() * PROXY + c.ordinal()];
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
                "poller: passes " + passes() + ", epoll_ctl calls " + epollCtlCalls());
    }

    @Override
    public String toString() {
        return render();
    }
}
