package org.forwarder.poll;

import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Random sequences of what owners and epoll do to the fd table (want/stop, may/can't, detach,
 * events, register and unregister, also from inside handlers while a pass runs), with the
 * cache's invariants checked after every step:
 * <ul>
 * <li>no lost wake-up: every owned fd with an active-and-ready direction is queued for the
 *     next pass, and so is every fd with an error its owner has not yet been run for;</li>
 * <li>the pending count (what decides whether the loop sleeps) is exactly the fds queued for
 *     the next pass: an entry cancelled because it has nothing to do is not counted;</li>
 * <li>no fd is run twice in one pass.</li>
 * </ul>
 * The epoll calls themselves are stubbed: this is about the table and the cache, not the kernel.
 */
class FdCacheInvariantTest {
    private static final int MAX = 64;
    private static final int FIRST_FD = 3;
    private static final int FDS = 17;
    private static final int SEEDS = 1000;
    private static final int STEPS = 400;
    private static final int[] EVENTS = {FdTab.EPOLLIN, FdTab.EPOLLOUT, FdTab.EPOLLIN | FdTab.EPOLLOUT, FdTab.EPOLLRDHUP,
            FdTab.EPOLLHUP, FdTab.EPOLLERR | FdTab.EPOLLHUP, FdTab.EPOLLIN | FdTab.EPOLLRDHUP};

    /** epoll_ctl always succeeds: the polled set is not what is checked here. */
    private static final class NoEpoll extends Syscalls {
        @Override
        public int epollCtl(int epfd, int op, int fd, int events, long data) {
            return 0;
        }
    }

    private FdTab tab;
    private Random rnd;
    private final int[] runsThisPass = new int[MAX];
    private final boolean[] errorUnseen = new boolean[MAX];
    private final List<String> trace = new ArrayList<>();
    private boolean inHandler;
    private long seed;

    @Test
    void randomOperationsKeepTheCacheInvariants() {
        for (seed = 1; seed <= SEEDS; seed++) {
            tab = new FdTab(MAX, -1, new NoEpoll());
            rnd = new Random(seed);
            Arrays.fill(errorUnseen, false);
            trace.clear();
            for (int step = 0; step < STEPS; step++) {
                int r = rnd.nextInt(10);
                if (r == 0) {
                    Arrays.fill(runsThisPass, 0);
                    trace.add("runPass");
                    tab.cache().runPass(tab);
                } else if (r == 1) {
                    trace.add("flushUpdates");
                    tab.flushUpdates();
                } else {
                    randomOp();
                }
                check();
            }
        }
    }

    private FdHandler handler() {
        return fd -> {
            if (++runsThisPass[fd] > 1) failWith("fd " + fd + " run twice in one pass");
            trace.add("  onIo(" + fd + ")");
            errorUnseen[fd] = false;
            if (inHandler) return;
            inHandler = true;
            try {
                for (int i = rnd.nextInt(4); i > 0; i--) randomOp();
            } finally {
                inHandler = false;
            }
        };
    }

    private void randomOp() {
        int fd = FIRST_FD + rnd.nextInt(FDS);
        String indent = inHandler ? "    " : "";
        if (!tab.owned(fd)) {
            boolean readyRecv = rnd.nextBoolean();
            boolean readySend = rnd.nextBoolean();
            trace.add(indent + "register(" + fd + ", " + readyRecv + ", " + readySend + ")");
            tab.register(fd, handler(), readyRecv, readySend);
            errorUnseen[fd] = false;
            return;
        }
        String name;
        switch (rnd.nextInt(16)) {
            case 0 -> {
                name = "unregister";
                tab.unregister(fd);
                errorUnseen[fd] = false;
            }
            case 1 -> { name = "wantRecv"; tab.wantRecv(fd); }
            case 2 -> { name = "stopRecv"; tab.stopRecv(fd); }
            case 3 -> { name = "stopRecvAtEnd"; tab.stopRecvAtEnd(fd); }
            case 4 -> { name = "wantSend"; tab.wantSend(fd); }
            case 5 -> { name = "stopSend"; tab.stopSend(fd); }
            case 6 -> { name = "mayRecv"; tab.mayRecv(fd); }
            case 7 -> { name = "cantRecv"; tab.cantRecv(fd); }
            case 8 -> { name = "maySend"; tab.maySend(fd); }
            case 9 -> { name = "cantSend"; tab.cantSend(fd); }
            case 10 -> {
                name = "detach";
                if (rnd.nextInt(4) == 0) tab.detach(fd);
            }
            case 11 -> {
                name = "clearEvents";
                tab.clearEvents(fd);
                errorUnseen[fd] = false;
            }
            case 12 -> { name = "watchErrors"; tab.watchErrors(fd); }
            default -> {
                int events = EVENTS[rnd.nextInt(EVENTS.length)];
                name = "onEvent(0x" + Integer.toHexString(events) + ")";
                tab.onEvent(((long) tab.generation(fd) << 32) | fd, events);
                if ((events & FdTab.EPOLLERR) != 0) errorUnseen[fd] = true;
            }
        }
        trace.add(indent + name + "(" + fd + ") -> state 0x" + Integer.toHexString(tab.state(fd)));
    }

    private static boolean hasWork(int s) {
        return (s & (FdTab.ACTIVE_R | FdTab.READY_R)) == (FdTab.ACTIVE_R | FdTab.READY_R)
                || (s & (FdTab.ACTIVE_W | FdTab.READY_W)) == (FdTab.ACTIVE_W | FdTab.READY_W);
    }

    private void check() {
        FdCache cache = tab.cache();
        int queued = 0;
        for (int fd = 0; fd < MAX; fd++) {
            boolean next = cache.queuedForNext(fd);
            if (next) queued++;
            if (!cache.entryValid(fd)) failWith("fd " + fd + ": an entry for neither this pass nor the next");
            if (tab.owned(fd) && hasWork(tab.state(fd)) && !next) {
                failWith("lost wake-up: fd " + fd + " (state 0x" + Integer.toHexString(tab.state(fd)) + ") has work but is not queued");
            }
            if (errorUnseen[fd] && !next) failWith("lost error: fd " + fd + " got EPOLLERR and is not queued");
        }
        if (cache.liveCount() != queued) failWith("pending count " + cache.liveCount() + " but " + queued + " fds queued");
        if (cache.hasPending() != (queued > 0)) failWith("hasPending() " + cache.hasPending() + " with " + queued + " queued");
    }

    private void failWith(String what) {
        fail("seed " + seed + ": " + what + "\n  " + String.join("\n  ", trace));
    }
}
