package org.forwarder.stats;

/**
 * Counters of one event loop. Written only by its poller thread; read through
 * {@link #snapshot} on that thread so readers see a consistent copy.
 */
public final class Stats {
    public static final int REQUEST = 0;
    public static final int RESPONSE = 1;

    public long accepted;
    public long closed;
    public long connectFailures;
    public long connectRetries;
    public long aborts;
    public long timeouts;
    public long queuedTotal;
    public long acceptPauses;
    public final long[] bytesCopied = new long[2];
    public final long[] bytesSpliced = new long[2];
    public long spliceFallbacks;
    /** Pipe enlargements the kernel refused with EPERM (the user's pipe pages are over its limit). */
    public long pipeResizeRefused;
    /** Empty pipes closed because enough were idle already. */
    public long pipesSurplusClosed;
    /** Pipes made at the kernel's size because large pipes had used up tune.pipes.memory. */
    public long pipesOverBudget;

    /** A copy for another thread, with the gauges that live elsewhere filled in by the caller. */
    public StatsSnapshot snapshot(int active, int pipesInUse, int pipesLargeInUse, int pipesFree, long pipesLargeBytes,
                                  long pipesMemory, int buffersInUse, long epollCtlCalls, long passes) {
        return new StatsSnapshot(accepted, closed, active, connectFailures, connectRetries, aborts,
                timeouts, queuedTotal, acceptPauses,
                bytesCopied[REQUEST], bytesCopied[RESPONSE], bytesSpliced[REQUEST], bytesSpliced[RESPONSE],
                spliceFallbacks, pipesInUse, pipesFree, buffersInUse, epollCtlCalls, passes,
                pipesLargeInUse, pipesLargeBytes, pipesMemory, pipeResizeRefused, pipesSurplusClosed, pipesOverBudget);
    }
}
