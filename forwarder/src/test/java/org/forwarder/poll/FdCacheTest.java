package org.forwarder.poll;

import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fd cache on its own, driven the way the seed 000 livelock was: fds that stop and restart
 * each other while the cache is being walked. With one shared array they could swap places and
 * be skipped forever; with current/next arrays every queued fd runs exactly once per pass.
 */
class FdCacheTest {
    private Syscalls sys;
    private int epfd;
    private FdTab tab;

    @BeforeEach
    void setUp() {
        sys = Syscalls.newInstance();
        epfd = sys.epollCreate1(FdConst.EPOLL_CLOEXEC);
        assertTrue(epfd >= 0);
        tab = new FdTab(1024, epfd, sys);
    }

    @AfterEach
    void tearDown() {
        sys.close(epfd);
    }

    @Test
    void twoFdsThatKeepReArmingEachOtherBothProgressEveryPass() {
        int a = 100;
        int b = 101;
        int[] progress = new int[2];
        List<Integer> order = new ArrayList<>();
        // each handler stops its own receive side and wakes the other one, as two channels whose
        // pipes fill up would: "stopped for receiving, then woken for receiving"
        tab.register(a, fd -> {
            progress[0]++;
            order.add(fd);
            tab.stopRecv(a);
            tab.stopRecv(b);
            tab.wantRecv(b);
            tab.wantRecv(a);
        }, true, true);
        tab.register(b, fd -> {
            progress[1]++;
            order.add(fd);
            tab.stopRecv(b);
            tab.stopRecv(a);
            tab.wantRecv(a);
            tab.wantRecv(b);
        }, true, true);
        tab.wantRecv(a);
        tab.wantRecv(b);
        for (int pass = 1; pass <= 1000; pass++) {
            order.clear();
            tab.cache().runPass(tab);
            assertEquals(pass, progress[0], "fd a must run once in every pass");
            assertEquals(pass, progress[1], "fd b must run once in every pass");
            assertEquals(2, order.size(), "each fd at most once per pass");
        }
    }

    @Test
    void anFdQueuedDuringAPassWaitsForTheNextPass() {
        int a = 10;
        int b = 11;
        int[] runs = new int[2];
        tab.register(b, fd -> runs[1]++, true, true);
        tab.register(a, fd -> {
            runs[0]++;
            tab.wantRecv(b); // b becomes ready-and-active while the pass runs
        }, true, true);
        tab.wantRecv(a);
        tab.cache().runPass(tab);
        assertEquals(1, runs[0]);
        assertEquals(0, runs[1], "b was queued during the pass: not in this one");
        tab.stopRecv(a);
        tab.cache().runPass(tab);
        assertEquals(1, runs[1], "b runs in the next pass");
        assertEquals(1, runs[0], "a was stopped");
    }

    @Test
    void aHandlerThatLeavesWorkIsOfferedAgainButOncePerPass() {
        int a = 5;
        int[] runs = new int[1];
        tab.register(a, fd -> runs[0]++, true, true); // stays ready and active: e.g. a batch limit
        tab.wantRecv(a);
        for (int i = 1; i <= 10; i++) {
            tab.cache().runPass(tab);
            assertEquals(i, runs[0]);
        }
        tab.cantRecv(a); // EAGAIN: now it waits for epoll
        tab.cache().runPass(tab);
        assertEquals(10, runs[0]);
        assertTrue(!tab.cache().hasPending());
    }

    @Test
    void aClosedAndReusedFdNumberRunsOnlyItsNewOwner() {
        int fd = 7;
        int[] runs = new int[2];
        tab.register(fd, x -> runs[0]++, true, true);
        tab.wantRecv(fd);
        tab.unregister(fd); // closed while queued
        tab.register(fd, x -> runs[1]++, true, true);
        tab.wantRecv(fd);
        tab.cache().runPass(tab);
        assertEquals(0, runs[0]);
        assertEquals(1, runs[1]);
    }

