package org.forwarder.proxy;

import org.forwarder.config.BindConfig;
import org.forwarder.config.Config;
import org.forwarder.config.FrontendConfig;
import org.forwarder.config.GlobalConfig;
import org.forwarder.io.BufferPool;
import org.forwarder.io.PipePool;
import org.forwarder.io.RawSock;
import org.forwarder.poll.FdTab;
import org.forwarder.poll.Poller;
import org.forwarder.poll.Task;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.LoopCounters;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stream.IoContext;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Everything one event loop owns: its poller, raw-socket layer, buffer and pipe pools, counters,
 * frontends, backends and listeners. Nothing is shared between workers, so more can be added
 * (one per thread) without locks; for now there is one.
 *
 * <p>Counters: the worker's {@link LoopCounters} come from the process's registry; each object
 * that counts (pools, frontends, backends, servers, sessions) writes its own block at the event.
 * What the loop's machinery keeps for itself (poller passes, epoll_ctl calls, buffers and pipes
 * in use) is copied into the process block after every pass and whenever a stream closes, so
 * readers on other threads see it as of the last pass without asking the loop.
 */
public final class Worker {
    private static final long FD_RETRY_MS = 100;

    private final Poller poller;
    private final RawSock raw;
    private final BufferPool buffers;
    private final PipePool pipes;
    private final LoopCounters counters;
    private final CounterBlock<ProcessCounter> stats;
    private final IoContext io;
    private final GlobalConfig global;
    private final List<Frontend> frontends = new ArrayList<>();
    private final List<Listener> listeners = new ArrayList<>();
    private final Consumer<String> log;
    private int current;
    /** Every open stream, so a stop can close what the grace period did not. */
    private final Session.LiveSet live = new Session.LiveSet();
    private boolean draining;
    /** Loop time before which another fd-shortage warning would only repeat the last one. */
    private long nextFdWarning;

    /** Resumes listeners paused for lack of fds, in case no connection closes to do it. */
    private final Task fdRetry = new Task() {
        @Override protected void run() { }
        @Override protected void onTimer(long nowMs) { resumeListeners(); }
    };

    /** {@code counters}: this loop's, from the process's registry (which has a row for every frontend, backend and server). */
    public Worker(Config config, LoopCounters counters, int maxFds, Consumer<String> log) {
        this(config, counters, maxFds, log, Syscalls.newInstance());
    }

    /** A worker whose loop makes its calls through {@code sys} (a test double in fault tests). */
    public Worker(Config config, LoopCounters counters, int maxFds, Consumer<String> log, Syscalls sys) {
        this.global = config.global();
        this.log = log;
        this.counters = counters;
        this.stats = counters.process();
        this.poller = new Poller(maxFds, sys);
        poller.afterEachPass(this::publishLoopFigures);
        this.raw = new RawSock(poller.sys(), poller.fdTab());
        this.buffers = new BufferPool(global.bufsize(), global.buffersLimit(), global.buffersReserve());
        this.pipes = new PipePool(poller.sys(), global.noSplice() ? 0 : global.maxpipes(), global.pipesize(),
                global.pipesMemory(), poller.fdTab().capacity(), stats, log);
        this.io = new IoContext(poller.fdTab(), poller.sys(), raw, buffers, pipes, stats);
        Map<String, Backend> backends = new LinkedHashMap<>();
        config.backends().forEach((name, bc) -> backends.put(name, new Backend(bc, counters)));
        for (FrontendConfig fc : config.frontends()) {
            Frontend fe = new Frontend(fc, backends.get(fc.defaultBackend()), global.noSplice(),
                    counters.frontend(fc.name()));
            frontends.add(fe);
            for (BindConfig b : fc.binds()) {
                listeners.add(new Listener(this, fe, b.address(), b.where()));
            }
        }
        publishLoopFigures(); // before the first pass, which may sleep (the loop's thread starts after this)
    }

    /** Opens every listener; on failure closes those already open and rethrows. */
    public void openListeners() {
        try {
            for (Listener l : listeners) {
                l.open(Math.max(128, Math.min(l.frontend().config().maxconn(), 4096)));
            }
        } catch (RuntimeException e) {
            listeners.forEach(Listener::close);
            throw e;
        }
    }

