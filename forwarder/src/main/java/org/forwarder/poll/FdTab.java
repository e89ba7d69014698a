package org.forwarder.poll;

import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;

/**
 * Per-fd polling state for one poller: for each direction, ACTIVE (we want I/O) and READY (no
 * EAGAIN since the last event), plus what epoll currently holds for it.
 *
 * <p>Rules, per direction:
 * <ul>
 * <li>not active: epoll need not report it;</li>
 * <li>active and not ready: epoll must report it;</li>
 * <li>active and ready: the fd is in the {@link FdCache}; epoll keeps whatever it had, so an fd
 *     that flips between ready and not ready while streaming costs no epoll_ctl.</li>
 * </ul>
 * Changes are queued and applied in one batch right before epoll_wait; an fd whose wanted state
 * ends where it started costs nothing. New fds start ready, so their first I/O is tried before
 * any epoll_ctl. A generation number in epoll's data drops events for a closed, reused fd number.
 */
public final class FdTab {
    public static final int ACTIVE_R = 1;
    public static final int READY_R = 2;
    public static final int ACTIVE_W = 4;
    public static final int READY_W = 8;
    private static final int POLLED_R = 16;
    private static final int POLLED_W = 32;
    private static final int REGISTERED = 64;
    private static final int IN_UPDATE = 128;
    /** Keep the fd in epoll even with nothing wanted, to hear of errors. */
    private static final int WATCH_ERRORS = 2048;
    /**
     * Out of epoll for good, always read-ready: a socket whose peer reset it is in its final state
     * (its queued bytes, then the error, then 0), so it is drained from the cache without polling,
     * and its level-triggered error cannot make the loop spin while the bytes wait for room.
     */
    private static final int DETACHED = 4096;
    /** epoll reported EPOLLIN since the last EAGAIN: the socket claims to hold bytes. */
    private static final int EV_IN = 8192;
    /** epoll reported an error: the owner must close the fd. */
    public static final int EV_ERR = 256;
    /** epoll reported a hang-up (both directions closed, or reset). */
    public static final int EV_HUP = 512;
    /** The peer shut its write side: once the socket is drained, the next recv would return 0. */
    public static final int EV_RDHUP = 1024;

    static final int EPOLLIN = FdConst.EPOLLIN;
    static final int EPOLLOUT = FdConst.EPOLLOUT;
    static final int EPOLLERR = FdConst.EPOLLERR;
    static final int EPOLLHUP = FdConst.EPOLLHUP;
    static final int EPOLLRDHUP = FdConst.EPOLLRDHUP;
    private static final int CTL_ADD = FdConst.EPOLL_CTL_ADD;
    private static final int CTL_MOD = FdConst.EPOLL_CTL_MOD;
    private static final int CTL_DEL = FdConst.EPOLL_CTL_DEL;

    private final int[] state;
    private final int[] gen;
    private final FdHandler[] owner;
    private int[] updates;
    private int updateCount;
    private final FdCache cache;
    private final Syscalls sys;
    private final int epfd;
    private long epollCtlCalls;

    public FdTab(int maxFds, int epfd, Syscalls sys) {
        this.state = new int[maxFds];
        this.gen = new int[maxFds];
        this.owner = new FdHandler[maxFds];
        this.updates = new int[maxFds];
        this.cache = new FdCache(maxFds);
        this.epfd = epfd;
        this.sys = sys;
    }

    public int capacity() {
        return state.length;
    }

    /** Whether {@code fd} has an owner (tests). */
    boolean owned(int fd) {
        return owner[fd] != null;
    }

    /** The generation epoll's data carries for {@code fd} (tests). */
    int generation(int fd) {
        return gen[fd];
    }

    public FdCache cache() {
        return cache;
    }

    public long epollCtlCalls() {
        return epollCtlCalls;
    }

    /** Takes ownership of {@code fd}. Both directions start ready unless told otherwise. */
    public void register(int fd, FdHandler handler, boolean readyRecv, boolean readySend) {
        if (fd >= state.length) {
            throw new IllegalStateException("fd " + fd + " is beyond the fd table (" + state.length + ")");
        }
        owner[fd] = handler;
        gen[fd]++;
        state[fd] = (readyRecv ? READY_R : 0) | (readySend ? READY_W : 0);
        cache.remove(fd);
    }

    /** Forgets {@code fd}; call right before close(), which also removes it from epoll. */
    public void unregister(int fd) {
        owner[fd] = null;
        state[fd] = 0;
        gen[fd]++;
        cache.remove(fd);
    }

    public int state(int fd) {
        return state[fd];
    }

    public boolean recvReady(int fd) {
        return (state[fd] & READY_R) != 0;
    }

    public boolean sendReady(int fd) {
        return (state[fd] & READY_W) != 0;
    }

    public boolean peerShutWrite(int fd) {
        return (state[fd] & EV_RDHUP) != 0;
    }

    // ---- what the owner wants ------------------------------------------------------------

