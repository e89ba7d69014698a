package org.forwarder.io;

import org.forwarder.linux.Linux;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;

/**
 * Kernel pipes for splice, made on demand with pipe2(O_NONBLOCK|O_CLOEXEC) and never more than
 * {@code maxpipes} at once (each costs two fds). An empty pipe returned to the pool is reused; a
 * pipe returned with data in it (its stream died mid-transfer) is closed, as its bytes belong to
 * nobody. When the pool is exhausted, callers fall back to copying.
 *
 * <p>Pipes are not created ahead of time: a pre-filled cache is fds taken from connections.
 */
public final class PipePool {
    private static final int PIPE_FLAGS = Linux.O_NONBLOCK() | Linux.O_CLOEXEC();

    private final Syscalls sys;
    private final int maxPipes;
    private final int pipeSize;
    private long[] free = new long[16];
    private int freeCount;
    private int inUse;
    private int capacity = -1;
    private long exhausted;

    /**
     * Pipe size used when {@code tune.pipesize} is not set. The kernel's default pipe has 16 page
     * slots (64 KiB), which caps every splice at about one loopback segment; a 1 MiB pipe lets one
     * splice move what the socket holds, halving the syscalls and peer wake-ups per byte (measured:
     * 0.74 -> 0.31 CPU s/GB, 9 -> 14 Gbps, 8 iperf3 streams). Pages are pinned only while data
     * sits in a pipe; an idle pooled pipe holds none.
     */
    static final int DEFAULT_PIPE_SIZE = 1 << 20;

    public PipePool(Syscalls sys, int maxPipes, int pipeSize) {
        this.sys = sys;
        this.maxPipes = maxPipes;
        this.pipeSize = pipeSize > 0 ? pipeSize : Math.max(65536, Math.min(DEFAULT_PIPE_SIZE, unprivilegedMax()));
    }

    /** The largest pipe an unprivileged process may ask for (/proc/sys/fs/pipe-max-size). */
    private static int unprivilegedMax() {
        // readLine, not Files.readString: procfs reports a size of 0, which readString trusts
        try (var r = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of("/proc/sys/fs/pipe-max-size"))) {
            String line = r.readLine();
            return line == null ? 65536 : Integer.parseInt(line.trim());
        } catch (java.io.IOException | NumberFormatException e) {
            return 65536;
        }
    }

    /** Pipes handed out now. */
    public int inUse() { return inUse; }
    /** Empty pipes kept for reuse. */
    public int free() { return freeCount; }
    public int max() { return maxPipes; }
    /** Times a stream wanted a pipe and got none. */
    public long exhausted() { return exhausted; }

    /** Bytes one pipe holds, as the kernel reports (valid once a pipe was made). */
    public int capacity() {
        return capacity > 0 ? capacity : 4096; // a pipe holds at least one page
    }

    /** A pipe as {@code readFd | (long) writeFd << 32}, or -1 when none can be had. */
    public long acquire() {
        if (freeCount > 0) {
            inUse++;
            return free[--freeCount];
        }
        if (inUse + freeCount >= maxPipes) {
            exhausted++;
            return -1;
        }
        long p = sys.pipe2(PIPE_FLAGS);
        if (p < 0) {
            exhausted++; // e.g. EMFILE: a pipe is as unavailable as when maxpipes is reached
            return -1;
        }
        int w = (int) (p >>> 32);
        int c = sys.fcntl(w, Linux.F_SETPIPE_SZ(), pipeSize);
        if (c < 0) {
            // refused (e.g. over the per-user pipe memory limit): keep what the kernel gave
            c = sys.fcntl(w, Linux.F_GETPIPE_SZ(), 0);
        }
        if (c > 0 && (capacity < 0 || c < capacity)) {
            capacity = c; // the smallest pipe made, so no splice ever asks for more than fits
        }
        inUse++;
        return p;
    }

    /** Returns a pipe; {@code empty} says whether it still holds bytes. */
    public void release(long pipe, boolean empty) {
        inUse--;
        if (!empty) {
            closePipe(pipe);
            return;
        }
        if (freeCount == free.length) {
            free = java.util.Arrays.copyOf(free, free.length * 2);
        }
        free[freeCount++] = pipe;
    }

    private void closePipe(long pipe) {
        sys.close((int) pipe);
        sys.close((int) (pipe >>> 32));
    }

    /** Closes the pooled pipes (at shutdown). */
    public void close() {
        while (freeCount > 0) closePipe(free[--freeCount]);
    }

    public static int readFd(long pipe) { return (int) pipe; }
    public static int writeFd(long pipe) { return (int) (pipe >>> 32); }

    static String describe(int errno) { return Errno.describe(errno); }
}
