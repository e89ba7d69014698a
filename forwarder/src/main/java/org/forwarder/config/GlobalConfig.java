package org.forwarder.config;

import java.util.Objects;

/**
 * Process-wide settings. {@code maxpipes} counts pipes (two fds each) available for splicing;
 * {@code buffersLimit} 0 means unlimited; {@code pipesize} 0 means the kernel's default;
 * {@code pipesMemory} bounds the bytes of pipes larger than the kernel's default
 * ({@link #PIPES_MEMORY_DEFAULT}: decided at start from the kernel's per-user pipe limit);
 * {@code nbthread} {@link #AUTO_NBTHREAD} means one event loop per usable CPU ({@link #loops()});
 * {@code cpuMap} pins loops to CPUs ({@code cpu-map}, {@link CpuMap#NONE} when not set);
 * {@code stats} holds the stats sockets and their timeout and client limit ({@link StatsConfig#NONE}: none);
 * {@code logs} the global {@code log} lines and {@code log-tag} ({@link GlobalLogs#NONE}: none);
 * {@code serverState} the {@code server-state-file} and {@code server-state-base} ({@link ServerStateFile#NONE}: none).
 */
public record GlobalConfig(int maxconn, int maxpipes, int nbthread, int bufsize, int buffersLimit,
                           int buffersReserve, int pipesize, boolean noSplice, int pipesMemory, CpuMap cpuMap,
                           StatsConfig stats, GlobalLogs logs, ServerStateFile serverState) {

    public static final int DEFAULT_MAXCONN = 4096;
    public static final int DEFAULT_BUFSIZE = 16384;
    public static final int MIN_BUFSIZE = 1024;
    public static final int MAX_BUFSIZE = 16 * 1024 * 1024;
    public static final int DEFAULT_BUFFERS_RESERVE = 2;
    public static final int MIN_BUFFERS_RESERVE = 2;
    public static final int MIN_PIPESIZE = 4096;
    public static final int MAX_PIPESIZE = 1 << 30;
    /** A new pipe's size on Linux; tune.pipes.memory bounds only the pipes above it. */
    public static final int KERNEL_PIPESIZE = 65536;
    /** tune.pipes.memory not set: 32 MiB, or half of fs.pipe-user-pages-soft if that is less. */
    public static final int PIPES_MEMORY_DEFAULT = -1;
    public static final int MAX_PIPES_MEMORY = 1 << 30;
    /** nbthread not set: one event loop per CPU the process may run on, as HAProxy does. */
    public static final int AUTO_NBTHREAD = 0;
    /** HAProxy's MAX_THREADS on 64-bit builds. */
    public static final int MAX_NBTHREAD = 64;

    public GlobalConfig {
        if (maxconn < 1) throw new IllegalArgumentException("maxconn must be at least 1");
        if (maxpipes < 0) throw new IllegalArgumentException("maxpipes cannot be negative");
        if (nbthread < AUTO_NBTHREAD || nbthread > MAX_NBTHREAD) {
            throw new IllegalArgumentException("nbthread must be from 1 to " + MAX_NBTHREAD);
        }
        if (bufsize < MIN_BUFSIZE || bufsize > MAX_BUFSIZE) throw new IllegalArgumentException("bufsize out of range");
        if (buffersLimit < 0 || buffersReserve < 0 || pipesize < 0 || pipesMemory < PIPES_MEMORY_DEFAULT) {
            throw new IllegalArgumentException("buffer and pipe figures cannot be negative");
        }
        Objects.requireNonNull(cpuMap, "cpuMap");
        Objects.requireNonNull(stats, "stats");
        Objects.requireNonNull(logs, "logs");
        Objects.requireNonNull(serverState, "serverState");
    }

    /** The settings without a server state file. */
    public GlobalConfig(int maxconn, int maxpipes, int nbthread, int bufsize, int buffersLimit, int buffersReserve,
                        int pipesize, boolean noSplice, int pipesMemory, CpuMap cpuMap, StatsConfig stats, GlobalLogs logs) {
        this(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory, cpuMap,
                stats, logs, ServerStateFile.NONE);
    }

    /** The settings without log lines. */
    public GlobalConfig(int maxconn, int maxpipes, int nbthread, int bufsize, int buffersLimit, int buffersReserve,
                        int pipesize, boolean noSplice, int pipesMemory, CpuMap cpuMap, StatsConfig stats) {
        this(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory, cpuMap,
                stats, GlobalLogs.NONE);
    }

    /** The settings without stats sockets. */
    public GlobalConfig(int maxconn, int maxpipes, int nbthread, int bufsize, int buffersLimit, int buffersReserve,
                        int pipesize, boolean noSplice, int pipesMemory, CpuMap cpuMap) {
        this(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory, cpuMap,
                StatsConfig.NONE);
    }

    /** The settings without cpu-map (no loop pinned). */
    public GlobalConfig(int maxconn, int maxpipes, int nbthread, int bufsize, int buffersLimit, int buffersReserve,
                        int pipesize, boolean noSplice, int pipesMemory) {
        this(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory, CpuMap.NONE);
    }

    /** The settings without tune.pipes.memory (its default). */
    public GlobalConfig(int maxconn, int maxpipes, int nbthread, int bufsize, int buffersLimit, int buffersReserve,
                        int pipesize, boolean noSplice) {
        this(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, PIPES_MEMORY_DEFAULT);
    }

    /** HAProxy's default when maxpipes is not set: a quarter of maxconn. */
    public static int defaultMaxpipes(int maxconn) {
        return maxconn / 4;
    }

    /** Every setting at its default. */
    public static GlobalConfig defaults() {
        return new GlobalConfig(DEFAULT_MAXCONN, defaultMaxpipes(DEFAULT_MAXCONN), AUTO_NBTHREAD, DEFAULT_BUFSIZE, 0,
                DEFAULT_BUFFERS_RESERVE, 0, false);
    }

    public GlobalConfig withMaxconn(int v) {
        return new GlobalConfig(v, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                cpuMap, stats, logs, serverState);
    }

    public GlobalConfig withNbthread(int v) {
        return new GlobalConfig(maxconn, maxpipes, v, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                cpuMap, stats, logs, serverState);
    }

    /**
     * How many event loops to run: {@code nbthread}, or when it is not set the number of CPUs
     * this process may run on (the JVM reads the affinity mask and cgroup CPU limits), at most
     * {@link #MAX_NBTHREAD}.
     */
    public int loops() {
        return nbthread != AUTO_NBTHREAD ? nbthread : autoLoops();
    }

    /** One loop per CPU this process may run on, at most {@link #MAX_NBTHREAD}. */
    public static int autoLoops() {
        return Math.min(MAX_NBTHREAD, Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    public GlobalConfig withMaxpipes(int v) {
        return new GlobalConfig(maxconn, v, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                cpuMap, stats, logs, serverState);
    }

    public GlobalConfig withCpuMap(CpuMap v) {
        return new GlobalConfig(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                v, stats, logs, serverState);
    }

    public GlobalConfig withStats(StatsConfig v) {
        return new GlobalConfig(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                cpuMap, v, logs, serverState);
    }

    public GlobalConfig withLogs(GlobalLogs v) {
        return new GlobalConfig(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                cpuMap, stats, v, serverState);
    }

    public GlobalConfig withServerState(ServerStateFile v) {
        return new GlobalConfig(maxconn, maxpipes, nbthread, bufsize, buffersLimit, buffersReserve, pipesize, noSplice, pipesMemory,
                cpuMap, stats, logs, v);
    }
}
