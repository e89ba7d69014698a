package org.forwarder.stats;

import static org.forwarder.stats.Counter.Kind.COUNTER;
import static org.forwarder.stats.Counter.Kind.GAUGE;

/**
 * Figures of the process as a whole (HAProxy's {@code show info}), one block per event loop.
 * {@link #CURR_CONNS} comes first: readers read it before anything else (see {@link StatsRegistry}).
 */
public enum ProcessCounter implements Counter {
    CURR_CONNS(GAUGE, "CurrConns", "client connections open now"),
    CUM_CONNS(COUNTER, "CumConns", "client connections accepted"),
    CLOSED(COUNTER, null, "client connections closed"),
    ABORTS(COUNTER, null, "streams a peer aborted (reset, error, or the client left while its stream waited)"),
    TIMEOUTS(COUNTER, null, "streams ended by a timeout"),
    QUEUED(COUNTER, null, "streams that waited in a backend queue for a server slot"),
    CONNECT_FAILURES(COUNTER, null, "server connect attempts that failed"),
    CONNECT_RETRIES(COUNTER, null, "failed connects tried again (on the same or another server)"),
    ACCEPT_PAUSES(COUNTER, null, "times a listener stopped accepting (maxconn reached, out of fds)"),
    REQUEST_BYTES_COPIED(COUNTER, null, "request bytes moved through buffers (recv/send)"),
    REQUEST_BYTES_SPLICED(COUNTER, null, "request bytes moved through pipes (splice)"),
    RESPONSE_BYTES_COPIED(COUNTER, null, "response bytes moved through buffers (recv/send)"),
    RESPONSE_BYTES_SPLICED(COUNTER, null, "response bytes moved through pipes (splice)"),
    SPLICE_FALLBACKS(COUNTER, null, "streams that went back to copying because the kernel refused splice"),
    PIPES_USED(GAUGE, "PipesUsed", "pipes held by streams"),
    PIPES_LARGE_USED(GAUGE, null, "pipes held by streams that are larger than the kernel's default"),
    PIPES_FREE(GAUGE, "PipesFree", "empty pipes kept for reuse"),
    PIPES_LARGE_BYTES(GAUGE, null, "bytes of the large pipes that exist (held or free)"),
    PIPES_MEMORY(GAUGE, null, "what large pipes may take together now (tune.pipes.memory, lowered after EPERM)"),
    PIPES_OVER_BUDGET(COUNTER, null, "pipes left at the kernel's size because large pipes used up their budget"),
    PIPE_RESIZE_REFUSED(COUNTER, null, "pipe enlargements the kernel refused (EPERM)"),
    PIPES_SURPLUS_CLOSED(COUNTER, null, "empty pipes closed because enough were free already"),
    BUFFERS_USED(GAUGE, null, "copy buffers held by streams"),
    POLL_PASSES(COUNTER, null, "event-loop passes"),
    EPOLL_CTL_CALLS(COUNTER, null, "epoll_ctl calls"),
    EPOLL_WAIT_CALLS(COUNTER, null, "epoll_wait calls"),
    RECV_CALLS(COUNTER, null, "recv calls on streams' sockets (reads and one-byte peeks)"),
    RECV_EAGAIN(COUNTER, null, "recv calls that found nothing to read (EAGAIN)"),
    SEND_CALLS(COUNTER, null, "send calls on streams' sockets"),
    SEND_EAGAIN(COUNTER, null, "send calls that found no room (EAGAIN)"),
    SPLICE_CALLS(COUNTER, null, "splice calls (socket to pipe and pipe to socket)"),
    SPLICE_EAGAIN(COUNTER, null, "splice calls that moved nothing (EAGAIN)"),
    BUFFERS_ALLOCATED(GAUGE, null, "copy buffers the pool has made (held or free; never given back before the loop ends)"),
    BUFFERS_REFUSED(COUNTER, null, "copy buffer requests refused by tune.buffers.limit (the stream waited for one)"),
    PIPES_BYTES(GAUGE, null, "bytes the kernel gave the pipes that exist (held or free)"),
    PIPES_USED_BYTES(GAUGE, null, "bytes the kernel gave the pipes held by streams"),
    PIPES_EXHAUSTED(COUNTER, null, "times a stream wanted a pipe and got none (maxpipes reached or pipe2 failed): it copied instead"),
    LOG_DROPPED(COUNTER, "DroppedLogs", "log lines dropped: a loop's log ring was full, or a target refused the line (no room, no reader)");

    private final Kind kind;
    private final String haproxy;
    private final String help;

    ProcessCounter(Kind kind, String haproxy, String help) {
        this.kind = kind;
        this.haproxy = haproxy;
        this.help = help;
    }

    @Override public Kind kind() { return kind; }
    @Override public String haproxy() { return haproxy; }
    @Override public String help() { return help; }
}
