package org.forwarder.proxy;

import org.forwarder.config.BindConfig;
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
import org.forwarder.stats.ProcessRate;
import org.forwarder.stats.ProxyRate;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.FreqCtr;
import org.forwarder.stats.SharedMax;
import org.forwarder.stream.IoContext;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One event loop and everything it owns: its poller (epoll set, fd table, timers, run queue),
 * raw-socket layer, buffer and pipe pools, counters, listening sockets and the sessions it
 * accepted. A session stays on the loop that accepted it, server fd included, so nothing here
 * is locked. What loops share (frontends, backends, servers, connection limits) is in
 * {@link Proxies} and is touched on accept, connect, queue and close only.
 *
 * <p>Listeners: each loop has its own socket per bind address (SO_REUSEPORT when there is more
 * than one loop), and the kernel spreads new connections over them; see docs/nbthread.md.
 *
 * <p>Pauses. At a connection limit (frontend or global, both process-wide) a listener stops
 * polling; whichever loop closes a connection wakes the loops with such listeners
 * ({@link Proxies#placeFreed}). A loop that pauses publishes that first, then looks at the
 * limits again, so a close on another loop in between is never missed. Out of fds, a listener
 * pauses too, and retries after {@value #FD_RETRY_MS} ms or when this loop closes a connection.
 *
 * <p>Pools: the buffer and pipe limits of the configuration are process-wide totals, split
 * evenly over the loops ({@link #share}); a loop's pools never wait for another loop. Stream
 * objects are pooled per loop too ({@link #freeHead}), so an accept makes no objects once warm.
 *
 * <p>Counters: the loop's {@link LoopCounters} come from the process's registry; the loop's
 * sessions write the rows of their frontend, backend and server there. What the loop's
 * machinery keeps for itself (poller passes, epoll_ctl calls, buffers and pipes in use) is
 * copied into the process block after every pass and whenever a stream closes; so are the raw
 * socket layer's call and EAGAIN counts (plain fields there, one increment per syscall). Each
 * accept also counts the loop's connection and frontend rates and raises the process-wide
 * maxima it can see (the frontend's smax and rate_max, MaxConnRate: {@link #countAccept}).
 */
public final class Worker {
    private static final long FD_RETRY_MS = 100;

    private final int index;
    private final Proxies proxies;
    private final Poller poller;
    private final RawSock raw;
    private final BufferPool buffers;
    private final PipePool pipes;
    private final LoopCounters counters;
    private final CounterBlock<ProcessCounter> stats;
    private final IoContext io;
    private final List<Listener> listeners = new ArrayList<>();
    private final Consumer<String> log;
    private final boolean sharePorts;
    /** Streams of this loop open now. */
    private int current;
    /** The frontend's connection count with the place the last {@link #takeConnection} took (for its smax). */
    private int takenCount;
    private final FreqCtr connRate;
    private final SharedMax connRateMax;
    /** Every open stream of this loop, so a stop can close what the grace period did not. */
    private final Session.LiveSet live = new Session.LiveSet();
    /**
     * Stream objects (a session, its two conns and channels) for reuse, so that a new connection
     * makes no objects in steady state: {@link #closedThisPass} holds those whose stream ended
     * during the current pass; after the pass they go to {@link #freeHead}, at most
     * {@link #FREE_MAX} of them (beyond, a burst's objects are left to the GC). Both lists link
     * through {@link Session#nextClosed}. Why only after the pass: later in the pass that closed
     * it, an object may still be met as the old stream (a run-queue entry, an event of its former
     * fds, a timer), which a closed session ignores but a restarted one would not; after the
     * pass, what can still reach it (a stale run-queue or remote wake) is harmless in every state
     * (see {@link Session#run}). Loop thread only.
     */
    private Session closedThisPass;
    private Session freeHead;
    private int freeCount;
    static final int FREE_MAX = 1024;
    /** Streams started in a recycled object (tests look at it). */
    long reuses;
    /** Streams this loop has started (for {@link #nextSessionId}). */
    private long sessionSeq;
    private boolean draining;
    /** This loop's queue of connection log records, or null when no frontend logs connections. */
    private org.forwarder.log.LogRing logRing;
    /** Scratch for a connection's addresses (family, 16 bytes, port) read for its log line. */
    final long[] addressScratch = new long[3];
    /** Some listener of this loop is paused at a connection limit (read by other loops). */
    private volatile boolean limitPaused;

    /** Resumes listeners paused for lack of fds, in case no connection closes to do it. */
    private final Task fdRetry = new Task() {
        @Override protected void run() { }
        @Override protected void onTimer(long nowMs) { resumeListeners(); }
    };

    /** Resumes listeners paused at a limit that a close on another loop lifted. */
    private final Task resume = new Task() {
        @Override protected void run() { resumeLimitPaused(); }
        @Override protected void onTimer(long nowMs) { }
    };

    /**
     * Loop {@code index} of {@code proxies}; {@code counters}: this loop's, from the process's
     * registry. Its calls go through {@code sys} (a test double in fault tests).
     */
    public Worker(Proxies proxies, int index, LoopCounters counters, int maxFds, Consumer<String> log, Syscalls sys) {
        GlobalConfig global = proxies.global();
        this.index = index;
        this.proxies = proxies;
        this.log = log;
        this.counters = counters;
        this.stats = counters.process();
        this.connRate = counters.rate(ProcessRate.CONN_RATE);
        this.connRateMax = counters.registry().max(ProcessRate.CONN_RATE);
        this.sharePorts = global.loops() > 1;
        this.poller = new Poller(maxFds, sys);
        try {
            poller.afterEachPass(this::afterPass);
            this.raw = new RawSock(poller.sys(), poller.fdTab());
            int n = global.loops();
            int bufferShare = global.buffersLimit() == 0 ? 0 : Math.max(1, share(global.buffersLimit(), n, index));
            this.buffers = new BufferPool(global.bufsize(), bufferShare, global.buffersReserve());
            this.pipes = new PipePool(poller.sys(), global.noSplice() ? 0 : share(global.maxpipes(), n, index), global.pipesize(),
                    share(PipePool.configuredMemory(global.pipesMemory()), n, index), poller.fdTab().capacity(), stats, log);
            this.io = new IoContext(poller.fdTab(), poller.sys(), raw, buffers, pipes, stats);
            for (Frontend fe : proxies.frontends()) {
                for (BindConfig b : fe.config().binds()) {
                    listeners.add(new Listener(this, fe, b.address(), b.where()));
                }
            }
            publishLoopFigures(); // before the first pass, which may sleep (the loop's thread starts after this)
        } catch (RuntimeException | Error e) {
            poller.close();
            throw e;
        }
    }

    /**
     * Loop {@code index}'s part of a process-wide pool limit ({@code tune.buffers.limit},
     * {@code maxpipes}, {@code tune.pipes.memory}): each loop's pools are its own, so that taking
     * a buffer or a pipe, which happens per event, touches no shared memory; the parts add up
     * to the configured total.
     */
    static int share(int total, int loops, int index) {
        return (int) share((long) total, loops, index);
    }

    static long share(long total, int loops, int index) {
        return total / loops + (index < total % loops ? 1 : 0);
    }

    /**
     * Opens every listener, on the configured addresses, or for a loop after the first on
     * {@code addresses} (what the first loop bound, ports resolved); on failure closes those
     * already open and rethrows. With several loops the first one probes each address without
     * SO_REUSEPORT first ({@link Listener#probe}).
     */
    public void openListeners(List<SockAddr> addresses) {
        try {
            for (int i = 0; i < listeners.size(); i++) {
                Listener l = listeners.get(i);
                SockAddr at = addresses != null ? addresses.get(i) : sharePorts ? l.probe() : null;
                l.open(Math.max(128, Math.min(l.frontend().config().maxconn(), 4096)), sharePorts, at);
            }
        } catch (RuntimeException e) {
            listeners.forEach(Listener::close);
            throw e;
        }
    }

    public int index() { return index; }
    /** Where this loop reports process events (standard error and the global log; "alert: " etc. set the level). */
    public Consumer<String> log() { return log; }
    public Proxies proxies() { return proxies; }
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
    public List<Frontend> frontends() { return proxies.frontends(); }
    /** Streams of this loop open now. */
    public int current() { return current; }
    /** Set once before the loop's thread starts. */
    public void setLogRing(org.forwarder.log.LogRing ring) { this.logRing = ring; }
    public org.forwarder.log.LogRing logRing() { return logRing; }

    /**
     * Takes a place for one more connection of {@code fe} (its maxconn and the global one, both
     * process-wide), or returns false when a limit is reached.
     */
    boolean takeConnection(Frontend fe) {
        int count = fe.connections.tryTake();
        if (count == 0) return false;
        if (proxies.connections.tryTake() > 0) {
            takenCount = count;
            return true;
        }
        // a loop that found the frontend full in between waits for this place too
        if (fe.connections.release()) proxies.placeFreed(this);
        return false;
    }

    /**
     * Gives back a place taken by {@link #takeConnection} (the accept found nothing, or the stream
     * ended). When a limit was reached before, the loops that paused a listener at a limit are
     * woken (only then: a release below the limit follows the one that woke them).
     */
    void releaseConnection(Frontend fe) {
        boolean wasFull = fe.connections.release();
        wasFull |= proxies.connections.release();
        if (wasFull) proxies.placeFreed(this);
    }

    private static boolean atLimit(Frontend fe, Proxies p) {
        return fe.connections.isFull() || p.connections.isFull();
    }

    void accepted(Listener l, int fd) {
        current++;
        stats.inc(ProcessCounter.CUM_CONNS);
        Frontend fe = l.frontend();
        countAccept(fe);
        stats.addRelease(ProcessCounter.CURR_CONNS, 1);
        Session s = freeHead;
        if (s != null) {
            freeHead = s.nextClosed;
            s.nextClosed = null;
            freeCount--;
            reuses++;
        } else {
            s = new Session(this);
        }
        s.init(fe, fd);
        live.add(s);
        s.start();
    }

    /**
     * Rates and maxima of an accept. The frontend's smax is its count with this connection's
     * place (the CAS result of {@link #takeConnection}); it may include a place another loop
     * holds for an accept under way, at most one per loop. The highest rates are the process's
     * (every loop's counters summed), read here, once per accept, without writing them.
     */
    private void countAccept(Frontend fe) {
        fe.smax.update(takenCount);
        long clock = poller.clockMs();
        connRate.add(clock, 1);
        StatsRegistry reg = counters.registry();
        long r = reg.rate(ProcessRate.CONN_RATE, clock);
        connRateMax.update(r);
        counters.rate(fe.statsRow, ProxyRate.RATE).add(clock, 1);
        fe.rateMax.update(reg.rate(fe.statsRow, ProxyRate.RATE, clock));
    }

    /**
     * A number for a new stream, unique in the process: a count of this loop's streams above six
     * bits that name the loop (at most 64 loops), so the runtime API finds a stream's loop from its
     * number alone. Loop thread only.
     */
    long nextSessionId() {
        return (++sessionSeq << 6) | index;
    }

    /** The loop a stream number ({@link #nextSessionId}) belongs to. */
    public static int loopOfSession(long id) {
        return (int) (id & 63);
    }

    /**
     * {@code shutdown session}: ends stream {@code id} of this loop as a forced stop does, with
     * a reset toward each side whose stream is not complete; false if no such stream lives here.
     * Loop thread only.
     */
    public boolean killSession(long id) {
        for (Session s = live.first(); s != null; s = s.liveNext()) {
            if (s.id == id) {
                s.shutdownByAdmin('K');
                return true;
            }
        }
        return false;
    }

    /**
     * Ends every stream of this loop on {@code sv}; how many. {@code cause}, the termination
     * state they are logged with: 'K' for {@code shutdown sessions server}, 'D' / 'U' for the
     * server's on-marked-down / on-marked-up actions. Loop thread only.
     */
    public int killSessionsOn(Server sv, char cause) {
        int n = 0;
        Session s = live.first();
        while (s != null) {
            Session next = s.liveNext();
            if (s.server() == sv) {
                s.shutdownByAdmin(cause);
                n++;
            }
            s = next;
        }
        return n;
    }

    /**
     * {@code show sess}: a line per live stream of this loop ({@code id} 0), or the line of stream
     * {@code id} only; true if any was written. Loop thread only.
     */
    public boolean describeSessions(StringBuilder sb, long id) {
        boolean any = false;
        for (Session s = live.first(); s != null; s = s.liveNext()) {
            if (id != 0 && s.id != id) continue;
            s.describe(sb, sys());
            any = true;
        }
        return any;
    }

    /** Closes every stream still open (end of the grace period). */
    public void closeAllStreams() {
        Session s;
        while ((s = live.first()) != null) {
            s.kill(); // unlinks itself
            if (live.first() == s) live.remove(s); // defensive: never loop forever
        }
    }

    /** A stream ended: its places are free, listeners (of any loop) may resume. */
    void streamClosed(Session s, Frontend fe) {
        live.remove(s);
        s.nextClosed = closedThisPass; // reused after this pass: see closedThisPass
        closedThisPass = s;
        current--;
        stats.inc(ProcessCounter.CLOSED);
        publishLoopFigures(); // the stream gave its buffers and pipes back
        // last, with release: a reader that sees the connection gone sees all of the above
        stats.addRelease(ProcessCounter.CURR_CONNS, -1);
        releaseConnection(fe);
        resumeListeners(); // fds freed here may lift an fd-shortage pause of this loop
    }

    void outOfFds(Listener l, int errno) {
        long now = now();
        if (proxies.warnFdShortage()) {
            log.accept("warning: accept on " + l.boundAddress() + ": " + Errno.describe(errno)
                    + "; pausing accepts until a connection closes");
        }
        l.pause(Listener.NO_FDS);
        poller.timers().scheduleNoLaterThan(fdRetry, now + FD_RETRY_MS);
    }

    /**
     * {@code l} met a connection limit: it stops polling until a close anywhere lifts it. The
     * pause is published before the limits are looked at again, so a loop that closes a
     * connection meanwhile either sees the pause (and wakes this loop) or left room that this
     * second look finds.
     */
    void atConnectionLimit(Listener l) {
        l.pause(Listener.AT_LIMIT);
        limitPaused = true;
        if (!atLimit(l.frontend(), proxies)) poller.wake(resume);
    }

    boolean hasLimitPausedListener() {
        return limitPaused;
    }

    /** From another loop's thread: run {@link #resumeListeners} on this loop. */
    void wakeToResume() {
        poller.wakeFromAnyThread(resume);
    }

    /**
     * This loop closed a connection, or the fd retry is due: listeners paused at a limit or for
     * lack of fds accept again where the limits allow (loop thread).
     */
    void resumeListeners() {
        resume(true);
    }

    /**
     * Another loop gave a place back under a limit: only listeners paused at a limit resume.
     * One paused for lack of fds waits for its retry or a close on this loop, or two loops
     * short of fds would wake each other at every failed accept.
     */
    void resumeLimitPaused() {
        resume(false);
    }

    private void resume(boolean fdPausedToo) {
        if (draining) return;
        boolean stillAtLimit = false;
        for (Listener l : listeners) {
            int why = l.pauseReason();
            if (why == Listener.RUNNING || (why == Listener.NO_FDS && !fdPausedToo)) continue;
            if (atLimit(l.frontend(), proxies)) {
                l.pause(Listener.AT_LIMIT);
                stillAtLimit = true;
            } else {
                l.resume();
            }
        }
        limitPaused = stillAtLimit;
        if (stillAtLimit) {
            // a place given back on another loop between the look above and the store may have missed us
            for (Listener l : listeners) {
                if (l.pauseReason() == Listener.AT_LIMIT && !atLimit(l.frontend(), proxies)) {
                    poller.wake(resume);
                    break;
                }
            }
        }
    }

    /** Stops accepting (graceful stop): listeners close, health checks stop, established streams go on. */
    public void stopAccepting() {
        draining = true;
        listeners.forEach(Listener::close);
        stopChecks();
    }

    /** What stops this loop's health checks (each closes its socket); loop thread. */
    private final List<Runnable> checks = new ArrayList<>();

    /** Adds a health check living on this loop; before the loop's thread starts, or on it. */
    public void addCheck(Runnable stop) {
        checks.add(stop);
    }

    private void stopChecks() {
        for (Runnable r : checks) r.run();
        checks.clear();
    }

    /** After every pass: the streams closed during it become free objects, then the figures are published. */
    private void afterPass() {
        Session s = closedThisPass;
        closedThisPass = null;
        while (s != null) {
            Session next = s.nextClosed;
            if (freeCount < FREE_MAX) {
                s.nextClosed = freeHead;
                freeHead = s;
                freeCount++;
            } else {
                s.nextClosed = null;
            }
            s = next;
        }
        publishLoopFigures();
    }

    /** The stream this loop started last among those open, or null (tests look at it). Loop thread only. */
    Session newestLive() { return live.first(); }

    /**
     * Copies the figures the loop's machinery keeps for itself into the process block (loop
     * thread only): a few stores, after every pass and when a stream closes.
     */
    private void publishLoopFigures() {
        stats.set(ProcessCounter.POLL_PASSES, poller.passes());
        stats.set(ProcessCounter.EPOLL_CTL_CALLS, poller.fdTab().epollCtlCalls());
        stats.set(ProcessCounter.EPOLL_WAIT_CALLS, poller.epollWaits());
        stats.set(ProcessCounter.RECV_CALLS, raw.recvCalls());
        stats.set(ProcessCounter.RECV_EAGAIN, raw.recvAgain());
        stats.set(ProcessCounter.SEND_CALLS, raw.sendCalls());
        stats.set(ProcessCounter.SEND_EAGAIN, raw.sendAgain());
        stats.set(ProcessCounter.SPLICE_CALLS, raw.spliceCalls());
        stats.set(ProcessCounter.SPLICE_EAGAIN, raw.spliceAgain());
        stats.set(ProcessCounter.BUFFERS_USED, buffers.inUse());
        stats.set(ProcessCounter.BUFFERS_ALLOCATED, buffers.allocated());
        stats.set(ProcessCounter.BUFFERS_REFUSED, buffers.failures());
        stats.set(ProcessCounter.PIPES_EXHAUSTED, pipes.exhausted());
        stats.set(ProcessCounter.PIPES_BYTES, pipes.bytes());
        stats.set(ProcessCounter.PIPES_USED_BYTES, pipes.usedBytes());
        stats.set(ProcessCounter.PIPES_USED, pipes.inUse());
        stats.set(ProcessCounter.PIPES_LARGE_USED, pipes.largeInUse());
        stats.set(ProcessCounter.PIPES_FREE, pipes.free());
        stats.set(ProcessCounter.PIPES_LARGE_BYTES, pipes.largeBytes());
        stats.set(ProcessCounter.PIPES_MEMORY, pipes.memory());
    }

    /** Releases what outlives the loop (after {@link Poller#run()} returned, on its thread). */
    public void closeResources() {
        stopChecks();
        listeners.forEach(Listener::close);
        pipes.close();
        buffers.close();
        publishLoopFigures(); // the free pipes are closed now
    }
}
