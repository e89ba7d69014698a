package org.forwarder.config;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Reads the keywords of {@code global} sections (there may be several; later values win) and
 * turns them into a GlobalConfig once the whole file is read, since defaults such as maxpipes
 * depend on other settings.
 */
final class GlobalSection {

    private final Diagnostics diag;

    private int maxconn;               // 0 = not set
    private int maxpipes = -1;         // -1 = not set: a quarter of maxconn
    private int bufsize = GlobalConfig.DEFAULT_BUFSIZE;
    private int buffersLimit;
    private int buffersLimitLine;
    private int buffersReserve = GlobalConfig.DEFAULT_BUFFERS_RESERVE;
    private int buffersReserveLine;
    private int pipesize;
    private int pipesizeLine;
    private int pipesMemory = GlobalConfig.PIPES_MEMORY_DEFAULT;
    private int pipesMemoryLine;
    private boolean noSplice;
    private int nbthread = GlobalConfig.AUTO_NBTHREAD;
    private int nbthreadLine;
    private int maxpipesLine;
    private final CpuMap.Builder cpuMap = new CpuMap.Builder();
    private final List<CpuMapUse> cpuMapLines = new ArrayList<>();
    private final StatsLines stats = new StatsLines();
    private final List<LogTarget> logs = new ArrayList<>();
    private String logTag = GlobalLogs.DEFAULT_TAG;
    private String serverStateFile;    // null = not set
    private int serverStateFileLine;
    private String serverStateBase;    // null = not set
    private int serverStateBaseLine;

    /** A valid cpu-map line, kept to check its thread numbers against nbthread once the file is read. */
    private record CpuMapUse(int line, BitSet threads, boolean explicitEnd) {}

    GlobalSection(Diagnostics diag) {
        this.diag = diag;
    }

    /** True if {@code keyword} is one this section handles. */
    static boolean handles(String keyword) {
        return switch (keyword) {
            case "cpu-map", "stats", "log", "log-tag", "server-state-file", "server-state-base", "maxconn", "maxpipes", "nbthread", "nosplice", "tune.bufsize", "tune.buffers.limit",
                 "tune.buffers.reserve", "tune.pipesize", "tune.pipes.memory" -> true;
            default -> false;
        };
    }

