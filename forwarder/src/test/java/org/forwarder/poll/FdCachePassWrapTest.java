package org.forwarder.poll;

import org.forwarder.poll.FdCache;
import org.forwarder.poll.FdTab;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.reflect.Field;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * FdCache numbers its passes and uses 0 in queuedFor[] for "not queued". With an int counter,
 * after 2^32 passes (hours to days of a busy loop) pass + 1 became 0: add() then took every
 * unqueued fd for one already queued and dropped it, and a ready, active, unpolled fd never ran
 * again. The counter is 64-bit now; this moves it to where 32 bits would have wrapped (by
 * reflection, nothing else touched) and checks a busy fd keeps running once per pass.
 */
class FdCachePassWrapTest {
    @Test
    @Timeout(10)
    void aReadyActiveFdKeepsRunningAcrossThePassCounterWrap() throws Exception {
        Syscalls sys = Syscalls.newInstance();
        int epfd = sys.epollCreate1(FdConst.EPOLL_CLOEXEC);
        assertTrue(epfd >= 0);
        try {
            FdTab tab = new FdTab(1024, epfd, sys);
            int fd = 100; // never reaches a syscall: the cache alone is under test
            int[] runs = new int[1];
            // a busy stream: it makes progress each time and stays ready and active
            tab.register(fd, f -> runs[0]++, true, true);
            Field pass = FdCache.class.getDeclaredField("pass");
            pass.setAccessible(true);
            pass.setLong(tab.cache(), (1L << 32) - 5); // an int would have wrapped through -1 here
            tab.wantRecv(fd);
            int passes = 10;
            for (int i = 0; i < passes; i++) {
                tab.cache().runPass(tab);
            }
            assertEquals(passes, runs[0], "a ready, active fd must run once per pass; it stopped when the pass "
                    + "counter crossed 2^32 (now " + pass.getLong(tab.cache()) + ") and is no longer in the cache ("
                    + "hasPending=" + tab.cache().hasPending() + ")");
        } finally {
            sys.close(epfd);
        }
    }
}
