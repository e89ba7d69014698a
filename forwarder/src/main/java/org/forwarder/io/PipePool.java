package org.forwarder.io;

import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.Errno;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;

import java.util.function.Consumer;

/**
 * Kernel pipes for splice, made on demand with pipe2(O_NONBLOCK|O_CLOEXEC) and never more than
 * {@code maxpipes} at once (each costs two fds). An empty pipe returned to the pool is kept for
 * reuse if fewer than {@link #MAX_IDLE} are idle, else closed; a pipe returned with data in it
 * (its stream died mid-transfer) is closed, as its bytes belong to nobody. When the pool is
 * exhausted, callers fall back to copying.
 *
 * <p>Why pipes are sized one by one. The kernel charges every pipe's page slots to its user when
 * the pipe is made or resized, whether or not it holds data (fs.pipe-user-pages-soft: 16384 pages
 * by default, shared by all the user's processes; CAP_SYS_RESOURCE or CAP_SYS_ADMIN exempt a
 * process). A 1 MiB pipe is 256 slots, so about 64 of them exhaust it; past it an unprivileged
 * user's new pipes get 2 slots and growing one fails with EPERM. Hence:
 * <ul>
 * <li>each pipe keeps the capacity the kernel gave it ({@link #capacity(long)}); a refusal for one
 *     pipe does not shrink what the others may splice at once;</li>
 * <li>pipes bigger than the kernel's default ("large") share a byte budget
 *     ({@code tune.pipes.memory}; by default 32 MiB or half the per-user limit if that is less);
 *     beyond it new pipes keep the kernel's 64 KiB, so slow readers holding full pipes cannot use
 *     up the user's limit and drive every later pipe down to 8 KiB;</li>
 * <li>only {@link #MAX_IDLE} idle pipes are kept (the larger ones, which the next fast stream
 *     wants); the rest are closed, giving their fds and slots back;</li>
 * <li>after an EPERM the budget drops to half of what large pipes held then (logged once), so the
 *     user's pages fall back under the limit and the kernel's default pipes stay available; no
 *     pipe is grown again until one was closed. Splicing goes on with whatever size pipes have.</li>
 * </ul>
 * Pipes are not created ahead of time: a pre-filled cache is fds taken from connections.
 */
public final class PipePool {
    private static final int PIPE_FLAGS = FdConst.O_NONBLOCK | FdConst.O_CLOEXEC;

    /**
     * Pipe size used when {@code tune.pipesize} is not set. The kernel's default pipe has 16 page
     * slots (64 KiB), which caps every splice at about one loopback segment; a 1 MiB pipe lets one
     * splice move what the socket holds, halving the syscalls and peer wake-ups per byte (measured:
     * 0.74 -> 0.31 CPU s/GB, 9 -> 14 Gbps, 8 iperf3 streams). Its pages are pinned only while data
     * sits in it, but its 256 slots count against the user's pipe limit for as long as it exists.
     */
    static final int DEFAULT_PIPE_SIZE = 1 << 20;
    /** A new pipe's size on Linux (16 slots of 4 KiB); pipes above it are "large" and budgeted. */
    static final int KERNEL_PIPE_SIZE = 65536;
    /** Budget for large pipes when tune.pipes.memory is not set (and the kernel's limit allows). */
    static final long DEFAULT_MEMORY = 32L << 20;
    /** Idle pipes kept for reuse; HAProxy was measured keeping two after 200 slow clients. */
    static final int MAX_IDLE = 2;
    private static final long PAGE = 4096;

    private final Syscalls sys;
    private final CounterBlock<ProcessCounter> stats;
    private final Consumer<String> log;
    private final int maxPipes;
    private final int pipeSize;
    private final int pipeMaxSize;
    /** Bytes that large pipes (in use or idle) may take together; lowered after an EPERM. */
    private long memory;
    private long largeBytes;
    /** Bytes of every pipe that exists (held or idle), and of those held. */
    private long bytes, usedBytes;
    private int largeInUse;
    private int inUse;
    private long exhausted;
    /** The kernel refused a resize and nothing was closed since: asking again would fail again. */
    private boolean refusedSinceClose;
    private boolean warned;
    /** Capacity in bytes of each pipe, indexed by its read fd (0 = not a pipe of ours). */
    private int[] capacities;
    private final long[] idle = new long[MAX_IDLE];
    private int idleCount;