    public void wantRecv(int fd) {
        int s = state[fd];
        if ((s & ACTIVE_R) != 0) return;
        s |= ACTIVE_R;
        state[fd] = s;
        queueUpdate(fd);
        if ((s & READY_R) != 0) cache.add(fd);
    }

    public void stopRecv(int fd) {
        int s = state[fd];
        if ((s & ACTIVE_R) == 0) return;
        s &= ~ACTIVE_R;
        state[fd] = s;
        queueUpdate(fd);
        idle(fd, s);
    }

    /**
     * src read its end (recv returned 0): it will not be read again. epoll is not told at once:
     * the stream usually ends within a pass or two, and close() takes the fd out of epoll
     * anyway, so the epoll_ctl that would stop the polling is saved (one per connection, as
     * HAProxy, which updates its polled set lazily too). If epoll reports the fd again before
     * that (a read end stays readable: level-triggered), {@link #onEvent} queues the update then,
     * so an fd that stays open half-closed costs one wake-up at most, never a spin.
     */
    public void stopRecvAtEnd(int fd) {
        int s = state[fd];
        if ((s & ACTIVE_R) == 0) return;
        s &= ~ACTIVE_R;
        state[fd] = s;
        if ((s & POLLED_R) == 0) queueUpdate(fd);
        idle(fd, s);
    }

    public void wantSend(int fd) {
        int s = state[fd];
        if ((s & ACTIVE_W) != 0) return;
        s |= ACTIVE_W;
        state[fd] = s;
        queueUpdate(fd);
        if ((s & READY_W) != 0) cache.add(fd);
    }

    public void stopSend(int fd) {
        int s = state[fd];
        if ((s & ACTIVE_W) == 0) return;
        s &= ~ACTIVE_W;
        state[fd] = s;
        queueUpdate(fd);
        idle(fd, s);
    }

    /**
     * Have epoll report errors on {@code fd} even while no I/O is wanted (an empty event mask
     * still reports EPOLLERR/EPOLLHUP): e.g. a client waiting in a queue that resets.
     */
    public void watchErrors(int fd) {
        state[fd] |= WATCH_ERRORS;
        queueUpdate(fd);
    }

    // ---- what the socket told us ---------------------------------------------------------

    /**
     * Takes {@code fd} out of epoll for good and keeps it read-ready (see {@link #DETACHED}): for a
     * socket whose peer reset it, whose remaining bytes are read as room allows.
     */
    public void detach(int fd) {
        state[fd] |= DETACHED;
        queueUpdate(fd);
        mayRecv(fd); // no event will ever come for it again
    }

    /** Whether epoll said "readable" since the last EAGAIN (see {@link #EV_IN}). */
    public boolean inEvent(int fd) {
        return (state[fd] & EV_IN) != 0;
    }

    /** Bytes were taken since epoll said "readable": its word is used up. */
    public void inEventConsumed(int fd) {
        state[fd] &= ~EV_IN;
    }

    /** The next recv must be tried, e.g. after a short read that may have stopped at an urgent mark. */
    public void mayRecv(int fd) {
        int s = state[fd] | READY_R;
        state[fd] = s;
        if ((s & ACTIVE_R) != 0) cache.add(fd);
    }

    /** EAGAIN or a short read: nothing more to read until epoll says so. */
    public void cantRecv(int fd) {
        if ((state[fd] & DETACHED) != 0) return; // a reset socket never blocks: it ends in 0
        int s = state[fd] & ~(READY_R | EV_IN);
        state[fd] = s;
        if ((s & (ACTIVE_R | POLLED_R)) == ACTIVE_R) queueUpdate(fd);
        idle(fd, s);
    }

    /** EAGAIN or a short write: no room until epoll says so. */
    public void cantSend(int fd) {
        int s = state[fd] & ~READY_W;
        state[fd] = s;
        if ((s & (ACTIVE_W | POLLED_W)) == ACTIVE_W) queueUpdate(fd);
        idle(fd, s);
    }

    /** The fd can be written without polling first. */
    public void maySend(int fd) {
        int s = state[fd] | READY_W;
        state[fd] = s;
        if ((s & ACTIVE_W) != 0) cache.add(fd);
    }

    /** Clears the sticky error/hang-up marks (e.g. a new connect attempt on a fresh fd). */
    public void clearEvents(int fd) {
        state[fd] &= ~(EV_ERR | EV_HUP | EV_RDHUP);
    }

    private void queueUpdate(int fd) {
        int s = state[fd];
        if ((s & IN_UPDATE) == 0) {
            state[fd] = s | IN_UPDATE;
            if (updateCount == updates.length) {
                // an fd closed and reused within a pass can stand twice (harmless, applied once)
                updates = java.util.Arrays.copyOf(updates, updates.length * 2);
            }
            updates[updateCount++] = fd;
        }
    }

    // ---- the poller's side ---------------------------------------------------------------