    /** Applies one line whose first word satisfies {@link #handles}. */
    void apply(Line line) {
        String kw = line.first();
        List<String> args = line.args(1);
        if (kw.equals("nosplice")) {
            if (noArgs(line, kw, args)) noSplice = true;
            return;
        }
        if (kw.equals("cpu-map")) {
            cpuMap(line, args);
            return;
        }
        if (kw.equals("log")) {
            if (args.size() == 1 && args.getFirst().equals("global")) {
                diag.error(line.number(), "log", "'global' is only meaningful in a proxy section: here, name an address and a facility");
                return;
            }
            try {
                logs.add(LogLines.parse(args, diag.where(line.number())));
            } catch (IllegalArgumentException e) {
                diag.error(line.number(), "log", e.getMessage());
            }
            return;
        }
        if (kw.equals("log-tag")) {
            if (args.size() != 1) {
                diag.error(line.number(), kw, args.isEmpty() ? "expects a tag (the program name in syslog headers)"
                        : "takes exactly one argument (the tag), got " + args.size());
            } else if (!args.getFirst().matches("[A-Za-z0-9_.\\-]{1,32}")) {
                diag.error(line.number(), kw, "'" + args.getFirst() + "' is not a plain tag: use up to 32 letters, digits, '-', '_' and '.'");
            } else {
                logTag = args.getFirst();
            }
            return;
        }
        if (kw.equals("server-state-file") || kw.equals("server-state-base")) {
            serverState(line, kw, args);
            return;
        }
        if (kw.equals("stats")) {
            try {
                stats.apply(args, diag.where(line.number()));
            } catch (IllegalArgumentException e) {
                diag.error(line.number(), "stats", e.getMessage());
            }
            return;
        }
        if (args.size() != 1) {
            diag.error(line.number(), kw, args.isEmpty() ? "expects " + expected(kw)
                    : "takes exactly one argument (" + expected(kw) + "), got " + args.size());
            return;
        }
        String value = args.getFirst();
        try {
            switch (kw) {
                case "maxconn" -> maxconn = Values.integer(value, 1, Integer.MAX_VALUE);
                case "maxpipes" -> {
                    maxpipes = Values.integer(value, 0, Integer.MAX_VALUE);
                    maxpipesLine = line.number();
                }
                case "nbthread" -> {
                    nbthread = Values.integer(value, 1, GlobalConfig.MAX_NBTHREAD);
                    nbthreadLine = line.number();
                }
                case "tune.bufsize" -> bufsize = Values.size(value, GlobalConfig.MIN_BUFSIZE, GlobalConfig.MAX_BUFSIZE);
                case "tune.buffers.limit" -> {
                    buffersLimit = Values.integer(value, 0, Integer.MAX_VALUE);
                    buffersLimitLine = line.number();
                }
                case "tune.buffers.reserve" -> {
                    buffersReserve = Values.integer(value, GlobalConfig.MIN_BUFFERS_RESERVE, Integer.MAX_VALUE);
                    buffersReserveLine = line.number();
                }
                case "tune.pipesize" -> {
                    int size = Values.size(value, 0, GlobalConfig.MAX_PIPESIZE);
                    if (size != 0 && size < GlobalConfig.MIN_PIPESIZE) {
                        throw new IllegalArgumentException("'" + value + "' is too small: use 0 (kernel default) or at least "
                                + GlobalConfig.MIN_PIPESIZE);
                    }
                    pipesize = size;
                    pipesizeLine = line.number();
                }
                case "tune.pipes.memory" -> {
                    pipesMemory = Values.size(value, 0, GlobalConfig.MAX_PIPES_MEMORY);
                    pipesMemoryLine = line.number();
                }
                default -> throw new IllegalStateException("not a global keyword: " + kw);
            }
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), kw, e.getMessage());
        }
    }

    /** The final settings, with defaults filled in; reports cross-setting problems. */
    /**
     * {@code server-state-file <path>} / {@code server-state-base <dir>}: one path each; HAProxy
     * refuses a second one ("already specified"), so does forwarder, naming the first.
     */
    private void serverState(Line line, String kw, List<String> args) {
        boolean file = kw.equals("server-state-file");
        if (args.size() != 1 || args.getFirst().isEmpty()) {
            diag.error(line.number(), kw, args.size() > 1 ? "takes exactly one argument (" + (file ? "a file path" : "a directory")
                    + "), got " + args.size() : "expects one argument: " + (file ? "a file path" : "a directory"));
            return;
        }
        int first = file ? serverStateFileLine : serverStateBaseLine;
        if (first != 0) {
            diag.error(line.number(), kw, "is already specified at " + diag.where(first));
            return;
        }
        if (file) {
            serverStateFile = args.getFirst();
            serverStateFileLine = line.number();
        } else {
            serverStateBase = args.getFirst();
            serverStateBaseLine = line.number();
        }
    }

    GlobalConfig resolve() {
        if (buffersLimit != 0 && buffersReserve >= buffersLimit) {
            // Report it on whichever of the two lines came last: that is the one that broke the rule.
            String why = ", or the reserve would take every buffer";
            if (buffersReserveLine > buffersLimitLine) {
                diag.error(buffersReserveLine, "tune.buffers.reserve", buffersReserve
                        + " must be lower than tune.buffers.limit (" + buffersLimit + ")" + why);
            } else {
                diag.error(buffersLimitLine, "tune.buffers.limit", buffersLimit
                        + " must be greater than tune.buffers.reserve (" + buffersReserve + ")" + why);
            }
        }
        if (pipesMemoryLine != 0 && pipesizeLine != 0 && pipesize > GlobalConfig.KERNEL_PIPESIZE && pipesMemory < pipesize) {
            // Both were written, and no pipe of tune.pipesize fits the budget: one of them is a mistake.
            String why = ", so no pipe could have that size";
            if (pipesMemoryLine > pipesizeLine) {
                diag.error(pipesMemoryLine, "tune.pipes.memory", pipesMemory + " is smaller than one pipe of tune.pipesize ("
                        + pipesize + ")" + why);
            } else {
                diag.error(pipesizeLine, "tune.pipesize", pipesize + " is larger than tune.pipes.memory (" + pipesMemory + ")" + why);
            }
        }
        int conns = maxconn == 0 ? GlobalConfig.DEFAULT_MAXCONN : maxconn;
        int pipes = maxpipes < 0 ? GlobalConfig.defaultMaxpipes(conns) : maxpipes;
        int loops = nbthread != GlobalConfig.AUTO_NBTHREAD ? nbthread : GlobalConfig.autoLoops();
        String loopsSaid = nbthread != GlobalConfig.AUTO_NBTHREAD ? "nbthread " + nbthread + " (line " + nbthreadLine + ")"
                : "nbthread not set: one per usable CPU here";
        if (loops > 1 && buffersLimit != 0 && buffersLimit / loops <= buffersReserve) {
            // each loop has its own share of the buffers; a share at or below the reserve could
            // never serve a request while responses wait (the deadlock the reserve prevents)
            diag.error(buffersLimitLine, "tune.buffers.limit", buffersLimit + " buffers split over " + loops
                    + " event loops (" + loopsSaid + ") leave each " + buffersLimit / loops
                    + ", not more than tune.buffers.reserve (" + buffersReserve + "): give at least "
                    + (long) loops * (buffersReserve + 1) + ", or fewer loops");
        }
        if (pipes > 0 && !noSplice && pipes < loops) {
            diag.warn(maxpipesLine, "maxpipes " + pipes + " split over " + loops + " event loops (" + loopsSaid
                    + ") leaves " + (loops - pipes) + " of them without pipes: their streams copy instead of splicing");
        }
        GlobalConfig g = new GlobalConfig(conns, pipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice,
                pipesMemory, cpuMap.build(), stats.build(), new GlobalLogs(logs, logTag),
                new ServerStateFile(serverStateBase, serverStateFile));
        warnThreadsBeyondLoops(g.loops());
        return g;
    }

    /**
     * cpu-map: each thread of the line gets the whole CPU set, or with {@code auto:} the next CPU in
     * increasing order; a later line replaces what an earlier one gave the same thread (HAProxy).
     */
    private void cpuMap(Line line, List<String> args) {
        CpuMapLine m;
        try {
            m = CpuMapLine.parse(args);
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), "cpu-map", e.getMessage());
            return;
        }
        String origin = diag.where(line.number());
        int cpu = m.cpus.nextSetBit(0);
        for (int t = m.threads.nextSetBit(1); t > 0; t = m.threads.nextSetBit(t + 1)) {
            BitSet cpus = m.cpus;
            if (m.paired) {
                cpus = new BitSet();
                cpus.set(cpu);
                cpu = m.cpus.nextSetBit(cpu + 1);
            }
            cpuMap.pin(t - 1, cpus, origin);
        }
        cpuMapLines.add(new CpuMapUse(line.number(), m.threads, m.explicitEnd));
    }

    /**
     * HAProxy ignores the threads of a cpu-map line above nbthread without a word; a line that
     * pins nothing, or names a thread number beyond the loops, is most likely a mistake: say so.
     */
    private void warnThreadsBeyondLoops(int loops) {
        String count = nbthreadLine != 0 ? "nbthread is " + loops
                : "nbthread is not set, so there is one event loop per usable CPU: " + loops;
        for (CpuMapUse u : cpuMapLines) {
            BitSet beyond = (BitSet) u.threads().clone();
            beyond.clear(0, loops + 1);
            if (beyond.isEmpty()) continue;
            if (u.threads().nextSetBit(1) > loops) {
                diag.warn(u.line(), "'cpu-map' pins no event loop: it names only threads beyond the last one ("
                        + count + "), and those are ignored");
            } else if (u.explicitEnd()) {
                diag.warn(u.line(), "'cpu-map' names threads " + CpuMapLine.list(beyond) + " but " + count
                        + ": those threads are ignored");
            }
        }
    }

    private boolean noArgs(Line line, String kw, List<String> args) {
        if (args.isEmpty()) return true;
        diag.error(line.number(), kw, "takes no argument, got '" + args.getFirst() + "'");
        return false;
    }

    private static String expected(String kw) {
        return switch (kw) {
            case "tune.bufsize" -> "a size in bytes from " + GlobalConfig.MIN_BUFSIZE + " to " + GlobalConfig.MAX_BUFSIZE
                    + " (16m)";
            case "tune.pipesize" -> "a size in bytes (0 = kernel default)";
            case "tune.pipes.memory" -> "a size in bytes that pipes larger than the kernel's 64 KiB may take together"
                    + " (0 = none larger)";
            case "tune.buffers.limit" -> "a number of buffers (0 = unlimited)";
            case "nbthread" -> "a number of event loops from 1 to " + GlobalConfig.MAX_NBTHREAD;
            default -> "a number";
        };
    }
}
