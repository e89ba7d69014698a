package org.forwarder.stats;

import org.forwarder.config.BackendConfig;
import org.forwarder.config.Config;
import org.forwarder.config.FrontendConfig;
import org.forwarder.config.ServerConfig;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The process's counters: which objects have figures (the rows: every frontend, backend and
 * server, in configuration order, plus the process itself) and, per event loop, one
 * {@link LoopCounters} array the loop alone writes. A reader sums a figure over the loops, from
 * any thread, while they run: no loop is stopped, called or locked, and the loops share no cache
 * line on their per-event path. This replaces a copy made on the loop's thread; a stats socket,
 * a metrics page and the shutdown summary all read here.
 *
 * <p>Layout of a loop's array: [{@code PAD}][process: one slot per {@link ProcessCounter}]
 * [row 0: one slot per {@link ProxyCounter}][row 1]...[{@code PAD}]. The index of a figure is
 * fixed for the life of the process, so a writer's update is one load and one store at a
 * constant offset from its block (see {@link CounterBlock} for why those are opaque stores).
 *
 * <p>What a reader can rely on: each figure is read whole (never torn) and a counter never goes
 * backwards between two reads. Figures are not one atomic cut, with one guarantee: a loop lowers
 * its open-connection gauge ({@link ProcessCounter#CURR_CONNS}) with a release store after every
 * other process figure of the closing stream is written (resources given back, pool gauges
 * updated, closing counted), and {@link #snapshot()} reads that gauge first, so a snapshot that
 * shows no open connection shows every process figure of the streams that closed.
 *
 * <p>Loops are added with {@link #newLoop()} (at start, before they run); a loop's figures stay
 * in the sums after it stops, so counters never drop.
 *
 * <p>Clearing ({@code clear counters}, {@code clear counters all}). The loops' arrays are written
 * by their loops alone, so a clear never writes into one: it takes a {@link Baseline}, the raw
 * value of each cleared counter slot of each loop read at the moment of the clear, and every
 * reader ({@link #get}, {@link #perLoop}, {@link #snapshot()}) subtracts it. The baseline is
 * replaced whole (one volatile reference) and only between clears, so a counter read twice
 * still never goes backwards, except across a clear (where it drops to what came since).
 * Gauges (levels now) are never cleared. What each clear resets is HAProxy 2.6's choice:
 * <ul>
 * <li>both: the maxima ({@link SharedMax}, stored as 0 as HAProxy does even while a level is
 *     above it: they are atomics) and the per-loop activity figures ({@link #perLoop}, HAProxy's
 *     {@code show activity}, which its {@code clear counters} wipes too);</li>
 * <li>{@link #clearAll()} also: every row counter ({@code show stat}'s totals, bytes, errors)
 *     and the time averages ({@link SwRate}: the samples since the clear, see {@link #average}).</li>
 * </ul>
 * Never cleared, as in HAProxy: the process totals of {@link #get(ProcessCounter)} and
 * {@code show info} ({@code CumConns}, {@code TotalBytesOut}...), so after a clear the sum of
 * {@link #perLoop} is below {@link #get(ProcessCounter)}; and the rates ({@link FreqCtr}), which
 * are the last second's events, not a history (HAProxy's rates too carry on over a clear).
 */
public final class StatsRegistry {
    /** What a row counts. */
    public enum Type { FRONTEND, BACKEND, SERVER }

    /** One object with {@link ProxyCounter} figures; {@code server} is null unless {@code type} is SERVER. */
    public record Row(Type type, String proxy, String server, int index) {
        /** "proxy" for a frontend or backend, "backend/server" for a server (HAProxy's notation). */
        public String name() {
            return server == null ? proxy : proxy + "/" + server;
        }
    }

    private static final int PROCESS = ProcessCounter.values().length;
    private static final int PROXY = ProxyCounter.values().length;
    private static final int MAXES = ProxyMax.values().length;

    static {
        if (ProcessCounter.CURR_CONNS.ordinal() != 0) throw new AssertionError("snapshot() reads CURR_CONNS first");
    }

    private final List<Row> rows;
    private final Map<String, Row> frontends = new HashMap<>();
    private final Map<String, Row> backends = new HashMap<>();
    private final Map<String, Row> servers = new HashMap<>();
    /**
     * Maxima of shared levels ({@link SharedMax}): per row one per {@link ProxyMax}, then one per
     * {@link ProcessRate}. Shared by the loops, written only when a level passes its maximum.
     */
    private final java.util.concurrent.atomic.AtomicLongArray maxima;
    /** Process counters written by threads that are no event loop ({@link #addShared}). */
    private final java.util.concurrent.atomic.AtomicLongArray shared = new java.util.concurrent.atomic.AtomicLongArray(PROCESS);
    /** Replaced whole when a loop is added: readers see a complete list without a lock. */
    private volatile LoopCounters[] loops = new LoopCounters[0];
    /** What readers subtract since the last clear; replaced whole by a clear (see the class comment). */
    private volatile Baseline baseline = Baseline.NONE;

    /**
     * Per loop (in loop order; a loop added later has none): the raw value of each slot of its
     * counter array to subtract (0 where nothing was cleared), and per row and {@link ProxyAverage}
     * the [sum, samples] its {@link SwRate} had at the last {@code clear counters all}.
     */
    private record Baseline(long[][] slots, long[][] averages) {
        static final Baseline NONE = new Baseline(new long[0][], new long[0][]);

        long slot(int loop, int slot) {
            return loop < slots.length ? slots[loop][slot] : 0;
        }
    }

    /**
     * Rows for {@code frontendNames} and {@code backendServers} (backend name to its server
     * names), in the iteration order given.
     */
    public StatsRegistry(List<String> frontendNames, Map<String, List<String>> backendServers) {
        List<Row> list = new ArrayList<>();
        for (String fe : frontendNames) {
            Row r = new Row(Type.FRONTEND, fe, null, list.size());
            if (frontends.putIfAbsent(fe, r) != null) throw new IllegalArgumentException("frontend '" + fe + "' twice");
            list.add(r);
        }
        for (Map.Entry<String, List<String>> be : backendServers.entrySet()) {
            Row r = new Row(Type.BACKEND, be.getKey(), null, list.size());
            if (backends.putIfAbsent(be.getKey(), r) != null) throw new IllegalArgumentException("backend '" + be.getKey() + "' twice");
            list.add(r);
            for (String srv : be.getValue()) {
                Row s = new Row(Type.SERVER, be.getKey(), srv, list.size());
                if (servers.putIfAbsent(s.name(), s) != null) throw new IllegalArgumentException("server '" + s.name() + "' twice");
                list.add(s);
            }
        }
        this.rows = Collections.unmodifiableList(list);
        this.maxima = new java.util.concurrent.atomic.AtomicLongArray(list.size() * MAXES + ProcessRate.values().length);
    }

    /** Rows for every frontend, backend and server of {@code config}. */
    public static StatsRegistry of(Config config) {
        List<String> fes = config.frontends().stream().map(FrontendConfig::name).toList();
        Map<String, List<String>> bes = new LinkedHashMap<>();
        for (BackendConfig bc : config.backends().values()) {
            bes.put(bc.name(), bc.servers().stream().map(ServerConfig::name).toList());
        }
        return new StatsRegistry(fes, bes);
    }

    /** A new loop's counters, included in every sum from now on. */
    public synchronized LoopCounters newLoop() {
        LoopCounters l = new LoopCounters(this);
        LoopCounters[] now = loops;
        LoopCounters[] more = java.util.Arrays.copyOf(now, now.length + 1);
        more[now.length] = l;
        loops = more;
        return l;
    }

    public int loopCount() { return loops.length; }

    /** Every row: frontends, then each backend followed by its servers. */
    public List<Row> rows() { return rows; }

    /** The row of frontend {@code name}; throws if there is none. */
    public Row frontend(String name) { return find(frontends, name, "frontend"); }

    /** The row of backend {@code name}; throws if there is none. */
    public Row backend(String name) { return find(backends, name, "backend"); }

    /** The row of server {@code server} in backend {@code backend}; throws if there is none. */
    public Row server(String backend, String server) { return find(servers, backend + "/" + server, "server"); }

    private static Row find(Map<String, Row> map, String name, String what) {
        Row r = map.get(name);
        if (r == null) throw new IllegalArgumentException("no " + what + " '" + name + "' in the stats registry");
        return r;
    }

    /** {@code c} summed over the loops, now (process totals are never cleared, as in HAProxy). */
    public long get(ProcessCounter c) {
        return sum(processBase() + c.ordinal(), Baseline.NONE) + shared.get(c.ordinal());
    }

    /**
     * Adds to process counter {@code c} from a thread that is no event loop (the log writer
     * counting lines a target refused): rare events, so one shared atomic rather than a block.
     * Included in {@link #get(ProcessCounter)} and {@link #snapshot()}, not in {@link #perLoop}.
     */
    public void addShared(ProcessCounter c, long n) {
        shared.addAndGet(c.ordinal(), n);
    }

    /** {@code c} of {@code row} summed over the loops, now; a counter since the last {@link #clearAll()}. */
    public long get(Row row, ProxyCounter c) {
        return sum(rowBase(row.index()) + c.ordinal(), baseline);
    }

    /**
     * {@code c} of each loop, in loop order, now (how evenly the loops share the work); a counter
     * since the last clear of either kind (HAProxy's {@code show activity}).
     */
    public long[] perLoop(ProcessCounter c) {
        LoopCounters[] ls = loops;
        Baseline b = baseline;
        int slot = processBase() + c.ordinal();
        long[] out = new long[ls.length];
        for (int i = 0; i < ls.length; i++) out[i] = ls[i].read(slot) - b.slot(i, slot);
        return out;
    }

    /**
     * {@code clear counters}: the maxima back to 0 and the per-loop activity figures
     * ({@link #perLoop}) cleared. Any thread; clears are serialized.
     */
    public synchronized void clearMaxima() {
        clear(false);
    }

    /**
     * {@code clear counters all}: as {@link #clearMaxima()}, and every row counter and time
     * average starts again from nothing. Gauges and rates stay. Any thread; clears are serialized.
     */
    public synchronized void clearAll() {
        clear(true);
    }

    private void clear(boolean all) {
        LoopCounters[] ls = loops;
        Baseline old = baseline;
        long[][] slots = new long[ls.length][];
        long[][] averages = new long[ls.length][];
        ProcessCounter[] pcs = ProcessCounter.values();
        ProxyCounter[] xcs = ProxyCounter.values();
        ProxyAverage[] avs = ProxyAverage.values();
        for (int i = 0; i < ls.length; i++) {
            long[] s = new long[slots()];
            for (ProcessCounter c : pcs) {
                int slot = processBase() + c.ordinal();
                if (c.kind() == Counter.Kind.COUNTER) s[slot] = ls[i].read(slot);
            }
            for (int r = 0; r < rows.size(); r++) {
                for (ProxyCounter c : xcs) {
                    int slot = rowBase(r) + c.ordinal();
                    if (c.kind() == Counter.Kind.COUNTER) s[slot] = all ? ls[i].read(slot) : old.slot(i, slot);
                }
            }
            slots[i] = s;
            long[] a = new long[rows.size() * avs.length * 2];
            for (int r = 0; r < rows.size(); r++) {
                for (ProxyAverage av : avs) {
                    int k = (r * avs.length + av.ordinal()) * 2;
                    if (all) {
                        SwRate w = ls[i].average(r, av);
                        a[k + 1] = w.samples(); // the count first: the sum read after may hold one more sample, never one fewer
                        a[k] = w.sum();
                    } else if (i < old.averages.length) {
                        a[k] = old.averages[i][k];
                        a[k + 1] = old.averages[i][k + 1];
                    }
                }
            }
            averages[i] = a;
        }
        for (int i = 0; i < maxima.length(); i++) maxima.set(i, 0);
        baseline = new Baseline(slots, averages);
    }

    /** The maximum {@code m} of row {@code row} ({@link Row#index()}), for the shared object that keeps it. */
    public SharedMax max(int row, ProxyMax m) {
        return new SharedMax(maxima, row * MAXES + m.ordinal());
    }

    /** The highest process rate {@code r} seen (kept for {@link ProcessRate#CONN_RATE}). */
    public SharedMax max(ProcessRate r) {
        return new SharedMax(maxima, rows.size() * MAXES + r.ordinal());
    }

    /** The process's rate {@code r} at {@code nowMs} ({@link #clockMs()}): the loops' rates summed. */
    public long rate(ProcessRate r, long nowMs) {
        long s = 0;
        for (LoopCounters l : loops) s += l.rate(r).rate(nowMs);
        return s;
    }

    /** Rate {@code r} of row {@code row} at {@code nowMs}: the loops' rates summed. */
    public long rate(int row, ProxyRate r, long nowMs) {
        long s = 0;
        for (LoopCounters l : loops) s += l.rate(row, r).rate(nowMs);
        return s;
    }

    /**
     * Average {@code a} of {@code row} over the loops: their sums over their windows (see
     * {@link SwRate}), counting only the samples since the last {@link #clearAll()}
     * ({@link SwRate#sumSince}).
     */
    public long average(Row row, ProxyAverage a) {
        return average(row, a, loops, baseline);
    }

    private static long average(Row row, ProxyAverage a, LoopCounters[] ls, Baseline b) {
        long sums = 0, windows = 0;
        int k = (row.index() * ProxyAverage.values().length + a.ordinal()) * 2;
        for (int i = 0; i < ls.length; i++) {
            SwRate w = ls[i].average(row.index(), a);
            long n = w.samples();
            long sum = w.sum();
            long sum0 = 0, n0 = 0;
            if (i < b.averages.length) {
                sum0 = b.averages[i][k];
                n0 = b.averages[i][k + 1];
            }
            if (n <= n0) continue; // nothing since the clear
            sums += SwRate.sumSince(sum, n, sum0, n0);
            windows += SwRate.windowSince(n, n0);
        }
        return SwRate.average(sums, windows);
    }

    /**
     * The clock of rates, in milliseconds, one origin for every thread: what writers pass to
     * {@link FreqCtr#add} and readers to {@link #rate}.
     */
    public static long clockMs() {
        return Math.floorDiv(System.nanoTime(), 1_000_000L);
    }

    private long sum(int slot, Baseline b) {
        LoopCounters[] ls = loops;
        long s = 0;
        for (int i = 0; i < ls.length; i++) s += ls[i].read(slot) - b.slot(i, slot);
        return s;
    }

    /**
     * Every figure, summed over the loops, read now: the open-connection gauge of every loop
     * first (see the class comment), then the rest in order.
     */
    public StatsSnapshot snapshot() {
        LoopCounters[] ls = loops;
        Baseline b = baseline;
        long[] process = new long[PROCESS];
        for (int i = 0; i < PROCESS; i++) { // CURR_CONNS is ordinal 0: read in every loop before the rest
            long s = 0;
            for (LoopCounters l : ls) s += l.read(processBase() + i);
            process[i] = s + shared.get(i);
        }
        long[] proxies = new long[rows.size() * PROXY];
        for (int r = 0; r < rows.size(); r++) {
            for (int i = 0; i < PROXY; i++) {
                long s = 0;
                int slot = rowBase(r) + i;
                for (int l = 0; l < ls.length; l++) s += ls[l].read(slot) - b.slot(l, slot);
                proxies[r * PROXY + i] = s;
            }
        }
        long now = clockMs();
        ProcessRate[] prs = ProcessRate.values();
        long[] processRates = new long[prs.length * 2];
        for (ProcessRate r : prs) {
            processRates[r.ordinal() * 2] = rate(r, now);
            processRates[r.ordinal() * 2 + 1] = max(r).get();
        }
        ProxyRate[] rrs = ProxyRate.values();
        ProxyAverage[] avs = ProxyAverage.values();
        ProxyMax[] mxs = ProxyMax.values();
        long[] live = new long[rows.size() * (rrs.length + avs.length + mxs.length)];
        int k = 0;
        for (Row row : rows) {
            for (ProxyRate r : rrs) live[k++] = rate(row.index(), r, now);
            for (ProxyAverage a : avs) live[k++] = average(row, a, ls, b);
            for (ProxyMax m : mxs) live[k++] = maxima.get(row.index() * MAXES + m.ordinal());
        }
        return new StatsSnapshot(this, process, proxies, processRates, live);
    }

    // ---- layout ------------------------------------------------------------------------------

    static int processBase() {
        return LoopCounters.PAD;
    }

    static int rowBase(int row) {
        return LoopCounters.PAD + PROCESS + row * PROXY;
    }

    /** Length of a loop's array. */
    int slots() {
        return rowBase(rows.size()) + LoopCounters.PAD;
    }
}