    public Poller poller() { return poller; }
    public FdTab fdTab() { return poller.fdTab(); }
    public Syscalls sys() { return poller.sys(); }
    public RawSock raw() { return raw; }
    public BufferPool buffers() { return buffers; }
    public PipePool pipes() { return pipes; }
    /** The process figures as this loop counts them (written on this loop's thread only). */
    public CounterBlock<ProcessCounter> stats() { return stats; }
    public LoopCounters counters() { return counters; }
    /** What the streams' channels of this loop work with. */
    IoContext io() { return io; }
    public long now() { return poller.now(); }
    public List<Listener> listeners() { return listeners; }
    public List<Frontend> frontends() { return frontends; }
    public int current() { return current; }

    boolean atGlobalLimit() {
        return current >= global.maxconn();
    }

    void accepted(Listener l, int fd) {
        current++;
        stats.inc(ProcessCounter.CUM_CONNS);
        Frontend fe = l.frontend();
        fe.opened();
        fe.backend().streamOpened();
        stats.addRelease(ProcessCounter.CURR_CONNS, 1);
        Session s = new Session(this, fe, fd);
        live.add(s);
        s.start();
    }

    /** Closes every stream still open (end of the grace period). */
    public void closeAllStreams() {
        Session s;
        while ((s = live.first()) != null) {
            s.kill(); // unlinks itself
            if (live.first() == s) live.remove(s); // defensive: never loop forever
        }
    }

    /** A stream ended: its slots are free, listeners may resume. */
    void streamClosed(Session s, Frontend fe) {
        live.remove(s);
        current--;
        stats.inc(ProcessCounter.CLOSED);
        fe.closed();
        fe.backend().streamClosed();
        publishLoopFigures(); // the stream gave its buffers and pipes back
        // last, with release: a reader that sees the connection gone sees all of the above
        stats.addRelease(ProcessCounter.CURR_CONNS, -1);
        resumeListeners();
    }

    void outOfFds(Listener l, int errno) {
        long now = now();
        if (now >= nextFdWarning) {
            nextFdWarning = now + 10_000;
            log.accept("warning: accept on " + l.boundAddress() + ": " + Errno.describe(errno)
                    + "; pausing accepts until a connection closes");
        }
        l.pause();
        poller.timers().scheduleNoLaterThan(fdRetry, now + FD_RETRY_MS);
    }

    private void resumeListeners() {
        if (draining) return;
        for (Listener l : listeners) {
            if (l.isPaused() && !l.frontend().atLimit() && !atGlobalLimit()) l.resume();
        }
    }

    /** Stops accepting (graceful stop): listeners close, established streams go on. */
    public void stopAccepting() {
        draining = true;
        listeners.forEach(Listener::close);
    }

    /**
     * Copies the figures the loop's machinery keeps for itself into the process block (loop
     * thread only): a few stores, after every pass and when a stream closes.
     */
    private void publishLoopFigures() {
        stats.set(ProcessCounter.POLL_PASSES, poller.passes());
        stats.set(ProcessCounter.EPOLL_CTL_CALLS, poller.fdTab().epollCtlCalls());
        stats.set(ProcessCounter.BUFFERS_USED, buffers.inUse());
        stats.set(ProcessCounter.PIPES_USED, pipes.inUse());
        stats.set(ProcessCounter.PIPES_LARGE_USED, pipes.largeInUse());
        stats.set(ProcessCounter.PIPES_FREE, pipes.free());
        stats.set(ProcessCounter.PIPES_LARGE_BYTES, pipes.largeBytes());
        stats.set(ProcessCounter.PIPES_MEMORY, pipes.memory());
    }

    /** Releases what outlives the loop (after {@link Poller#run()} returned, on its thread). */
    public void closeResources() {
        listeners.forEach(Listener::close);
        pipes.close();
        buffers.close();
        publishLoopFigures(); // the free pipes are closed now
    }
}
