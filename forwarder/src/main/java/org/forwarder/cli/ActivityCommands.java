package org.forwarder.cli;

import org.forwarder.config.GlobalConfig;
import org.forwarder.config.StatsConfig.Level;
import org.forwarder.io.PipePool;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.StatsRegistry;

/**
 * Commands about the loops themselves and about clearing figures: {@code show activity} (a line
 * per figure with the value of each loop), {@code show pools} (the copy buffers and the pipes),
 * {@code clear counters [all]}. Laid out as HAProxy 2.6 lays them out, with its levels (both
 * {@code show} commands for any level, {@code clear counters} operator, {@code all} admin).
 *
 * <p>Everything is read from the counter registry ({@link StatsRegistry#perLoop}), which each loop
 * fills for itself; a clear takes a baseline there ({@link StatsRegistry#clearMaxima()},
 * {@link StatsRegistry#clearAll()}) and never writes into a loop's figures.
 */
final class ActivityCommands {
    /**
     * {@code show activity}'s lines after {@code thread_id} and {@code date_now}: first the
     * figures HAProxy names alike ({@code loops}: passes of the loop; {@code accepted}:
     * connections it accepted; {@code buf_wait}: times a stream had to wait for a buffer), then
     * ours. Each is the loop's own figure; counters since the last clear.
     */
    private static final Object[][] ACTIVITY = {
            {"loops", ProcessCounter.POLL_PASSES},
            {"accepted", ProcessCounter.CUM_CONNS},
            {"buf_wait", ProcessCounter.BUFFERS_REFUSED},
            {"conns", ProcessCounter.CURR_CONNS},
            {"epoll_wait_calls", ProcessCounter.EPOLL_WAIT_CALLS},
            {"epoll_ctl_calls", ProcessCounter.EPOLL_CTL_CALLS},
            {"recv_calls", ProcessCounter.RECV_CALLS},
            {"recv_eagain", ProcessCounter.RECV_EAGAIN},
            {"send_calls", ProcessCounter.SEND_CALLS},
            {"send_eagain", ProcessCounter.SEND_EAGAIN},
            {"splice_calls", ProcessCounter.SPLICE_CALLS},
            {"splice_eagain", ProcessCounter.SPLICE_EAGAIN},
            {"accept_pauses", ProcessCounter.ACCEPT_PAUSES},
            {"buffers_used", ProcessCounter.BUFFERS_USED},
            {"buffers_allocated", ProcessCounter.BUFFERS_ALLOCATED},
            {"pipes_used", ProcessCounter.PIPES_USED},
            {"pipes_free", ProcessCounter.PIPES_FREE},
            {"pipes_exhausted", ProcessCounter.PIPES_EXHAUSTED},
    };

    private final CliContext ctx;
    private final StatsRegistry registry;

    ActivityCommands(CliContext ctx) {
        this.ctx = ctx;
        this.registry = ctx.registry();
    }

    void addTo(CliCommands t) {
        t.add(new String[] {"show", "activity"}, Level.USER, "show activity",
                "show per-thread activity stats (for support/developers)", (a, s) -> s.answer(activity()));
        t.add(new String[] {"show", "pools"}, Level.USER, "show pools",
                "report information about the memory pools usage", (a, s) -> s.answer(pools()));
        t.add(new String[] {"clear", "counters"}, Level.OPERATOR, "clear counters [all]",
                "clear max statistics counters (or all counters)", (a, s) -> {
                    if (a.length > 2 && !a[2].equals("all")) {
                        throw new CliError("'clear counters' takes 'all' or nothing, got '" + a[2] + "'.");
                    }
                    if (a.length > 2) {
                        if (s.level.compareTo(Level.ADMIN) < 0) throw new CliError(CliCommands.PERMISSION_DENIED);
                        registry.clearAll();
                    } else {
                        registry.clearMaxima();
                    }
                    s.answer("");
                });
    }

    /** HAProxy's layout: {@code name: total [ loop1 loop2 ... ]}, the brackets only with several loops. */
    String activity() {
        int n = registry.loopCount();
        java.time.Instant now = java.time.Instant.now();
        StringBuilder sb = new StringBuilder();
        // HAProxy gives the thread serving the CLI; ours is the control loop, which is none of the loops: 0
        sb.append("thread_id: 0 (1..").append(n).append(")\n");
        sb.append("date_now: ").append(now.getEpochSecond()).append('.').append(String.format("%06d", now.getNano() / 1000)).append('\n');
        for (Object[] line : ACTIVITY) {
            long[] v = registry.perLoop((ProcessCounter) line[1]);
            long tot = 0;
            for (long x : v) tot += x;
            sb.append(line[0]).append(": ").append(tot);
            if (v.length > 1) {
                sb.append(" [");
                for (long x : v) sb.append(' ').append(x);
                sb.append(" ]");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /**
     * HAProxy's layout: a heading, a line per pool ({@code N allocated (B bytes), U used, F
     * failures, L users}, {@code users} being the loops, each with a pool of its own) followed by
     * our limit, and a total. Buffers are made by slabs and kept; pipes vary in size (the kernel
     * decides), so their size is what a pipe is made with and their bytes what the kernel gave.
     */
    String pools() {
        GlobalConfig g = ctx.config().global();
        int loops = registry.loopCount();
        long bufAllocated = sum(ProcessCounter.BUFFERS_ALLOCATED);
        long bufBytes = bufAllocated * g.bufsize();
        long bufUsed = sum(ProcessCounter.BUFFERS_USED);
        long pipesUsed = sum(ProcessCounter.PIPES_USED);
        long pipesAllocated = pipesUsed + sum(ProcessCounter.PIPES_FREE);
        long pipeBytes = sum(ProcessCounter.PIPES_BYTES);
        int maxpipes = g.noSplice() ? 0 : g.maxpipes();
        StringBuilder sb = new StringBuilder("Dumping pools usage. Use SIGQUIT to flush them.\n");
        sb.append("  - Pool buffer (").append(g.bufsize()).append(" bytes) : ").append(bufAllocated).append(" allocated (")
                .append(bufBytes).append(" bytes), ").append(bufUsed).append(" used (~0 by thread caches), needed_avg 0, ")
                .append(sum(ProcessCounter.BUFFERS_REFUSED)).append(" failures, ").append(loops).append(" users, limit ")
                .append(g.buffersLimit() == 0 ? "none" : String.valueOf(g.buffersLimit())).append('\n');
        sb.append("  - Pool pipe (").append(PipePool.configuredSize(g.pipesize())).append(" bytes) : ").append(pipesAllocated)
                .append(" allocated (").append(pipeBytes).append(" bytes), ").append(pipesUsed).append(" used (~0 by thread caches), needed_avg 0, ")
                .append(sum(ProcessCounter.PIPES_EXHAUSTED)).append(" failures, ").append(loops).append(" users, limit ")
                .append(maxpipes).append(" (maxpipes)\n");
        long usedBytes = bufUsed * g.bufsize() + sum(ProcessCounter.PIPES_USED_BYTES);
        sb.append("Total: 2 pools, ").append(bufBytes + pipeBytes).append(" bytes allocated, ").append(usedBytes).append(" used (~0 by thread caches).\n");
        return sb.toString();
    }

    /** Summed over the loops; a counter (failures) since the start, as HAProxy's pool figures. */
    private long sum(ProcessCounter c) {
        return registry.get(c);
    }
}