    /** Applies the queued polling changes: one epoll_ctl per fd whose polled set really changed. */
    public void flushUpdates() {
        int n = updateCount;
        updateCount = 0;
        for (int i = 0; i < n; i++) {
            int fd = updates[i];
            int s = state[fd];
            if ((s & IN_UPDATE) == 0) continue; // unregistered since
            s &= ~IN_UPDATE;
            if (owner[fd] == null) {
                state[fd] = s;
                continue;
            }
            if ((s & DETACHED) != 0) {
                if ((s & REGISTERED) != 0) ctl(CTL_DEL, fd, 0);
                state[fd] = s & ~(REGISTERED | POLLED_R | POLLED_W);
                continue;
            }
            boolean pollR = wantsPoll(s, ACTIVE_R, READY_R, POLLED_R);
            boolean pollW = wantsPoll(s, ACTIVE_W, READY_W, POLLED_W);
            int next = (s & ~(POLLED_R | POLLED_W)) | (pollR ? POLLED_R : 0) | (pollW ? POLLED_W : 0);
            if (!pollR && !pollW && (s & (REGISTERED | EV_HUP)) == (REGISTERED | EV_HUP)) {
                // a hang-up is reported whatever the mask: stop hearing it until we act on it;
                // READY stays set, so the owner finds it when it wants I/O again
                ctl(CTL_DEL, fd, 0);
                next &= ~REGISTERED;
            } else if (!pollR && !pollW && (s & (REGISTERED | WATCH_ERRORS | EV_HUP)) == WATCH_ERRORS) {
                ctl(CTL_ADD, fd, 0);
                next |= REGISTERED;
            } else if (next != s) {
                int events = (pollR ? EPOLLIN | EPOLLRDHUP : 0) | (pollW ? EPOLLOUT : 0);
                if ((s & REGISTERED) == 0) {
                    if (events != 0) {
                        ctl(CTL_ADD, fd, events);
                        next |= REGISTERED;
                    }
                } else {
                    // with an empty mask epoll still reports errors, which the owner must see
                    ctl(CTL_MOD, fd, events);
                }
            }
            state[fd] = next;
        }
    }

    private static boolean wantsPoll(int s, int active, int ready, int polled) {
        if ((s & active) == 0) return false;
        if ((s & ready) == 0) return true;
        return (s & polled) != 0; // active and ready: keep what epoll has
    }

    private void ctl(int op, int fd, int events) {
        epollCtlCalls++;
        int r = sys.epollCtl(epfd, op, fd, events, ((long) gen[fd] << 32) | fd);
        if (r < 0) {
            throw new IllegalStateException("epoll_ctl(" + op + ", fd " + fd + "): " + org.forwarder.sys.Errno.describe(r));
        }
    }

    /** Records one epoll event; queues the fd when it now has work. */
    public void onEvent(long data, int events) {
        int fd = (int) data;
        if (fd < 0 || fd >= state.length || gen[fd] != (int) (data >>> 32) || owner[fd] == null) {
            return; // an fd closed (and maybe reused) since it was armed
        }
        int s = state[fd];
        if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0) s |= READY_R;
        if ((events & EPOLLIN) != 0) s |= EV_IN;
        if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) s |= READY_W;
        if ((events & EPOLLRDHUP) != 0) s |= EV_RDHUP;
        if ((events & EPOLLHUP) != 0) s |= EV_HUP;
        if ((events & EPOLLERR) != 0) s |= EV_ERR;
        state[fd] = s;
        if ((s & EV_ERR) != 0 || hasWork(s)) {
            cache.add(fd);
        } else if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 && (s & (POLLED_R | ACTIVE_R)) == POLLED_R) {
            // stopped lazily (stopRecvAtEnd) and reported again: now take it out of the polled set
            queueUpdate(fd);
        } else if ((events & EPOLLHUP) != 0 && (s & REGISTERED) != 0) {
            // a hang-up on an fd nobody is waiting on would be reported on every epoll_wait:
            // drop it from epoll; the owner finds READY set when it wants to read again
            queueUpdate(fd);
        }
    }

    /**
     * {@code fd} lost its last active-and-ready direction: a cache entry for the next pass would
     * find nothing to do ({@link #dispatch}), so it is dropped and does not keep the loop from
     * sleeping. An error still to be reported keeps it.
     */
    private void idle(int fd, int s) {
        if (nothingToDispatch(s)) cache.cancel(fd);
    }

    /**
     * Neither an error to report nor an active-and-ready direction: what {@link #dispatch} skips,
     * and so what {@link #idle} may cancel (one test for both, so they cannot drift apart).
     */
    private static boolean nothingToDispatch(int s) {
        return (s & EV_ERR) == 0 && !hasWork(s);
    }

    private static boolean hasWork(int s) {
        return (s & (ACTIVE_R | READY_R)) == (ACTIVE_R | READY_R)
                || (s & (ACTIVE_W | READY_W)) == (ACTIVE_W | READY_W);
    }

    /** Runs the owner of {@code fd}; if it leaves work behind, offers the fd again next pass. */
    void dispatch(int fd) {
        FdHandler h = owner[fd];
        if (h == null) return;
        int s = state[fd];
        if (nothingToDispatch(s)) return; // stopped or drained since it was queued
        h.onIo(fd);
        if (owner[fd] == h && hasWork(state[fd])) {
            cache.add(fd);
        }
    }
}
