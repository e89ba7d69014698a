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
import org.forwarder.stats.Stats;
import org.forwarder.stats.StatsSnapshot;
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
 */
public final class Worker {
    private static final long FD_RETRY_MS = 100;

    private final Poller poller;
    private final RawSock raw;
    private final BufferPool buffers;
    private final PipePool pipes;
    private final Stats stats = new Stats();
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

    public Worker(Config config, int maxFds, Consumer<String> log) {
        this(config, maxFds, log, Syscalls.newInstance());
    }

    /** A worker whose loop makes its calls through {@code sys} (a test double in fault tests). */
    public Worker(Config config, int maxFds, Consumer<String> log, Syscalls sys) {
        this.global = config.global();
        this.log = log;
        this.poller = new Poller(maxFds, sys);
        this.raw = new RawSock(poller.sys(), poller.fdTab());
        this.buffers = new BufferPool(global.bufsize(), global.buffersLimit(), global.buffersReserve());
        this.pipes = new PipePool(poller.sys(), global.noSplice() ? 0 : global.maxpipes(), global.pipesize(),
                global.pipesMemory(), poller.fdTab().capacity(), stats, log);
        this.io = new IoContext(poller.fdTab(), poller.sys(), raw, buffers, pipes, stats);
        Map<String, Backend> backends = new LinkedHashMap<>();
        config.backends().forEach((name, bc) -> backends.put(name, new Backend(bc)));
        for (FrontendConfig fc : config.frontends()) {
            Frontend fe = new Frontend(fc, backends.get(fc.defaultBackend()), global.noSplice());
            frontends.add(fe);
            for (BindConfig b : fc.binds()) {
                listeners.add(new Listener(this, fe, b.address(), b.where()));
            }
        }
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
    public Stats stats() { return stats; }
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
        stats.accepted++;
        Frontend fe = l.frontend();
        fe.opened();
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
        stats.closed++;
        fe.closed();
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

    public StatsSnapshot snapshot() {
        return stats.snapshot(current, pipes.inUse(), pipes.largeInUse(), pipes.free(), pipes.largeBytes(), pipes.memory(),
                buffers.inUse(), poller.fdTab().epollCtlCalls(), poller.passes());
    }

    /** Releases what outlives the loop (after {@link Poller#run()} returned). */
    public void closeResources() {
        listeners.forEach(Listener::close);
        pipes.close();
        buffers.close();
    }
}
