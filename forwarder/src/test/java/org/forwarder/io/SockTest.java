package org.forwarder.io;

import org.forwarder.sys.Errno;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;
import org.forwarder.it.Peers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Sock} on real loopback sockets, the peer being a plain JDK socket: set-up flags, a
 * non-blocking connect that succeeds or is refused (read through SO_ERROR), the half-close, and
 * the two closes as the peer sees them. Every fd the test opens is closed again.
 */
@Timeout(30)
class SockTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int WAIT_MS = 5_000;

    private final Syscalls sys = Syscalls.get();
    private final List<Integer> fds = new ArrayList<>();
    private final Arena arena = Arena.ofConfined();
    private long socketsBefore;

    @BeforeAll
    static void warmUp() throws Exception {
        Peers.warmUpJdkIo(); // the JDK keeps a socket of its own from its first socket on
    }

    @BeforeEach
    void countSockets() {
        socketsBefore = sockets();
    }

    @AfterEach
    void closeAndCount() {
        for (int fd : fds) sys.close(fd);
        arena.close();
        assertEquals(socketsBefore, sockets(), "sockets left open");
    }

    @Test
    void opensANonBlockingCloseOnExecSocketAndConnects() throws Exception {
        try (ServerSocket listener = listener()) {
            int fd = track(Sock.open(sys, SockConst.AF_INET));
            assertTrue(fd >= 0, "socket: " + Errno.describe(fd));
            String flags = fdinfoFlags(fd);
            assertTrue((Integer.parseInt(flags, 8) & FdConst.O_NONBLOCK) != 0, "not non-blocking: flags " + flags);
            assertTrue((Integer.parseInt(flags, 8) & FdConst.O_CLOEXEC) != 0, "not close-on-exec: flags " + flags);

            assertEquals(0, sys.getIntOption(fd, SockConst.IPPROTO_TCP, SockConst.TCP_NODELAY));
            assertEquals(0, Sock.noDelay(sys, fd));
            assertEquals(1, sys.getIntOption(fd, SockConst.IPPROTO_TCP, SockConst.TCP_NODELAY));

            int r = Sock.connect(sys, fd, address(listener.getLocalPort()));
            assertTrue(r == 0 || r == -Errno.EINPROGRESS, "connect: " + Errno.describe(r));
            awaitEvent(fd, FdConst.EPOLLOUT);
            assertEquals(0, Sock.pendingError(sys, fd), "a connect that succeeded leaves no error");
            try (Socket peer = listener.accept()) {
                send(fd, "hello");
                assertArrayEquals(bytes("hello"), peer.getInputStream().readNBytes(5));
            }
        }
    }

    @Test
    void aRefusedConnectIsReportedBySoErrorOnce() throws Exception {
        int port = deadPort();
        int fd = track(Sock.open(sys, SockConst.AF_INET));
        int r = Sock.connect(sys, fd, address(port));
        // on loopback the refusal comes back while connect() holds the socket: it is under way first
        assertEquals(-Errno.EINPROGRESS, r, "connect: " + Errno.describe(r));
        int ev = awaitEvent(fd, FdConst.EPOLLOUT);
        assertTrue((ev & FdConst.EPOLLERR) != 0, "epoll reports the error: events " + ev);
        assertEquals(Errno.ECONNREFUSED, Sock.pendingError(sys, fd), "SO_ERROR");
        assertEquals(0, Sock.pendingError(sys, fd), "reading SO_ERROR clears it");
        assertEquals(-Errno.EBADF, Sock.pendingError(sys, -1), "a failing getsockopt is -errno");
    }

    @Test
    void shutdownWriteGivesThePeerEndOfStreamAndKeepsTheOtherDirection() throws Exception {
        try (ServerSocket listener = listener()) {
            int fd = connected(listener);
            try (Socket peer = listener.accept()) {
                peer.setSoTimeout(WAIT_MS);
                send(fd, "last");
                assertEquals(0, Sock.shutdownWrite(sys, fd));
                InputStream in = peer.getInputStream();
                assertArrayEquals(bytes("last"), in.readNBytes(4), "bytes before the FIN arrive");
                assertEquals(-1, in.read(), "then the end of stream");

                peer.getOutputStream().write(bytes("back"));
                awaitEvent(fd, FdConst.EPOLLIN);
                MemorySegment buf = arena.allocate(16);
                assertEquals(4, sys.recv(fd, buf, 0, 16, 0), "the other direction still works");
                assertArrayEquals(bytes("back"), buf.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    @Test
    void closeWithResetResetsThePeerAndPlainCloseEndsItCleanly() throws Exception {
        try (ServerSocket listener = listener()) {
            int reset = connected(listener);
            try (Socket peer = listener.accept()) {
                peer.setSoTimeout(WAIT_MS);
                assertEquals(0, close(reset, true));
                SocketException e = assertThrows(SocketException.class, () -> peer.getInputStream().read());
                assertTrue(String.valueOf(e.getMessage()).toLowerCase().contains("connection reset"), e.toString());
            }
            int plain = connected(listener);
            try (Socket peer = listener.accept()) {
                peer.setSoTimeout(WAIT_MS);
                send(plain, "bye");
                assertEquals(0, close(plain, false));
                InputStream in = peer.getInputStream();
                assertArrayEquals(bytes("bye"), in.readNBytes(3));
                assertEquals(-1, in.read(), "a plain close is a clean end of stream");
            }
        }
    }

    @Test
    void listensAndAcceptsNonBlocking() throws Exception {
        int lfd = track(Sock.open(sys, SockConst.AF_INET));
        assertEquals(0, Sock.reuseAddress(sys, lfd));
        assertEquals(1, sys.getIntOption(lfd, SockConst.SOL_SOCKET, SockConst.SO_REUSEADDR));
        assertEquals(0, sys.bind(lfd, address(0)));
        assertEquals(0, sys.listen(lfd, 4));
        assertEquals(-Errno.EAGAIN, Sock.accept(sys, lfd), "nothing pending: no wait");
        int port = sys.getsockname(lfd).port();
        try (Socket client = new Socket()) {
            client.connect(new InetSocketAddress(LOOPBACK, port), WAIT_MS);
            awaitEvent(lfd, FdConst.EPOLLIN);
            int c = track(Sock.accept(sys, lfd));
            assertTrue(c >= 0, "accept: " + Errno.describe(c));
            int flags = Integer.parseInt(fdinfoFlags(c), 8);
            assertTrue((flags & FdConst.O_NONBLOCK) != 0 && (flags & FdConst.O_CLOEXEC) != 0, "accepted fd flags " + flags);
            assertEquals(client.getLocalPort(), sys.getpeername(c).port());
        }
    }

    // ---- helpers -----------------------------------------------------------------------------

    private int track(int fd) {
        if (fd >= 0) fds.add(fd);
        return fd;
    }

    /** Closes a tracked fd through {@link Sock#close}; it is no longer the test's to close. */
    private int close(int fd, boolean reset) {
        fds.remove(Integer.valueOf(fd));
        return Sock.close(sys, fd, reset);
    }

    private static ServerSocket listener() throws IOException {
        ServerSocket ss = new ServerSocket();
        ss.bind(new InetSocketAddress(LOOPBACK, 0), 8);
        return ss;
    }

    private static int deadPort() throws IOException {
        try (ServerSocket ss = new ServerSocket()) {
            ss.setReuseAddress(false);
            ss.bind(new InetSocketAddress(LOOPBACK, 0), 1);
            return ss.getLocalPort();
        }
    }

    private static SockAddr address(int port) {
        return SockAddr.of(LOOPBACK, port);
    }

    /** A Sock socket connected to {@code listener} (not yet accepted there). */
    private int connected(ServerSocket listener) {
        int fd = track(Sock.open(sys, SockConst.AF_INET));
        assertTrue(fd >= 0, "socket: " + Errno.describe(fd));
        int r = Sock.connect(sys, fd, address(listener.getLocalPort()));
        assertTrue(r == 0 || r == -Errno.EINPROGRESS, "connect: " + Errno.describe(r));
        awaitEvent(fd, FdConst.EPOLLOUT);
        assertEquals(0, Sock.pendingError(sys, fd));
        return fd;
    }

    private void send(int fd, String text) {
        byte[] b = bytes(text);
        MemorySegment m = arena.allocate(b.length);
        m.copyFrom(MemorySegment.ofArray(b));
        assertEquals(b.length, sys.send(fd, m, 0, b.length, SockConst.MSG_NOSIGNAL));
    }

    /** Waits (at most {@link #WAIT_MS}) for {@code events} on {@code fd} with a throwaway epoll set; returns what epoll reported. */
    private int awaitEvent(int fd, int events) {
        int ep = sys.epollCreate1(FdConst.EPOLL_CLOEXEC);
        assertTrue(ep >= 0, "epoll_create1: " + Errno.describe(ep));
        try {
            assertEquals(0, sys.epollCtl(ep, FdConst.EPOLL_CTL_ADD, fd, events, fd));
            MemorySegment out = arena.allocate(Syscalls.EPOLL_EVENT_SIZE * 4, 8);
            int n = sys.epollWait(ep, out, 4, WAIT_MS);
            assertEquals(1, n, "no event " + events + " on fd " + fd + " within " + WAIT_MS + " ms");
            return Syscalls.eventMask(out, 0);
        } finally {
            sys.close(ep);
        }
    }

    /** The open flags of {@code fd} (octal), as the kernel shows them in /proc/self/fdinfo. */
    private static String fdinfoFlags(int fd) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
            if (line.startsWith("flags:")) return line.substring(6).trim();
        }
        throw new AssertionError("no flags in /proc/self/fdinfo/" + fd);
    }

    private static long sockets() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(p -> {
                try {
                    return Files.readSymbolicLink(p).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // the listing's own fd, closed meanwhile
                }
            }).count();
        } catch (IOException e) {
            throw new AssertionError("cannot list /proc/self/fd", e);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