    @Test
    void stopAndRestartWithinOnePassCostsNoEpollCtl() {
        long[] fds = new long[1];
        fds[0] = sys.pipe2(FdConst.O_NONBLOCK | FdConst.O_CLOEXEC);
        int r = (int) fds[0];
        int w = (int) (fds[0] >>> 32);
        try {
            tab.register(r, x -> { }, false, false);
            tab.wantRecv(r);
            tab.flushUpdates();
            assertEquals(1, tab.epollCtlCalls(), "active and not ready: polled once");
            tab.stopRecv(r);
            tab.wantRecv(r);
            tab.flushUpdates();
            assertEquals(1, tab.epollCtlCalls(), "ended where it started: no epoll_ctl");
            tab.stopRecv(r);
            tab.flushUpdates();
            assertEquals(2, tab.epollCtlCalls());
        } finally {
            tab.unregister(r);
            sys.close(r);
            sys.close(w);
        }
    }

    @Test
    void eventsForAnOldGenerationAreDropped() {
        int fd = 9;
        int[] runs = new int[1];
        tab.register(fd, x -> runs[0]++, false, false);
        tab.wantRecv(fd);
        tab.onEvent((1L << 32) | fd, FdTab.EPOLLIN); // armed by this owner (generation 1)
        assertTrue(tab.cache().hasPending(), "current generation is accepted");
        tab.cache().runPass(tab);
        assertEquals(1, runs[0]);
        tab.cantRecv(fd);
        tab.unregister(fd);
        tab.register(fd, x -> runs[0] += 100, false, false);
        tab.wantRecv(fd);
        tab.onEvent((1L << 32) | fd, FdTab.EPOLLIN); // generation 1 belonged to the old owner
        tab.cache().runPass(tab);
        assertEquals(1, runs[0], "a stale event must not reach the new owner");
    }

    /**
     * A new connection's client fd is queued when its reading starts (it was registered ready)
     * and read at once by its owner, which drains it: the queued entry has nothing left to do
     * and must not keep the loop from sleeping (an empty epoll_wait with timeout 0 per
     * connection before the cancel). Work that comes back queues it again, and it runs once.
     */
    @Test
    void anFdDrainedBeforeItsTurnNoLongerCountsAsPending() {
        int fd = 12;
        int[] runs = new int[1];
        tab.register(fd, x -> runs[0]++, true, false);
        tab.wantRecv(fd);
        assertTrue(tab.cache().hasPending(), "ready and now active: queued");
        tab.cantRecv(fd); // the owner read it right away, to EAGAIN or a short read
        assertFalse(tab.cache().hasPending(), "nothing left to do: the loop may sleep");
        tab.cache().runPass(tab);
        assertEquals(0, runs[0]);

        tab.mayRecv(fd);
        tab.cantRecv(fd);
        tab.mayRecv(fd); // queued, cancelled, queued again: one entry counts, it runs once
        assertTrue(tab.cache().hasPending());
        tab.cache().runPass(tab);
        assertEquals(1, runs[0]);
        assertTrue(tab.cache().hasPending(), "still ready after its run (the owner did not drain it): queued again");
        tab.stopRecv(fd);
        assertFalse(tab.cache().hasPending(), "stopped: nothing to do");

        // the same for sending
        int out = 13;
        tab.register(out, x -> runs[0] += 10, false, true);
        tab.wantSend(out);
        assertTrue(tab.cache().hasPending());
        tab.cantSend(out);
        assertFalse(tab.cache().hasPending());
        tab.maySend(out);
        tab.stopSend(out);
        assertFalse(tab.cache().hasPending());
        tab.maySend(out);
        tab.unregister(out);
        assertFalse(tab.cache().hasPending(), "closed: its entry is gone");
        tab.cache().runPass(tab);
        assertEquals(1, runs[0]);
    }

    /** An error still to be reported keeps the fd queued even with no direction ready. */
    @Test
    void anErrorKeepsItsEntry() {
        int fd = 14;
        int[] runs = new int[1];
        tab.register(fd, x -> runs[0]++, false, false);
        tab.wantRecv(fd);
        tab.onEvent((1L << 32) | fd, FdTab.EPOLLERR);
        tab.cantRecv(fd);
        tab.cantSend(fd);
        assertTrue(tab.cache().hasPending(), "the owner must still hear of the error");
        tab.cache().runPass(tab);
        assertEquals(1, runs[0]);
    }
}
