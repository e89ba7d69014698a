package org.forwarder.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Fixed-size off-heap buffers carved from slabs, handed out by id.
 *
 * <p>Allocation is cooperative, as in HAProxy since the fix for the maxconn deadlock: a
 * non-urgent request (request direction) must leave {@code reserve} buffers free; an urgent one
 * (responses, which release server slots and so unblock queued requests) may use the reserve.
 * Requests that fail wait in two FIFO queues; each release grants its buffer to the first urgent
 * waiter, else to the first normal one if the reserve allows, so no waiter is woken for nothing.
 * With {@code limit == 0} the pool is unbounded and nobody ever waits.
 */
public final class BufferPool {
    /**
     * A slab is at most this many bytes (64 buffers of the default 16 KiB), and at least one
     * buffer: the memory is zeroed when the slab is made, on the loop's thread, so its size is a
     * pause. With a fixed count, {@code tune.bufsize 16m} made the first connection zero 1 GiB.
     */
    static final long SLAB_BYTES = 1L << 20;

    private final int bufSize;
    private final int limit;
    private final int reserve;
    private final Arena arena = Arena.ofShared();
    private MemorySegment[] segments = new MemorySegment[0];
    private int[] free = new int[0];
    private int freeCount;
    private int inUse;
    private BufferWaiter urgentHead, urgentTail, normalHead, normalTail;
    private long failures;

    public BufferPool(int bufSize, int limit, int reserve) {
        if (bufSize <= 0) throw new IllegalArgumentException("bufsize must be positive");
        this.bufSize = bufSize;
        this.limit = limit;
        this.reserve = limit == 0 ? 0 : Math.min(reserve, Math.max(0, limit - 1));
    }

    public int bufSize() { return bufSize; }
    public int inUse() { return inUse; }
    public long failures() { return failures; }
    /** Buffers made so far (held or free): the slabs are kept until the pool is closed. */
    public int allocated() { return segments.length; }

    private boolean allowed(boolean urgent) {
        if (limit == 0) return true;
        return limit - inUse >= (urgent ? 1 : 1 + reserve);
    }

    /** A buffer id, or -1 when the limit (and, if not urgent, the reserve) says no. */
    public int acquire(boolean urgent) {
        // queued waiters come first: a newcomer must not overtake them
        if (!allowed(urgent) || (urgent ? urgentHead != null : (urgentHead != null || normalHead != null))) {
            failures++;
            return -1;
        }
        return take();
    }

    private int take() {
        if (freeCount == 0) grow();
        inUse++;
        return free[--freeCount];
    }

    private void grow() {
        int base = segments.length;
        int perSlab = (int) Math.max(1, SLAB_BYTES / bufSize);
        int n = limit == 0 ? perSlab : Math.min(perSlab, limit - base);
        MemorySegment slab = arena.allocate((long) n * bufSize, 4096);
        segments = Arrays.copyOf(segments, base + n);
        free = Arrays.copyOf(free, base + n);
        for (int i = 0; i < n; i++) {
            segments[base + i] = slab.asSlice((long) i * bufSize, bufSize);
        }
        for (int i = n - 1; i >= 0; i--) {
            free[freeCount++] = base + i;
        }
    }

    public MemorySegment segment(int id) {
        return segments[id];
    }

    public void release(int id) {
        free[freeCount++] = id;
        inUse--;
        grantWaiters();
    }

    /** Queues {@code w} until a buffer can be granted to it. */
    public void await(BufferWaiter w, boolean urgent) {
        if (w.waiting) return;
        w.waiting = true;
        w.urgentWait = urgent;
        w.nextWaiter = null;
        if (urgent) {
            w.prevWaiter = urgentTail;
            if (urgentTail == null) urgentHead = w; else urgentTail.nextWaiter = w;
            urgentTail = w;
        } else {
            w.prevWaiter = normalTail;
            if (normalTail == null) normalHead = w; else normalTail.nextWaiter = w;
            normalTail = w;
        }
    }

    /** Leaves the queue, returning any buffer granted but not yet taken. */
    public void cancel(BufferWaiter w) {
        if (w.waiting) {
            unlink(w);
        }
        int g = w.takeGranted();
        if (g >= 0) release(g);
    }

    private void unlink(BufferWaiter w) {
        if (w.prevWaiter != null) w.prevWaiter.nextWaiter = w.nextWaiter;
        else if (w.urgentWait) urgentHead = w.nextWaiter;
        else normalHead = w.nextWaiter;
        if (w.nextWaiter != null) w.nextWaiter.prevWaiter = w.prevWaiter;
        else if (w.urgentWait) urgentTail = w.prevWaiter;
        else normalTail = w.prevWaiter;
        w.prevWaiter = w.nextWaiter = null;
        w.waiting = false;
    }

    private void grantWaiters() {
        while (urgentHead != null && allowed(true)) {
            grant(urgentHead);
        }
        while (urgentHead == null && normalHead != null && allowed(false)) {
            grant(normalHead);
        }
    }

    private void grant(BufferWaiter w) {
        unlink(w);
        w.granted = take();
        w.onBufferGranted();
    }

    /** Frees the slabs; every buffer must be back (the poller has stopped). */
    public void close() {
        arena.close();
    }
}
