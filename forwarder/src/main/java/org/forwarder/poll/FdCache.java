package org.forwarder.poll;

import java.util.Arrays;

/**
 * The fds that have work to do without waiting for epoll, in two arrays: {@code current}, being
 * processed, and {@code next}, collecting everything that becomes ready-and-active meanwhile.
 *
 * <p>Why two arrays: with one shared array, fds that are removed and re-added while it is being
 * walked swap places and can be skipped forever (the splice livelock HAProxy fixed in 1.5). Here an
 * fd queued during a pass always lands in {@code next}, each fd appears once per pass (a per-fd
 * pass stamp dedups), and every pass handles every fd that was queued before it began.
 *
 * <p>An fd queued for the next pass that has nothing left to do before it comes up (read to
 * EAGAIN or a short read, stopped) is {@link #cancel cancelled}: its entry is skipped, and it no
 * longer counts as pending, so the loop does not poll with a zero timeout for it. Without that,
 * the client fd of every new connection (queued when its reading starts, then drained by a read
 * right away) cost an extra empty epoll_wait.
 */
public final class FdCache {
    private int[] current;
    private int[] next;
    private int nextCount;
    /** Entries of {@code next} still queued (not cancelled or removed since). */
    private int nextLive;
    /** Per fd: the pass number in which it is queued to run, 0 when not queued. */
    private final long[] queuedFor;
    /** 64 bits: an int would wrap after 2^32 passes (hours to days of a busy loop) into 0. */
    private long pass = 1;

    public FdCache(int maxFds) {
        queuedFor = new long[maxFds];
        current = new int[64];
        next = new int[64];
    }

    /**
     * Queue {@code fd} for the next pass. No-op when it is already queued there, or when it is
     * still waiting its turn in the pass under way: it runs then, and if it still has work after
     * that it is queued again.
     */
    public void add(int fd) {
        long q = queuedFor[fd];
        if (q == pass || q == pass + 1) {
            return;
        }
        queuedFor[fd] = pass + 1;
        if (nextCount == next.length) {
            // an fd cancelled (or closed and reused) and queued again stands more than once
            // (the stale entries are skipped); the array is reused each pass
            next = Arrays.copyOf(next, next.length * 2);
        }
        next[nextCount++] = fd;
        nextLive++;
    }

    /**
     * {@code fd} has no work left: if it is queued for the next pass, drop it there (the pass
     * would find nothing to do). Not for an fd whose turn in the pass under way is still to come:
     * that entry is checked when it comes up, as before.
     */
    public void cancel(int fd) {
        if (queuedFor[fd] == pass + 1) {
            queuedFor[fd] = 0;
            nextLive--;
        }
    }

    /** Forget {@code fd} (closed): any stale entry for it is skipped. */
    public void remove(int fd) {
        if (queuedFor[fd] == pass + 1) nextLive--;
        queuedFor[fd] = 0;
    }

    /** Whether the next pass has an fd to run. */
    public boolean hasPending() {
        return nextLive > 0;
    }

    /** Whether {@code fd} is queued for the next pass (tests check the pending count against it). */
    boolean queuedForNext(int fd) {
        return queuedFor[fd] == pass + 1;
    }

    /** An fd's entry is either for the next pass, or for the pass under way, or none (tests). */
    boolean entryValid(int fd) {
        long q = queuedFor[fd];
        return q == 0 || q == pass || q == pass + 1;
    }

    /** The live entries for the next pass, as counted (tests). */
    int liveCount() {
        return nextLive;
    }

    /**
     * Swaps the arrays and runs {@code tab.dispatch(fd)} once for each fd queued before this call.
     * Anything queued during the pass waits for the following one.
     */
    public void runPass(FdTab tab) {
        int[] work = next;
        int count = nextCount;
        next = current;
        current = work;
        nextCount = 0;
        nextLive = 0;
        long me = ++pass;
        for (int i = 0; i < count; i++) {
            int fd = work[i];
            if (queuedFor[fd] != me) {
                continue; // closed since, or a stale duplicate
            }
            queuedFor[fd] = 0;
            tab.dispatch(fd);
        }
    }
}
