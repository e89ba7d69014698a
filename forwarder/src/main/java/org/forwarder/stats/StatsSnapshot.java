package org.forwarder.stats;

/** A consistent copy of one loop's counters and gauges. */
public record StatsSnapshot(
        long accepted, long closed, int active,
        long connectFailures, long connectRetries, long aborts, long timeouts, long queuedTotal,
        long acceptPauses,
        long requestBytesCopied, long responseBytesCopied,
        long requestBytesSpliced, long responseBytesSpliced,
        long spliceFallbacks, int pipesInUse, int pipesFree, int buffersInUse,
        long epollCtlCalls, long passes,
        int pipesLargeInUse, long pipesLargeBytes, long pipesMemory,
        long pipeResizeRefused, long pipesSurplusClosed, long pipesOverBudget) {

    /** One line per figure, for logs and the shutdown summary. */
    public String render() {
        return String.join("\n",
                "connections: accepted " + accepted + ", closed " + closed + ", active " + active
                        + ", aborted " + aborts + ", timed out " + timeouts + ", queued " + queuedTotal,
                "server connects: failed " + connectFailures + ", retried " + connectRetries,
                "request bytes: copied " + requestBytesCopied + ", spliced " + requestBytesSpliced,
                "response bytes: copied " + responseBytesCopied + ", spliced " + responseBytesSpliced,
                "pipes: in use " + pipesInUse + " (" + pipesLargeInUse + " large), free " + pipesFree
                        + ", splice fallbacks " + spliceFallbacks,
                "pipe memory: large pipes " + pipesLargeBytes + " of " + pipesMemory + " bytes, left small (budget) "
                        + pipesOverBudget + ", resize refused (EPERM) " + pipeResizeRefused
                        + ", surplus closed " + pipesSurplusClosed,
                "buffers in use: " + buffersInUse + "; accept pauses: " + acceptPauses,
                "poller: passes " + passes + ", epoll_ctl calls " + epollCtlCalls);
    }
}
