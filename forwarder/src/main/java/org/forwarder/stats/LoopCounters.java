package org.forwarder.stats;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Every figure one event loop counts, in one {@code long[]}: the process block, then one block per
 * frontend, backend and server in the registry's row order, with {@value #PAD} unused slots at
 * both ends. Made by {@link StatsRegistry#newLoop()}; the loop hands the blocks to the objects
 * that count (its pools, frontends, backends, servers) once, so no update looks anything up.
 *
 * <p>The padding (128 bytes a side: a cache line and the neighbour the hardware prefetches with
 * it) keeps another loop's array, or any other object the allocator put next to this one, off
 * the lines this loop writes on every event.
 *
 * <p>Rates ({@link FreqCtr}) and time averages ({@link SwRate}) are state, not figures to sum
 * slot by slot, so they live in a second padded array: [{@code PAD}][one {@link FreqCtr} per
 * {@link ProcessRate}][per row: one {@link FreqCtr} per {@link ProxyRate}, one {@link SwRate} per
 * {@link ProxyAverage}][{@code PAD}], each reached through a view made here once.
 */
public final class LoopCounters {
    static final int PAD = 16;
    private static final int PROXY_RATES = ProxyRate.values().length;
    private static final int PROXY_AVERAGES = ProxyAverage.values().length;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final StatsRegistry registry;
    private final long[] values;
    private final CounterBlock<ProcessCounter> process;
    private final Object[] rows; // CounterBlock<ProxyCounter> per registry row
    private final FreqCtr[] processRates;
    private final FreqCtr[] rowRates; // row * ProxyRate count + rate
    private final SwRate[] rowAverages; // row * ProxyAverage count + average

    LoopCounters(StatsRegistry registry) {
        this.registry = registry;
        this.values = new long[registry.slots()];
        this.process = new CounterBlock<>(values, StatsRegistry.processBase());
        this.rows = new Object[registry.rows().size()];
        for (int r = 0; r < rows.length; r++) rows[r] = new CounterBlock<ProxyCounter>(values, StatsRegistry.rowBase(r));
        int nr = ProcessRate.values().length, pr = ProxyRate.values().length, pa = ProxyAverage.values().length;
        int perRow = pr * FreqCtr.SLOTS + pa * SwRate.SLOTS;
        long[] live = new long[PAD + nr * FreqCtr.SLOTS + rows.length * perRow + PAD];
        this.processRates = new FreqCtr[nr];
        int at = PAD;
        for (int i = 0; i < nr; i++, at += FreqCtr.SLOTS) processRates[i] = new FreqCtr(live, at);
        this.rowRates = new FreqCtr[rows.length * pr];
        this.rowAverages = new SwRate[rows.length * pa];
        for (int r = 0; r < rows.length; r++) {
            for (int i = 0; i < pr; i++, at += FreqCtr.SLOTS) rowRates[r * pr + i] = new FreqCtr(live, at);
            for (int i = 0; i < pa; i++, at += SwRate.SLOTS) rowAverages[r * pa + i] = new SwRate(live, at);
        }
    }

    /** This loop's counter of process rate {@code r}. */
    public FreqCtr rate(ProcessRate r) {
        return processRates[r.ordinal()];
    }

    /** This loop's counter of rate {@code r} of row {@code row} ({@link StatsRegistry.Row#index()}). */
    public FreqCtr rate(int row, ProxyRate r) {
        return rowRates[row * PROXY_RATES + r.ordinal()];
    }

    /** This loop's average {@code a} of row {@code row}. */
    public SwRate average(int row, ProxyAverage a) {
        return rowAverages[row * PROXY_AVERAGES + a.ordinal()];
    }

    /** The registry this loop counts into. */
    public StatsRegistry registry() {
        return registry;
    }

    /** The process figures as this loop counts them. */
    public CounterBlock<ProcessCounter> process() {
        return process;
    }

    /** The block of the frontend called {@code name}; throws if the registry has none. */
    public CounterBlock<ProxyCounter> frontend(String name) {
        return row(registry.frontend(name));
    }

    /** The block of the backend called {@code name}; throws if the registry has none. */
    public CounterBlock<ProxyCounter> backend(String name) {
        return row(registry.backend(name));
    }

    /** The block of server {@code server} of backend {@code backend}; throws if the registry has none. */
    public CounterBlock<ProxyCounter> server(String backend, String server) {
        return row(registry.server(backend, server));
    }

    private CounterBlock<ProxyCounter> row(StatsRegistry.Row row) {
        return row(row.index());
    }

    /** The block of row {@code index} ({@link StatsRegistry.Row#index()}): a shared object counts into the block of the loop it runs on. */
    @SuppressWarnings("unchecked")
    public CounterBlock<ProxyCounter> row(int index) {
        return (CounterBlock<ProxyCounter>) rows[index];
    }

    /** Slot {@code i} of the array, from any thread. */
    long read(int i) {
        return (long) SLOT.getAcquire(values, i);
    }
}