    /**
     * @param pipeSize bytes per pipe ({@code tune.pipesize}), 0 for the built-in default
     * @param memory   budget of large pipes in bytes ({@code tune.pipes.memory}), negative for the default
     * @param fdHint   expected highest fd, to size the per-pipe table once
     * @param log      where the one warning about the kernel's limit goes
     */
    public PipePool(Syscalls sys, int maxPipes, int pipeSize, long memory, int fdHint, CounterBlock<ProcessCounter> stats,
                    Consumer<String> log) {
        this.sys = sys;
        this.stats = stats;
        this.log = log;
        this.maxPipes = maxPipes;
        this.pipeMaxSize = readProcInt("/proc/sys/fs/pipe-max-size", KERNEL_PIPE_SIZE);
        this.pipeSize = sizeFor(pipeSize, pipeMaxSize);
        this.memory = memory >= 0 ? memory : defaultMemory(readProcInt("/proc/sys/fs/pipe-user-pages-soft", 0));
        this.capacities = new int[Math.max(64, fdHint)];
    }

    /** The size a pipe is made with for {@code tune.pipesize} {@code pipeSize} (0: not set) on this machine. */
    public static int configuredSize(int pipeSize) {
        return sizeFor(pipeSize, readProcInt("/proc/sys/fs/pipe-max-size", KERNEL_PIPE_SIZE));
    }

    private static int sizeFor(int pipeSize, int pipeMaxSize) {
        return pipeSize > 0 ? pipeSize : Math.max(KERNEL_PIPE_SIZE, Math.min(DEFAULT_PIPE_SIZE, pipeMaxSize));
    }

    /** {@code tune.pipes.memory} as configured, or when negative (not set) the default for this machine. */
    public static long configuredMemory(long memory) {
        return memory >= 0 ? memory : defaultMemory(readProcInt("/proc/sys/fs/pipe-user-pages-soft", 0));
    }

    /** The default budget: 32 MiB, or half the per-user soft limit if less (0 pages = no limit). */
    static long defaultMemory(long softPages) {
        return softPages > 0 ? Math.min(DEFAULT_MEMORY, softPages * PAGE / 2) : DEFAULT_MEMORY;
    }

