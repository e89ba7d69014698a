package org.forwarder.poll;

import org.forwarder.io.Sock;
import org.forwarder.sys.Errno;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A read side that reached its end is taken out of the polled set lazily (issue 11): no
 * epoll_ctl when it stops, since the stream usually closes the fd within a pass or two; if
 * epoll reports it again first, one epoll_ctl then, and after it no more reports: no spin.
 */
class FdTabLazyStopTest {
    private final Syscalls sys = Syscalls.newInstance();
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment events = arena.allocate(Syscalls.EPOLL_EVENT_SIZE * 8, 8);
    private int epfd;
    private FdTab tab;
    private ServerSocket listener;
    private Socket peer;
    private int fd = -1;

    @BeforeEach
    void setUp() throws Exception {
        epfd = sys.epollCreate1(FdConst.EPOLL_CLOEXEC);
        tab = new FdTab(1 << 16, epfd, sys);
        listener = new ServerSocket();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4);
        fd = Sock.open(sys, SockConst.AF_INET);
        int r = Sock.connect(sys, fd, SockAddr.of(InetAddress.getLoopbackAddress(), listener.getLocalPort()));
        assertTrue(r == 0 || r == -Errno.EINPROGRESS, Errno.describe(r));
        peer = listener.accept();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (fd >= 0) sys.close(fd);
        peer.close();
        listener.close();
        sys.close(epfd);
        arena.close();
    }

    /** One epoll_wait (timeout ms): hands every event to the table, returns how many came for fd. */
    private int poll(int timeoutMs) {
        tab.flushUpdates();
        int n = sys.epollWait(epfd, events, 8, timeoutMs);
        int mine = 0;
        for (int i = 0; i < n; i++) {
            tab.onEvent(Syscalls.eventData(events, i), Syscalls.eventMask(events, i));
            if ((int) Syscalls.eventData(events, i) == fd) mine++;
        }
        return mine;
    }

    @Test
    void aReadEndStopsWithoutAnEpollCtlAndIsTakenOutOnlyIfReportedAgain() throws Exception {
        int[] runs = new int[1];
        tab.register(fd, f -> runs[0]++, false, false);
        tab.wantRecv(fd);
        assertEquals(0, poll(0), "nothing to read yet");
        long ctlPolled = tab.epollCtlCalls();
        assertEquals(1, ctlPolled, "ADD for reading");

        peer.shutdownOutput(); // the peer's FIN: the read side reaches its end
        assertEquals(1, poll(2000), "the end is reported");
        tab.stopRecvAtEnd(fd);
        tab.flushUpdates();
        assertEquals(ctlPolled, tab.epollCtlCalls(), "stopping at the end costs no epoll_ctl by itself");

        // the end stays readable (level-triggered): reported once more, then taken out, then quiet
        assertEquals(1, poll(0), "reported again while still polled");
        assertEquals(0, poll(0), "after the one update, epoll reports it no more: no spin");
        assertEquals(ctlPolled + 1, tab.epollCtlCalls(), "one epoll_ctl, only because it was reported again");
        assertEquals(0, poll(50), "still quiet");
        assertEquals(0, runs[0], "the owner is not run for a direction it stopped");
    }
}
