package org.forwarder.poll;

import org.forwarder.sys.Errno;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One event loop: one epoll set, one fd table and cache, one timer heap, one run queue, all owned
 * by the thread that calls {@link #run()}. Nothing here is global, so N pollers can run side by
 * side. Other threads talk to it only through {@link #execute(Runnable)} (rare commands) and
 * {@link #wakeFromAnyThread(Task)} (allocation-free, e.g. a server slot handed to a stream that
 * lives on this loop).
 *
 * <p>A pass: apply queued polling changes; epoll_wait (timeout 0 while work is pending, else until
 * the nearest timer); mark readiness from the events; run the fd cache once; fire expired timers;
 * run woken tasks.
 *
 * <p>Its epoll fd and eventfd outlive {@link #run()}: they are released by {@link #close()}, which
 * the owner calls once no other thread can wake this loop any more (with N loops, after all of
 * them stopped), since a wake-up written to a closed eventfd number could land in a socket that
 * reused it.
 */
public final class Poller implements AutoCloseable {
    private static final int MAX_EVENTS = 200;
    private static final int MAX_SLEEP_MS = 1000;

    private final Syscalls sys;
    private final int epfd;
    private final int wakeFd;
    private final FdTab fdTab;
    private final Timers timers = new Timers();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final MemorySegment wakeBuf;
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    /** Tasks woken from other threads: a lock-free stack (Treiber), drained whole once per pass. */
    private final AtomicReference<Task> remoteWakes = new AtomicReference<>();
    private final long startNanos = System.nanoTime();
    private Task runHead;
    private Task runTail;
    private long now;
    private volatile boolean running = true;
    private volatile boolean closed;
    private volatile Thread thread;
    private long passes;
    private long epollWaits;
    /** The clock of rates (StatsRegistry.clockMs's origin, shared by the loops), read with {@link #now}. */
    private long clockMs;
    /** Runs on the loop's thread after every pass (the worker publishes its figures there). */
    private Runnable afterPass = () -> { };

    public Poller(int maxFds) {
        this(maxFds, Syscalls.newInstance());
    }

    /** A loop whose thread makes its calls through {@code sys} (a test double in fault tests). */
    public Poller(int maxFds, Syscalls sys) {
        this.sys = sys;
        this.epfd = check(sys.epollCreate1(FdConst.EPOLL_CLOEXEC), "epoll_create1");
        int w = sys.eventfd(0, FdConst.EFD_NONBLOCK | FdConst.EFD_CLOEXEC);
        if (w < 0) {
            sys.close(epfd);
            check(w, "eventfd");
        }
        this.wakeFd = w;
        this.fdTab = new FdTab(maxFds, epfd, sys);
        this.events = arena.allocate(Syscalls.EPOLL_EVENT_SIZE * MAX_EVENTS, 8);
        this.wakeBuf = arena.allocate(8, 8);
        fdTab.register(wakeFd, this::onWake, true, false);
        fdTab.wantRecv(wakeFd);
        this.now = clock();
    }

    private static int check(int r, String what) {
        if (r < 0) throw new IllegalStateException(what + ": " + Errno.describe(r));
        return r;
    }

    public Syscalls sys() { return sys; }
    public FdTab fdTab() { return fdTab; }
    public Timers timers() { return timers; }
    /** The loop's clock in milliseconds, read once per pass. */
    public long now() { return now; }
    public long passes() { return passes; }
    /** epoll_wait calls so far. */
    public long epollWaits() { return epollWaits; }
    /**
     * {@code System.nanoTime()} in milliseconds, one origin for every loop, read once per pass
     * with {@link #now()}: the clock of the rate counters.
     */
    public long clockMs() { return clockMs; }
    public Thread thread() { return thread; }

    /** Sets what runs on the loop's thread after every pass; call before {@link #run()}. It must not allocate. */
    public void afterEachPass(Runnable r) { afterPass = r; }

    private long clock() {
        long t = System.nanoTime();
        clockMs = Math.floorDiv(t, 1_000_000L);
        return (t - startNanos) / 1_000_000L;
    }

    /** Queues {@code t} to run at the end of this pass (poller thread only). */
    public void wake(Task t) {
        if (t.inRunQueue) return;
        t.inRunQueue = true;
        t.nextInQueue = null;
        if (runTail == null) runHead = t;
        else runTail.nextInQueue = t;
        runTail = t;
    }

    /**
     * Queues {@code t} to run on this poller's thread at the end of its next pass; callable from
     * any thread, allocation-free (the link lives in the task). A task already waiting is not
     * queued twice. Only the push that finds the stack empty writes the eventfd, so a burst of
     * wakes costs one syscall. What the caller wrote before this call is visible to {@code t.run()}
     * (the CAS publishes it, the poller's swap acquires it).
     */
    public void wakeFromAnyThread(Task t) {
        if (!REMOTE_PENDING.compareAndSet(t, 0, 1)) return;
        Task head;
        do {
            head = remoteWakes.get();
            t.remoteNext = head;
        } while (!remoteWakes.compareAndSet(head, t));
        if (head == null) wakeUp();
    }

    /** Moves the tasks woken from other threads to the run queue, oldest first. */
    private void drainRemoteWakes() {
        if (remoteWakes.get() == null) return; // a plain read: no atomic write on a pass with nothing woken
        Task t = remoteWakes.getAndSet(null);
        Task reversed = null;
        while (t != null) {
            Task next = t.remoteNext;
            t.remoteNext = reversed;
            reversed = t;
            t = next;
        }
        while (reversed != null) {
            Task next = reversed.remoteNext;
            reversed.remoteNext = null;
            reversed.remotePending = 0; // from now on a new wake queues it again
            wake(reversed);
            reversed = next;
        }
    }

    private static final java.lang.invoke.VarHandle REMOTE_PENDING;

    static {
        try {
            REMOTE_PENDING = java.lang.invoke.MethodHandles.lookup().findVarHandle(Task.class, "remotePending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Runs {@code r} on the poller thread soon; callable from any thread. */
    public void execute(Runnable r) {
        commands.add(r);
        wakeUp();
    }

    private void wakeUp() {
        if (closed) return;
        Syscalls caller = Syscalls.get();
        MemorySegment one = ONE.get();
        caller.write(wakeFd, one, 0, 8);
    }

    private static final ThreadLocal<MemorySegment> ONE = ThreadLocal.withInitial(() -> {
        MemorySegment s = Arena.ofAuto().allocate(8, 8);
        s.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1L);
        return s;
    });

    private void onWake(int fd) {
        long r = sys.read(fd, wakeBuf, 0, 8);
        if (r < 0) fdTab.cantRecv(fd);
        // commands run at the end of the pass
    }

    /** Asks the loop to return from {@link #run()} after the current pass. */
    public void stop() {
        running = false;
        if (Thread.currentThread() != thread) wakeUp();
    }

    public boolean isRunning() { return running; }

    /** Runs the loop on the calling thread until {@link #stop()}. */
    public void run() {
        if (closed) throw new IllegalStateException("poller closed");
        thread = Thread.currentThread();
        while (running) {
            fdTab.flushUpdates();
            int timeout = (fdTab.cache().hasPending() || runHead != null || !commands.isEmpty()
                    || remoteWakes.get() != null) ? 0 : timers.timeoutMs(now, MAX_SLEEP_MS);
            int n = sys.epollWait(epfd, events, MAX_EVENTS, timeout);
            epollWaits++;
            now = clock();
            if (n < 0 && n != -Errno.EINTR) {
                throw new IllegalStateException("epoll_wait: " + Errno.describe(n));
            }
            for (int i = 0; i < n; i++) {
                fdTab.onEvent(Syscalls.eventData(events, i), Syscalls.eventMask(events, i));
            }
            fdTab.cache().runPass(fdTab);
            timers.runExpired(now);
            drainRemoteWakes();
            runTasks();
            Runnable c;
            while ((c = commands.poll()) != null) {
                c.run();
            }
            passes++;
            afterPass.run();
        }
    }

    /**
     * Releases the epoll fd, the eventfd and the event array; once, after {@link #run()} returned
     * (or if it never ran) and no other thread wakes this loop any more.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        sys.close(wakeFd);
        sys.close(epfd);
        arena.close();
    }

    private void runTasks() {
        Task t = runHead;
        runHead = runTail = null; // tasks woken while running go to the next pass
        while (t != null) {
            Task next = t.nextInQueue;
            t.nextInQueue = null;
            t.inRunQueue = false;
            t.run();
            t = next;
        }
    }
}