    private static int readProcInt(String path, int fallback) {
        // readLine, not Files.readString: procfs reports a size of 0, which readString trusts
        try (var r = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of(path))) {
            String line = r.readLine();
            return line == null ? fallback : Integer.parseInt(line.trim());
        } catch (java.io.IOException | NumberFormatException e) {
            return fallback;
        }
    }

    /** Pipes handed out now. */
    public int inUse() { return inUse; }
    /** Large pipes among those handed out. */
    public int largeInUse() { return largeInUse; }
    /** Empty pipes kept for reuse. */
    public int free() { return idleCount; }
    public int max() { return maxPipes; }
    /** Times a stream wanted a pipe and got none. */
    public long exhausted() { return exhausted; }
    /** Bytes of the large pipes that exist now, in use or idle. */
    public long largeBytes() { return largeBytes; }
    /** Bytes the kernel gave the pipes that exist now, in use or idle. */
    public long bytes() { return bytes; }
    /** Bytes the kernel gave the pipes in use now. */
    public long usedBytes() { return usedBytes; }
    /** What large pipes may take together now (lower than configured after an EPERM). */
    public long memory() { return memory; }

    /** Bytes {@code pipe} holds, as the kernel reported when it was made or resized. */
    public int capacity(long pipe) {
        return capacities[readFd(pipe)];
    }

    /** A pipe as {@code readFd | (long) writeFd << 32}, or -1 when none can be had. */
    public long acquire() {
        long p;
        if (idleCount > 0) {
            int best = 0; // the largest idle pipe: the stream asking may be a fast one
            for (int i = 1; i < idleCount; i++) {
                if (capacity(idle[i]) > capacity(idle[best])) best = i;
            }
            p = idle[best];
            idle[best] = idle[--idleCount];
            int c = capacity(p);
            if (c < pipeSize && !refusedSinceClose && !overBudget(c)) resize(p); // made while the budget was spent
        } else if (inUse >= maxPipes) {
            exhausted++;
            return -1;
        } else {
            p = sys.pipe2(PIPE_FLAGS);
            if (p < 0) {
                exhausted++; // e.g. EMFILE: a pipe is as unavailable as when maxpipes is reached
                return -1;
            }
            int r = readFd(p);
            if (r >= capacities.length) capacities = java.util.Arrays.copyOf(capacities, Math.max(r + 1, 2 * capacities.length));
            boolean sized = false;
            if (overBudget(0)) stats.inc(ProcessCounter.PIPES_OVER_BUDGET);
            else if (!refusedSinceClose) sized = resize(p);
            if (!sized) {
                int c = sys.fcntl(writeFd(p), FdConst.F_GETPIPE_SZ, 0);
                setCapacity(p, c > 0 ? c : (int) PAGE); // a pipe holds at least one page
            }
        }
        inUse++;
        usedBytes += capacity(p);
        if (isLarge(capacity(p))) largeInUse++;
        return p;
    }

    /** Whether bringing a pipe of {@code current} bytes to pipeSize would take large pipes past the budget. */
    private boolean overBudget(int current) {
        return isLarge(pipeSize) && largeBytes - (isLarge(current) ? current : 0) + pipeSize > memory;
    }

    /** Asks the kernel for pipeSize bytes; true if it gave them. */
    private boolean resize(long p) {
        int c = sys.fcntl(writeFd(p), FdConst.F_SETPIPE_SZ, pipeSize);
        if (c > 0) {
            setCapacity(p, c);
            return true;
        }
        if (-c == Errno.EPERM) refused();
        return false;
    }

    private void refused() {
        stats.inc(ProcessCounter.PIPE_RESIZE_REFUSED);
        refusedSinceClose = true;
        long was = memory;
        // above fs.pipe-max-size every resize fails alike; else back off to half of what the kernel let large
        // pipes hold, so the user's pages drop under its limit and new pipes get the kernel's 16 slots again
        boolean aboveMax = pipeSize > pipeMaxSize;
        memory = aboveMax ? 0 : Math.min(memory, largeBytes / 2);
        if (!warned) {
            warned = true;
            log.accept("warning: the kernel refused to enlarge a pipe to " + pipeSize + " bytes (EPERM): "
                    + (aboveMax ? "that is above fs.pipe-max-size (" + pipeMaxSize + ")"
                                : "this user's pipes exceed fs.pipe-user-pages-soft")
                    + " and the process lacks CAP_SYS_RESOURCE; large pipes may now take " + memory + " bytes instead of "
                    + was + " (tune.pipes.memory), the others keep the kernel's size");
        }
    }

    private void setCapacity(long p, int c) {
        int r = readFd(p);
        if (isLarge(capacities[r])) largeBytes -= capacities[r];
        bytes += c - capacities[r];
        capacities[r] = c;
        if (isLarge(c)) largeBytes += c;
    }

    private static boolean isLarge(int capacity) {
        return capacity > KERNEL_PIPE_SIZE;
    }

    /** Returns a pipe; {@code empty} says whether it still holds bytes. */
    public void release(long pipe, boolean empty) {
        inUse--;
        usedBytes -= capacity(pipe);
        if (isLarge(capacity(pipe))) largeInUse--;
        if (!empty || capacity(pipe) < Math.min(pipeSize, KERNEL_PIPE_SIZE)) {
            // bytes that belong to nobody; or a pipe the kernel shrank (made past the per-user
            // limit): reusing it would make a fast stream splice 8 KiB at a time
            closePipe(pipe);
            return;
        }
        if (idleCount < MAX_IDLE) {
            idle[idleCount++] = pipe;
            return;
        }
        int smallest = 0; // keep the larger pipes idle: the next fast stream wants one
        for (int i = 1; i < idleCount; i++) {
            if (capacity(idle[i]) < capacity(idle[smallest])) smallest = i;
        }
        if (capacity(idle[smallest]) < capacity(pipe)) {
            long out = idle[smallest];
            idle[smallest] = pipe;
            pipe = out;
        }
        stats.inc(ProcessCounter.PIPES_SURPLUS_CLOSED);
        closePipe(pipe);
    }

    private void closePipe(long pipe) {
        setCapacity(pipe, 0);
        refusedSinceClose = false; // slots went back to the kernel: a resize may succeed again
        sys.close(readFd(pipe));
        sys.close(writeFd(pipe));
    }

    /** Closes the pooled pipes (at shutdown). */
    public void close() {
        while (idleCount > 0) closePipe(idle[--idleCount]);
    }

    public static int readFd(long pipe) { return (int) pipe; }
    public static int writeFd(long pipe) { return (int) (pipe >>> 32); }
}
