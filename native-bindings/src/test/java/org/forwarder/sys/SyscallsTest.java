package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link Syscalls} on real descriptors, over 127.0.0.1 only. Every test closes what it opens
 * ({@link FdLeakCheck} verifies /proc/self/fd), and every wait is bounded: epoll_wait always has a
 * timeout, loops have an iteration cap and a deadline.
 */
@ExtendWith(FdLeakCheck.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SyscallsTest {
    private static final int AF_INET = Linux.AF_INET();
    private static final int SOCK_STREAM = Linux.SOCK_STREAM();
    private static final int SOCK_NONBLOCK = Linux.SOCK_NONBLOCK();
    private static final int SOCK_CLOEXEC = Linux.SOCK_CLOEXEC();
    private static final int SOL_SOCKET = Linux.SOL_SOCKET();
    private static final int SO_ERROR = Linux.SO_ERROR();
    private static final int EPOLLIN = Linux.EPOLLIN();
    private static final int EPOLLOUT = Linux.EPOLLOUT();
    private static final int EPOLLERR = Linux.EPOLLERR();
    private static final int EPOLLHUP = Linux.EPOLLHUP();
    private static final int EPOLLRDHUP = Linux.EPOLLRDHUP();
    private static final int EPOLLET = Linux.EPOLLET();
    private static final int ADD = Linux.EPOLL_CTL_ADD();
    private static final int MOD = Linux.EPOLL_CTL_MOD();
    private static final int DEL = Linux.EPOLL_CTL_DEL();
    private static final int MSG_NOSIGNAL = Linux.MSG_NOSIGNAL();
    private static final int O_CLOEXEC = Linux.O_CLOEXEC();
    private static final int O_NONBLOCK = Linux.O_NONBLOCK();

    /** No single wait or transfer in these tests may take longer. */
    private static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final int MAX_EVENTS = 16;

    private Syscalls sys;
    private Arena arena;
    private MemorySegment events;
    private final List<Integer> open = new ArrayList<>();

    @BeforeEach
    void setUp() {
        sys = Syscalls.get();
        arena = Arena.ofConfined();
        events = arena.allocate(MAX_EVENTS * Syscalls.EPOLL_EVENT_SIZE, 8);
    }

    /** Closes whatever a failed test left open; a passing test has closed everything itself. */
    @AfterEach
    void tearDown() {
        List<String> errors = new ArrayList<>();
        for (int fd : List.copyOf(open)) {
            int r = sys.close(fd);
            if (r != 0) errors.add("close(" + fd + "): " + Errno.describe(r));
        }
        open.clear();
        arena.close();
        assertTrue(errors.isEmpty(), errors::toString);
    }

    // ---- pipes ------------------------------------------------------------------------------------

    @Test
    void pipe2RoundTripWithNonBlockAndCloexecFlags() throws IOException {
        long p = sys.pipe2(O_NONBLOCK | O_CLOEXEC);
        assertTrue(p >= 0, () -> "pipe2: " + Errno.describe((int) p));
        int rd = track((int) p);
        int wr = track((int) (p >>> 32));
        assertNotEquals(rd, wr);

        for (int fd : new int[] {rd, wr}) {
            int fl = check("fcntl(F_GETFL)", sys.fcntl(fd, Linux.F_GETFL(), 0));
            assertTrue((fl & O_NONBLOCK) != 0, "O_NONBLOCK not set on pipe fd " + fd + ": flags 0x" + Integer.toHexString(fl));
            assertTrue((fdinfoFlags(fd) & O_CLOEXEC) != 0, "O_CLOEXEC not set on pipe fd " + fd);
        }

        MemorySegment buf = arena.allocate(4096);
        assertEquals(-Errno.EAGAIN, sys.read(rd, buf, 0, buf.byteSize()), "read from an empty non-blocking pipe");

        byte[] msg = "through the pipe \u00e9\u00e8 \u2603".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        MemorySegment.copy(msg, 0, buf, ValueLayout.JAVA_BYTE, 100, msg.length);
        assertEquals(msg.length, sys.write(wr, buf, 100, msg.length));
        MemorySegment in = arena.allocate(4096);
        assertEquals(msg.length, sys.read(rd, in, 7, 4096 - 7));
        assertArrayEquals(msg, in.asSlice(7, msg.length).toArray(ValueLayout.JAVA_BYTE));

        // F_SETFL: clear and set O_NONBLOCK again.
        int fl = sys.fcntl(rd, Linux.F_GETFL(), 0);
        assertEquals(0, sys.fcntl(rd, Linux.F_SETFL(), fl & ~O_NONBLOCK));
        assertEquals(0, sys.fcntl(rd, Linux.F_GETFL(), 0) & O_NONBLOCK);
        assertEquals(0, sys.fcntl(rd, Linux.F_SETFL(), fl));
        assertTrue((sys.fcntl(rd, Linux.F_GETFL(), 0) & O_NONBLOCK) != 0);

        closeFd(wr);
        assertEquals(0, sys.read(rd, in, 0, 4096), "read after the write end closed is EOF");
        closeFd(rd);
    }

    @Test
    void pipeSizeCanBeSetAndRead() {
        long p = sys.pipe2(O_NONBLOCK | O_CLOEXEC);
        assertTrue(p >= 0);
        int rd = track((int) p);
        int wr = track((int) (p >>> 32));

        int initial = check("F_GETPIPE_SZ", sys.fcntl(wr, Linux.F_GETPIPE_SZ(), 0));
        assertTrue(initial >= 4096, "default pipe size " + initial);
        int wanted = 256 * 1024; // below the unprivileged default of /proc/sys/fs/pipe-max-size (1 MiB)
        int set = check("F_SETPIPE_SZ", sys.fcntl(wr, Linux.F_SETPIPE_SZ(), wanted));
        assertTrue(set >= wanted, "F_SETPIPE_SZ returned " + set);
        assertEquals(set, sys.fcntl(rd, Linux.F_GETPIPE_SZ(), 0), "both ends see the new size");

        // The pipe now takes exactly that much in page-sized writes, then says EAGAIN.
        MemorySegment page = arena.allocate(4096);
        long total = 0;
        for (int i = 0; i < set / 4096 + 2; i++) {
            long n = sys.write(wr, page, 0, 4096);
            if (n == -Errno.EAGAIN) break;
            assertTrue(n > 0, "write: " + Errno.describe((int) n));
            total += n;
        }
        assertEquals(set, total, "bytes a full pipe holds");
        closeFd(rd);
        closeFd(wr);
    }

    // ---- TCP over loopback ----------------------------------------------------------------------

    @Test
    void loopbackConnectionMovesOneMebibyteEachWayIntact() throws Exception {
        Conn c = connect();

        // Addresses: the listener's, the two ends' (each one's name is the other's peer).
        assertEquals(InetAddress.ofLiteral("127.0.0.1"), c.listenAddr.address());
        assertTrue(c.listenAddr.port() > 0, "kernel chose port " + c.listenAddr.port());
        assertEquals(AF_INET, c.listenAddr.family());
        assertEquals(c.listenAddr, sys.getpeername(c.client), "client's peer is the listener's address");
        assertEquals(c.listenAddr, sys.getsockname(c.server), "accepted socket has the listener's address");
        assertEquals(sys.getsockname(c.client), sys.getpeername(c.server), "server's peer is the client");
        assertNotEquals(c.listenAddr.port(), sys.getsockname(c.client).port());

        // accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) gave those flags.
        assertTrue((sys.fcntl(c.server, Linux.F_GETFL(), 0) & O_NONBLOCK) != 0, "accepted socket not non-blocking");
        assertTrue((fdinfoFlags(c.server) & O_CLOEXEC) != 0, "accepted socket not close-on-exec");
        assertTrue((fdinfoFlags(c.client) & O_CLOEXEC) != 0, "socket(SOCK_CLOEXEC) not close-on-exec");

        // Options.
        assertEquals(0, sys.setIntOption(c.client, Linux.IPPROTO_TCP(), Linux.TCP_NODELAY(), 1));
        assertEquals(1, sys.getIntOption(c.client, Linux.IPPROTO_TCP(), Linux.TCP_NODELAY()));
        assertEquals(0, sys.setIntOption(c.client, SOL_SOCKET, Linux.SO_KEEPALIVE(), 1));
        assertEquals(1, sys.getIntOption(c.client, SOL_SOCKET, Linux.SO_KEEPALIVE()));
        assertTrue(sys.getIntOption(c.client, SOL_SOCKET, Linux.SO_SNDBUF()) > 0);
        assertTrue(sys.getIntOption(c.client, SOL_SOCKET, Linux.SO_RCVBUF()) > 0);

        int size = 1 << 20;
        MemorySegment clientOut = random(size, 1);
        MemorySegment serverOut = random(size, 2);
        MemorySegment serverIn = arena.allocate(size);
        MemorySegment clientIn = arena.allocate(size);
        Flow up = new Flow(c.client, clientOut, c.server, serverIn);
        Flow down = new Flow(c.server, serverOut, c.client, clientIn);
        pump(new int[] {c.client, c.server}, () -> up.done() && down.done(), up::step, down::step);

        assertEquals(sha256(clientOut), sha256(serverIn), "client -> server bytes differ");
        assertEquals(sha256(serverOut), sha256(clientIn), "server -> client bytes differ");
        c.close();
    }

    @Test
    void splicesFourMebibytesSocketToPipeToSocket() throws Exception {
        Conn in = connect();   // in.client --data--> in.server
        Conn out = connect();  // splice in.server -> pipe -> out.client --> out.server
        long p = sys.pipe2(O_NONBLOCK | O_CLOEXEC);
        assertTrue(p >= 0);
        int pr = track((int) p);
        int pw = track((int) (p >>> 32));

        int size = 4 << 20;
        int flags = Linux.SPLICE_F_MOVE() | Linux.SPLICE_F_NONBLOCK();
        MemorySegment src = random(size, 3);
        MemorySegment dst = arena.allocate(size);
        MemorySegment oneByte = arena.allocate(1);
        long[] s = new long[5]; // 0 sent, 1 in pipe, 2 spliced out, 3 received, 4 state bits
        final int SRC_SHUT = 1, IN_EOF = 2, OUT_SHUT = 4, DST_EOF = 8;

        pump(new int[] {in.client, in.server, out.client, out.server, pr, pw},
                () -> (s[4] & DST_EOF) != 0,
                () -> { // the source writes, then half-closes
                    if (s[0] < size) {
                        long n = sys.send(in.client, src, s[0], Math.min(size - s[0], 256 * 1024), MSG_NOSIGNAL);
                        if (n == -Errno.EAGAIN) return false;
                        assertTrue(n > 0, () -> "send: " + Errno.describe((int) n));
                        s[0] += n;
                        return true;
                    }
                    if ((s[4] & SRC_SHUT) == 0) {
                        assertEquals(0, sys.shutdown(in.client, Linux.SHUT_WR()));
                        s[4] |= SRC_SHUT;
                        return true;
                    }
                    return false;
                },
                () -> { // socket -> pipe
                    if ((s[4] & IN_EOF) != 0) return false;
                    long n = sys.splice(in.server, pw, 1 << 20, flags);
                    if (n == -Errno.EAGAIN) return false;
                    assertTrue(n >= 0, () -> "splice(socket -> pipe): " + Errno.describe((int) n));
                    if (n == 0) s[4] |= IN_EOF;
                    s[1] += n;
                    return true;
                },
                () -> { // pipe -> socket, then half-close once everything has left
                    if (s[1] > 0) {
                        long n = sys.splice(pr, out.client, s[1], flags);
                        if (n == -Errno.EAGAIN) return false;
                        assertTrue(n > 0, () -> "splice(pipe -> socket): " + Errno.describe((int) n));
                        s[1] -= n;
                        s[2] += n;
                        return true;
                    }
                    if ((s[4] & IN_EOF) != 0 && (s[4] & OUT_SHUT) == 0) {
                        assertEquals(0, sys.shutdown(out.client, Linux.SHUT_WR()));
                        s[4] |= OUT_SHUT;
                        return true;
                    }
                    return false;
                },
                () -> { // the destination reads until EOF
                    if ((s[4] & DST_EOF) != 0) return false;
                    long room = size - s[3];
                    long n = room > 0 ? sys.recv(out.server, dst, s[3], room, 0)
                            : sys.recv(out.server, oneByte, 0, 1, 0); // expect EOF, not more data
                    if (n == -Errno.EAGAIN) return false;
                    assertTrue(n >= 0, () -> "recv: " + Errno.describe((int) n));
                    assertTrue(room > 0 || n == 0, "more bytes arrived than were sent");
                    if (n == 0) s[4] |= DST_EOF;
                    s[3] += n;
                    return true;
                });

        assertEquals(size, s[0]);
        assertEquals(size, s[2], "bytes spliced out of the pipe");
        assertEquals(size, s[3], "bytes received");
        assertEquals(sha256(src), sha256(dst), "spliced bytes differ");
        closeFd(pr);
        closeFd(pw);
        in.close();
        out.close();
    }

    @Test
    void shutdownWriteMakesPeerRecvReturnZeroAndHalfCloseStillWorks() {
        Conn c = connect();
        MemorySegment buf = arena.allocate(64);
        assertEquals(-Errno.EAGAIN, sys.recv(c.server, buf, 0, 64, 0));
        assertEquals(0, sys.shutdown(c.client, Linux.SHUT_WR()));
        waitFor(c.server, EPOLLIN, EPOLLIN);
        assertEquals(0, sys.recv(c.server, buf, 0, 64, 0), "recv after the peer's SHUT_WR is EOF");
        assertEquals(0, sys.recv(c.server, buf, 0, 64, 0), "and stays EOF");

        // The other direction is still open.
        buf.set(ValueLayout.JAVA_LONG, 0, 0x1122334455667788L);
        assertEquals(8, sys.send(c.server, buf, 0, 8, MSG_NOSIGNAL));
        waitFor(c.client, EPOLLIN, EPOLLIN);
        MemorySegment got = arena.allocate(64);
        assertEquals(8, sys.recv(c.client, got, 0, 64, 0));
        assertEquals(0x1122334455667788L, got.get(ValueLayout.JAVA_LONG, 0));

        // Writing after our own SHUT_WR is EPIPE (no SIGPIPE thanks to MSG_NOSIGNAL).
        assertEquals(-Errno.EPIPE, sys.send(c.client, buf, 0, 8, MSG_NOSIGNAL));
        c.close();
    }

    @Test
    void recvPeekAndDontwaitFlags() {
        Conn c = connect();
        MemorySegment buf = arena.allocate(16);
        buf.set(ValueLayout.JAVA_INT, 0, 0xCAFEBABE);
        assertEquals(4, sys.send(c.client, buf, 0, 4, MSG_NOSIGNAL));
        waitFor(c.server, EPOLLIN, EPOLLIN);
        MemorySegment in = arena.allocate(16);
        assertEquals(4, sys.recv(c.server, in, 0, 16, Linux.MSG_PEEK()));
        assertEquals(4, sys.recv(c.server, in, 8, 8, Linux.MSG_DONTWAIT()), "peeked bytes are still there");
        assertEquals(0xCAFEBABE, in.get(ValueLayout.JAVA_INT, 8));
        assertEquals(-Errno.EAGAIN, sys.recv(c.server, in, 0, 16, Linux.MSG_DONTWAIT()));
        c.close();
    }

    @Test
    void unackedBytesCountsWhatThePeerHasNotTakenYet() {
        Conn c = connect();
        assertEquals(0, sys.unackedBytes(c.client), "nothing sent yet");
        MemorySegment buf = arena.allocate(1 << 16);
        long sent = 0;
        long r;
        // the peer does not read: its window fills, then our send queue
        while ((r = sys.send(c.client, buf, 0, buf.byteSize(), MSG_NOSIGNAL)) > 0) sent += r;
        assertEquals(-Errno.EAGAIN, r);
        int unacked = sys.unackedBytes(c.client);
        assertTrue(unacked > 0 && unacked <= sent, "unacked " + unacked + " of " + sent + " sent");
        long drained = 0;
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        while (drained < sent && System.nanoTime() < deadline) {
            long n = sys.recv(c.server, buf, 0, buf.byteSize(), 0);
            if (n > 0) drained += n;
            else Thread.onSpinWait();
        }
        assertEquals(sent, drained);
        while (sys.unackedBytes(c.client) != 0 && System.nanoTime() < deadline) Thread.onSpinWait();
        assertEquals(0, sys.unackedBytes(c.client), "everything taken and acknowledged");
        assertTrue(sys.unackedBytes(-1) < 0, "a bad fd is -errno");
        c.close();
    }

    // ---- epoll -----------------------------------------------------------------------------------

    @Test
    void epollReportsInOutAndRoundTripsSixtyFourBitData() {
        Conn c = connect();
        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        assertTrue((fdinfoFlags(ep) & O_CLOEXEC) != 0, "EPOLL_CLOEXEC not applied");

        long serverData = (0xDEADBEEFL << 32) | c.server; // generation in the high half, negative as a long
        long clientData = (0x8000_0001L << 32) | c.client;
        assertTrue(serverData < 0 && clientData < 0);
        assertEquals(0, sys.epollCtl(ep, ADD, c.server, EPOLLIN | EPOLLRDHUP, serverData));
        assertEquals(0, sys.epollWait(ep, events, MAX_EVENTS, 0), "nothing to read yet");

        MemorySegment buf = arena.allocate(64);
        assertEquals(5, sys.send(c.client, buf, 0, 5, MSG_NOSIGNAL));
        int n = sys.epollWait(ep, events, MAX_EVENTS, 2000);
        assertEquals(1, n, "one ready fd after the peer sent");
        assertEquals(serverData, Syscalls.eventData(events, 0), "64-bit data round trip");
        assertEquals(EPOLLIN, Syscalls.eventMask(events, 0));
        assertEquals(5, sys.recv(c.server, buf, 0, 64, 0));
        assertEquals(0, sys.epollWait(ep, events, MAX_EVENTS, 0), "level-triggered IN cleared after draining");

        // A connected socket with an empty send buffer is writable.
        assertEquals(0, sys.epollCtl(ep, ADD, c.client, EPOLLOUT, clientData));
        n = sys.epollWait(ep, events, MAX_EVENTS, 2000);
        assertEquals(1, n);
        assertEquals(clientData, Syscalls.eventData(events, 0));
        assertEquals(EPOLLOUT, Syscalls.eventMask(events, 0));

        // MOD changes data and interest; DEL stops reporting.
        long newData = (0xFFFF_FFFFL << 32) | c.client;
        assertEquals(0, sys.epollCtl(ep, MOD, c.client, EPOLLOUT | EPOLLET, newData));
        assertEquals(1, sys.epollWait(ep, events, MAX_EVENTS, 2000));
        assertEquals(newData, Syscalls.eventData(events, 0));
        assertEquals(0, sys.epollWait(ep, events, MAX_EVENTS, 0), "edge-triggered: reported once");
        assertEquals(0, sys.epollCtl(ep, DEL, c.client, 0, 0));
        assertEquals(-Errno.ENOENT, sys.epollCtl(ep, DEL, c.client, 0, 0), "DEL of an fd not registered");
        assertEquals(-Errno.EBADF, sys.epollCtl(ep, ADD, -1, EPOLLIN, 0));

        // Several ready fds in one call, each with its own data.
        assertEquals(0, sys.epollCtl(ep, ADD, c.client, EPOLLOUT, clientData));
        assertEquals(5, sys.send(c.client, buf, 0, 5, MSG_NOSIGNAL));
        waitFor(c.server, EPOLLIN, EPOLLIN);
        n = sys.epollWait(ep, events, MAX_EVENTS, 2000);
        assertEquals(2, n);
        long d0 = Syscalls.eventData(events, 0), d1 = Syscalls.eventData(events, 1);
        assertTrue((d0 == serverData && d1 == clientData) || (d0 == clientData && d1 == serverData),
                "data " + Long.toHexString(d0) + ", " + Long.toHexString(d1));

        // Bounds are checked before an address leaves Java.
        MemorySegment tooSmall = arena.allocate(Syscalls.EPOLL_EVENT_SIZE);
        assertThrows(IndexOutOfBoundsException.class, () -> sys.epollWait(ep, tooSmall, 2, 0));

        closeFd(ep);
        c.close();
    }

    @Test
    void epollReportsRdhupAfterPeerShutdownWrite() {
        Conn c = connect();
        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        long data = (7L << 32) | c.server | 0x8000_0000_0000_0000L;
        assertEquals(0, sys.epollCtl(ep, ADD, c.server, EPOLLIN | EPOLLRDHUP, data));
        assertEquals(0, sys.shutdown(c.client, Linux.SHUT_WR()));
        int mask = waitOn(ep, data);
        assertTrue((mask & EPOLLRDHUP) != 0, "no EPOLLRDHUP in " + maskText(mask));
        assertTrue((mask & EPOLLIN) != 0, "EOF is readable: " + maskText(mask));
        assertEquals(0, mask & (EPOLLERR | EPOLLHUP), "half close is not an error: " + maskText(mask));
        assertEquals(0, sys.recv(c.server, arena.allocate(8), 0, 8, 0));
        closeFd(ep);
        c.close();
    }

    @Test
    void epollReportsErrAndHupAfterPeerReset() {
        Conn c = connect();
        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        long data = (0xABCDL << 48) | c.server;
        assertEquals(0, sys.epollCtl(ep, ADD, c.server, EPOLLIN | EPOLLRDHUP, data)); // ERR, HUP always reported
        assertEquals(0, sys.setLinger(c.client, true, 0));
        closeFd(c.client); // linger 0: close sends RST
        int mask = waitOn(ep, data);
        assertEquals(EPOLLERR | EPOLLHUP, mask & (EPOLLERR | EPOLLHUP), "after a reset: " + maskText(mask));
        assertEquals(-Errno.ECONNRESET, sys.recv(c.server, arena.allocate(8), 0, 8, 0));
        closeFd(ep);
        closeFd(c.server);
        closeFd(c.listener);
    }

    // ---- errno -----------------------------------------------------------------------------------

    @Test
    void ebadfOnInvalidAndClosedDescriptors() {
        assertEquals(-Errno.EBADF, sys.close(-1));
        MemorySegment buf = arena.allocate(8);
        assertEquals(-Errno.EBADF, sys.recv(-1, buf, 0, 8, 0));
        assertEquals(-Errno.EBADF, sys.send(-1, buf, 0, 8, MSG_NOSIGNAL));
        assertEquals(-Errno.EBADF, sys.fcntl(-1, Linux.F_GETFL(), 0));
        int fd = socket();
        closeFd(fd);
        // The number is free now; MSG_PEEK|MSG_DONTWAIT keeps this harmless should the JVM reuse it meanwhile.
        long r = sys.recv(fd, buf, 0, 8, Linux.MSG_PEEK() | Linux.MSG_DONTWAIT());
        assertEquals(-Errno.EBADF, r, () -> "recv on a closed fd: " + Errno.describe((int) r));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sys.getsockname(-1));
        assertTrue(e.getMessage().contains("EBADF"), e.getMessage());
        // errno of an earlier failure does not leak into a later success.
        long p = sys.pipe2(O_CLOEXEC);
        assertTrue(p >= 0);
        closeFd(track((int) p));
        closeFd(track((int) (p >>> 32)));
    }

    @Test
    void eagainOnEmptyNonBlockingSocketAndEnotsockOnPipe() {
        Conn c = connect();
        MemorySegment buf = arena.allocate(64);
        assertEquals(-Errno.EAGAIN, sys.recv(c.server, buf, 0, 64, 0));
        assertEquals(-Errno.EAGAIN, sys.recv(c.client, buf, 0, 64, 0));
        assertEquals(-Errno.EAGAIN, sys.accept4(c.listener, SOCK_NONBLOCK | SOCK_CLOEXEC), "accept with nobody connecting");
        assertEquals(-Errno.ENOTCONN, sys.recv(socket(), buf, 0, 64, 0) , "recv on an unconnected socket");
        long p = sys.pipe2(O_NONBLOCK | O_CLOEXEC);
        int pr = track((int) p), pw = track((int) (p >>> 32));
        assertEquals(-Errno.ENOTSOCK, sys.recv(pr, buf, 0, 64, 0));
        assertEquals(-Errno.EAGAIN, sys.splice(c.server, pw, 4096, Linux.SPLICE_F_NONBLOCK()), "splice from an empty socket");
        assertEquals(-Errno.EINVAL, sys.splice(pr, pw, 4096, Linux.SPLICE_F_NONBLOCK()), "splice pipe to the same pipe");
        closeFd(pr);
        closeFd(pw);
        closeAll();
    }

    @Test
    void econnrefusedOnAPortNobodyListensOn() {
        int reserved = socket();
        assertEquals(0, sys.bind(reserved, SockAddr.parse("127.0.0.1:0")));
        SockAddr target = sys.getsockname(reserved); // bound, not listening: connecting is refused
        assertTrue(target.port() > 0);

        int fd = socket();
        int r = sys.connect(fd, target);
        boolean refused;
        if (r == -Errno.EINPROGRESS) {
            int mask = waitFor(fd, EPOLLOUT, EPOLLOUT | EPOLLERR);
            assertTrue((mask & EPOLLERR) != 0, "refused connect reports EPOLLERR: " + maskText(mask));
            int soError = sys.getIntOption(fd, SOL_SOCKET, SO_ERROR);
            assertEquals(Errno.ECONNREFUSED, soError, () -> "SO_ERROR " + Errno.describe(soError));
            assertEquals(0, sys.getIntOption(fd, SOL_SOCKET, SO_ERROR), "SO_ERROR is cleared once read");
            refused = true;
        } else {
            assertEquals(-Errno.ECONNREFUSED, r, () -> "connect: " + Errno.describe(r));
            refused = true;
        }
        assertTrue(refused);
        assertEquals("ECONNREFUSED (connection refused)", Errno.describe(-Errno.ECONNREFUSED));

        // A blocking socket gets the refusal straight from connect() (the RST is immediate on loopback).
        int blocking = track(check("socket", sys.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)));
        assertEquals(-Errno.ECONNREFUSED, sys.connect(blocking, target));
        closeAll();
    }

    @Test
    void eaddrinuseWhenBindingTheSamePortTwice() {
        int first = socket();
        assertEquals(0, sys.bind(first, SockAddr.parse("127.0.0.1:0")));
        assertEquals(0, sys.listen(first, 4));
        SockAddr taken = sys.getsockname(first);
        int second = socket();
        int r = sys.bind(second, taken);
        assertEquals(-Errno.EADDRINUSE, r, () -> "second bind: " + Errno.describe(r));
        assertEquals("EADDRINUSE", Errno.name(r));
        assertEquals(-Errno.EINVAL, sys.bind(first, SockAddr.parse("127.0.0.1:0")), "binding a bound socket again");
        closeAll();
    }

    @Test
    void eventfdReadWriteAndReadiness() {
        int efd = track(check("eventfd", sys.eventfd(0, Linux.EFD_NONBLOCK() | Linux.EFD_CLOEXEC())));
        assertTrue((fdinfoFlags(efd) & O_CLOEXEC) != 0);
        MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
        assertEquals(-Errno.EAGAIN, sys.read(efd, v, 0, 8), "a zero counter is not readable");

        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        assertEquals(0, sys.epollCtl(ep, ADD, efd, EPOLLIN, -1L));
        assertEquals(0, sys.epollWait(ep, events, MAX_EVENTS, 0));

        v.set(ValueLayout.JAVA_LONG, 0, 3);
        assertEquals(8, sys.write(efd, v, 0, 8));
        v.set(ValueLayout.JAVA_LONG, 0, 4);
        assertEquals(8, sys.write(efd, v, 0, 8));
        assertEquals(1, sys.epollWait(ep, events, MAX_EVENTS, 1000));
        assertEquals(-1L, Syscalls.eventData(events, 0));
        assertEquals(EPOLLIN, Syscalls.eventMask(events, 0));

        v.set(ValueLayout.JAVA_LONG, 0, 0);
        assertEquals(8, sys.read(efd, v, 0, 8));
        assertEquals(7, v.get(ValueLayout.JAVA_LONG, 0), "the counter sums the writes");
        assertEquals(-Errno.EAGAIN, sys.read(efd, v, 0, 8), "reading resets the counter");
        assertEquals(-Errno.EINVAL, sys.write(efd, v, 0, 4), "eventfd takes 8-byte writes only");
        closeFd(ep);
        closeFd(efd);
    }

    // ---- limits, instances, bounds -------------------------------------------------------------

    @Test
    void nofileLimitIsSaneAndMatchesProc() throws IOException {
        long[] lim = sys.getNofileLimit();
        assertEquals(2, lim.length);
        long soft = lim[0], hard = lim[1];
        assertTrue(soft > 0, "soft limit " + soft);
        assertTrue(Long.compareUnsigned(soft, hard) <= 0, "soft " + soft + " above hard " + hard);
        assertTrue(Long.compareUnsigned(FdLeakCheck.count(), soft) < 0, "more fds open than the soft limit");

        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String[] f = line.substring("Max open files".length()).trim().split("\\s+");
                assertEquals(f[0].equals("unlimited") ? -1 : Long.parseLong(f[0]), soft, line);
                assertEquals(f[1].equals("unlimited") ? -1 : Long.parseLong(f[1]), hard, line);
            }
        }
        assertEquals(0, sys.setNofileLimit(soft, hard), "setting the current limits again");
        assertEquals(soft, sys.getNofileLimit()[0]);
        if (soft != -1 && hard != -1) {
            assertEquals(-Errno.EINVAL, sys.setNofileLimit(soft + 1, soft), "soft above hard is invalid");
            assertEquals(soft, sys.getNofileLimit()[0]);
            assertEquals(hard, sys.getNofileLimit()[1]);
        }
    }

    @Test
    void oneInstancePerThread() throws Exception {
        assertSame(sys, Syscalls.get());
        Syscalls[] other = new Syscalls[1];
        Thread t = Thread.ofPlatform().start(() -> other[0] = Syscalls.get());
        t.join(5000);
        assertNotSame(sys, other[0]);
    }

    @Test
    void bufferBoundsAreCheckedBeforeTheCall() {
        MemorySegment buf = arena.allocate(16);
        assertThrows(IndexOutOfBoundsException.class, () -> sys.recv(-1, buf, 8, 9, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> sys.send(-1, buf, -1, 4, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> sys.read(-1, buf, 0, 17));
        assertThrows(IndexOutOfBoundsException.class, () -> sys.write(-1, buf, 17, 0));
        assertEquals(-Errno.EBADF, sys.read(-1, buf, 16, 0), "an empty slice at the end is in bounds");
    }

    // ---- CPU affinity --------------------------------------------------------------------------

    /**
     * Pins a fresh thread to each CPU it may use in turn and reads the result back twice: through
     * sched_getaffinity and through the kernel's own report for that thread
     * (/proc/thread-self/status), then restores the original set. On a fresh thread so that the
     * test runner's threads never change.
     */
    @Test
    void threadAffinityIsSetReadBackAndRestored() throws Exception {
        List<String> failures = new ArrayList<>();
        Thread t = Thread.ofPlatform().name("affinity-test").start(() -> {
            try {
                Syscalls s = Syscalls.get();
                int[] original = s.threadAffinity();
                if (original.length == 0) failures.add("sched_getaffinity reported no CPU at all");
                if (!Arrays.equals(original, cpusAllowedOfThisThread())) {
                    failures.add("before: sched_getaffinity " + Arrays.toString(original) + " vs /proc "
                            + Arrays.toString(cpusAllowedOfThisThread()));
                }
                for (int cpu : original) {
                    int r = s.setThreadAffinity(new int[] {cpu});
                    if (r != 0) failures.add("sched_setaffinity(" + cpu + "): " + Errno.describe(r));
                    if (!Arrays.equals(new int[] {cpu}, s.threadAffinity())) {
                        failures.add("pinned to " + cpu + ", sched_getaffinity says " + Arrays.toString(s.threadAffinity()));
                    }
                    if (!Arrays.equals(new int[] {cpu}, cpusAllowedOfThisThread())) {
                        failures.add("pinned to " + cpu + ", /proc says " + Arrays.toString(cpusAllowedOfThisThread()));
                    }
                }
                int r = s.setThreadAffinity(original);
                if (r != 0) failures.add("restoring " + Arrays.toString(original) + ": " + Errno.describe(r));
                if (!Arrays.equals(original, cpusAllowedOfThisThread())) {
                    failures.add("after restoring: /proc says " + Arrays.toString(cpusAllowedOfThisThread()));
                }
            } catch (Throwable e) {
                failures.add(e.toString());
            }
        });
        t.join(10_000);
        assertTrue(!t.isAlive(), "the affinity thread did not finish");
        assertTrue(failures.isEmpty(), () -> String.join("\n", failures));
    }

    @Test
    void affinityRefusesCpusThatCannotBeNamedOrDoNotExist() throws Exception {
        List<String> failures = new ArrayList<>();
        int last = Syscalls.MAX_CPUS - 1;
        boolean lastOnline = online().contains(last);
        Thread t = Thread.ofPlatform().name("affinity-test").start(() -> {
            Syscalls s = Syscalls.get();
            int[] before = s.threadAffinity();
            check(failures, "empty set", -Errno.EINVAL, s.setThreadAffinity(new int[0]));
            check(failures, "CPU -1", -Errno.EINVAL, s.setThreadAffinity(new int[] {-1}));
            check(failures, "CPU " + Syscalls.MAX_CPUS, -Errno.EINVAL, s.setThreadAffinity(new int[] {Syscalls.MAX_CPUS}));
            if (!lastOnline) {
                // a CPU a cpu_set_t can name but that is not online: the kernel refuses the whole set
                check(failures, "CPU " + last + " (not online)", -Errno.EINVAL, s.setThreadAffinity(new int[] {last}));
            }
            if (!Arrays.equals(before, s.threadAffinity())) {
                failures.add("a refused call changed the affinity: " + Arrays.toString(s.threadAffinity()));
            }
        });
        t.join(10_000);
        assertTrue(!t.isAlive(), "the affinity thread did not finish");
        assertTrue(failures.isEmpty(), () -> String.join("\n", failures));
        assertEquals(1024, Syscalls.MAX_CPUS, "glibc's CPU_SETSIZE");
    }

    private static void check(List<String> failures, String what, int expected, int actual) {
        if (expected != actual) failures.add(what + ": expected " + Errno.describe(expected) + ", got " + actual);
    }

    /** Cpus_allowed_list of the calling thread, as the kernel reports it (e.g. "0-1,4"). */
    private static int[] cpusAllowedOfThisThread() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/thread-self/status"))) {
            if (line.startsWith("Cpus_allowed_list:")) return parseCpuList(line.substring(line.indexOf(':') + 1));
        }
        throw new IOException("no Cpus_allowed_list in /proc/thread-self/status");
    }

    private static List<Integer> online() throws IOException {
        return Arrays.stream(parseCpuList(Files.readString(Path.of("/sys/devices/system/cpu/online")))).boxed().toList();
    }

    /** The kernel's list format: "0-3,8,10-11". */
    private static int[] parseCpuList(String list) {
        List<Integer> cpus = new ArrayList<>();
        for (String part : list.strip().split(",")) {
            if (part.isEmpty()) continue;
            int dash = part.indexOf('-');
            int lo = Integer.parseInt(dash < 0 ? part : part.substring(0, dash));
            int hi = dash < 0 ? lo : Integer.parseInt(part.substring(dash + 1));
            for (int c = lo; c <= hi; c++) cpus.add(c);
        }
        return cpus.stream().mapToInt(Integer::intValue).toArray();
    }

    // ---- allocation on the hot path ------------------------------------------------------------

    @Test
    void hotPathCallsDoNotAllocate() {
        assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean,
                "com.sun.management.ThreadMXBean not available: allocation not measured");
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assumeTrue(mx.isThreadAllocatedMemorySupported(), "thread allocation accounting not supported");
        if (!mx.isThreadAllocatedMemoryEnabled()) mx.setThreadAllocatedMemoryEnabled(true);

        Conn c = connect();
        long p = sys.pipe2(O_NONBLOCK | O_CLOEXEC);
        int pr = track((int) p), pw = track((int) (p >>> 32));
        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        assertEquals(0, sys.epollCtl(ep, ADD, c.server, EPOLLIN, 1L));
        MemorySegment buf = arena.allocate(4096);

        int iterations = 100_000;
        long limit = 64 * 1024;
        Syscalls s = sys;
        MemorySegment ev = events;
        int sock = c.server;
        int nb = Linux.SPLICE_F_NONBLOCK();
        long eagain = -(long) Errno.EAGAIN;
        List<String> failures = new ArrayList<>();
        measure(mx, failures, limit, iterations, "recv (EAGAIN, empty socket)", eagain, n -> recvLoop(s, sock, buf, n));
        measure(mx, failures, limit, iterations, "read (EAGAIN, empty pipe)", eagain, n -> readLoop(s, pr, buf, n));
        measure(mx, failures, limit, iterations, "splice (EAGAIN)", eagain, n -> spliceLoop(s, sock, pw, nb, n));
        measure(mx, failures, limit, iterations, "epoll_wait (timeout 0, nothing ready)", 0, n -> epollWaitLoop(s, ep, ev, n));
        measure(mx, failures, limit, iterations, "epoll_ctl MOD", 0, n -> epollModLoop(s, ep, sock, n));
        assertTrue(failures.isEmpty(), () -> "hot path allocates or misbehaves:\n  " + String.join("\n  ", failures));
        closeFd(ep);
        closeFd(pr);
        closeFd(pw);
        c.close();
    }

    /**
     * Warms {@code loop} up, then measures the bytes this thread allocates in a run of
     * {@code iterations} calls. The warm-up is many short runs, not one long one: the forwarder's
     * hot paths are methods called per event, compiled whole by C2, while one long run gets its
     * loop compiled on stack (OSR), whose escape analysis sometimes leaves the downcall's small
     * allocations in place for good (seen in CI: 40 B per read in every one of forty runs). A run
     * may still include the end of interpretation while C2 finishes compiling (the interpreter's
     * downcall path allocates a few bytes per call), and on two busy cores the compiler thread
     * may take several runs to get there, so up to forty runs are measured, stopping at the
     * first clean one, and the smallest counts: steady state is what the hot path sees.
     */
    private static void measure(com.sun.management.ThreadMXBean mx, List<String> failures, long limit, int iterations,
                                String name, long expectedPerCall, java.util.function.IntToLongFunction loop) {
        long sum = loop.applyAsLong(WARM_CALLS_PER_RUN);
        if (sum != expectedPerCall * WARM_CALLS_PER_RUN) {
            failures.add(name + ": unexpected results (sum " + sum + ", expected " + expectedPerCall * WARM_CALLS_PER_RUN + ")");
            return;
        }
        for (int i = 1; i < WARM_RUNS; i++) loop.applyAsLong(WARM_CALLS_PER_RUN);
        long best = Long.MAX_VALUE;
        for (int round = 0; round < 40 && best >= limit; round++) {
            long before = mx.getCurrentThreadAllocatedBytes();
            loop.applyAsLong(iterations);
            best = Math.min(best, mx.getCurrentThreadAllocatedBytes() - before);
        }
        System.out.println("allocation: " + name + ": " + best + " bytes in " + iterations + " calls");
        if (best >= limit) {
            failures.add(name + ": " + best + " bytes allocated in " + iterations + " calls (" + best / iterations
                    + " per call) even after warm-up");
        }
    }

    /** Warm-up: enough short runs that each loop method is compiled whole (C2), not only on stack. */
    private static final int WARM_RUNS = 3_000;
    private static final int WARM_CALLS_PER_RUN = 20;

    // One loop per call type, each its own method so that each is compiled on its own.

    private static long recvLoop(Syscalls s, int fd, MemorySegment buf, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += s.recv(fd, buf, 0, buf.byteSize(), 0);
        return sum;
    }

    private static long readLoop(Syscalls s, int fd, MemorySegment buf, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += s.read(fd, buf, 0, buf.byteSize());
        return sum;
    }

    private static long spliceLoop(Syscalls s, int from, int to, int flags, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += s.splice(from, to, 65536, flags);
        return sum;
    }

    private static long epollWaitLoop(Syscalls s, int ep, MemorySegment ev, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            int k = s.epollWait(ep, ev, MAX_EVENTS, 0);
            for (int j = 0; j < k; j++) sum += Syscalls.eventData(ev, j) + Syscalls.eventMask(ev, j);
            sum += k;
        }
        return sum;
    }

    private static long epollModLoop(Syscalls s, int ep, int fd, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) sum += s.epollCtl(ep, MOD, fd, EPOLLIN, ((long) i << 32) | fd);
        return sum;
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /** A connected pair and the listener it came from. */
    private final class Conn {
        final int listener, client, server;
        final SockAddr listenAddr;

        Conn(int listener, int client, int server, SockAddr listenAddr) {
            this.listener = listener;
            this.client = client;
            this.server = server;
            this.listenAddr = listenAddr;
        }

        void close() {
            closeFd(client);
            closeFd(server);
            closeFd(listener);
        }
    }

    private int track(int fd) {
        assertTrue(fd >= 0, () -> "expected an fd, got " + Errno.describe(fd));
        open.add(fd);
        return fd;
    }

    private void closeFd(int fd) {
        assertTrue(open.remove(Integer.valueOf(fd)), "fd " + fd + " is not one of ours");
        int r = sys.close(fd);
        assertEquals(0, r, () -> "close(" + fd + "): " + Errno.describe(r));
    }

    private void closeAll() {
        for (int fd : List.copyOf(open)) closeFd(fd);
    }

    private static int check(String what, int r) {
        if (r < 0) fail(what + ": " + Errno.describe(r));
        return r;
    }

    /** A non-blocking, close-on-exec IPv4 TCP socket. */
    private int socket() {
        return track(check("socket", sys.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)));
    }

    /** listen on 127.0.0.1:0, connect non-blocking, accept4: the whole dance, checked. */
    private Conn connect() {
        int l = socket();
        assertEquals(0, sys.setIntOption(l, SOL_SOCKET, Linux.SO_REUSEADDR(), 1));
        assertEquals(1, sys.getIntOption(l, SOL_SOCKET, Linux.SO_REUSEADDR()));
        assertEquals(0, sys.bind(l, SockAddr.parse("127.0.0.1:0")));
        assertEquals(0, sys.listen(l, 16));
        SockAddr addr = sys.getsockname(l);

        int c = socket();
        int r = sys.connect(c, addr);
        assertTrue(r == 0 || r == -Errno.EINPROGRESS, () -> "connect: " + Errno.describe(r));
        if (r == -Errno.EINPROGRESS) {
            waitFor(c, EPOLLOUT, EPOLLOUT);
            int err = sys.getIntOption(c, SOL_SOCKET, SO_ERROR);
            assertEquals(0, err, () -> "SO_ERROR after connect: " + Errno.describe(err));
        }
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        for (int i = 0; ; i++) {
            int s = sys.accept4(l, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (s >= 0) return new Conn(l, c, track(s), addr);
            assertEquals(-Errno.EAGAIN, s, () -> "accept4: " + Errno.describe(s));
            assertTrue(i < 100 && System.nanoTime() < deadline, "no connection to accept");
            waitFor(l, EPOLLIN, EPOLLIN);
        }
    }

    /**
     * Waits (bounded) until {@code fd} reports one of {@code expected}; returns the full mask.
     * Uses a temporary epoll instance, closed before returning.
     */
    private int waitFor(int fd, int interest, int expected) {
        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        try {
            long data = 0x5A5A_0000_0000_0000L | fd;
            assertEquals(0, sys.epollCtl(ep, ADD, fd, interest, data));
            long deadline = System.nanoTime() + DEADLINE_NANOS;
            while (System.nanoTime() < deadline) {
                int n = sys.epollWait(ep, events, MAX_EVENTS, 200);
                if (n == -Errno.EINTR) continue;
                assertTrue(n >= 0, () -> "epoll_wait: " + Errno.describe(n));
                for (int i = 0; i < n; i++) {
                    assertEquals(data, Syscalls.eventData(events, i));
                    int mask = Syscalls.eventMask(events, i);
                    if ((mask & expected) != 0) return mask;
                }
            }
            return fail("fd " + fd + " did not report " + maskText(expected) + " within the deadline");
        } finally {
            closeFd(ep);
        }
    }

    /** Waits (bounded) on an epoll instance for the event carrying {@code data}; returns its mask. */
    private int waitOn(int ep, long data) {
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        while (System.nanoTime() < deadline) {
            int n = sys.epollWait(ep, events, MAX_EVENTS, 200);
            if (n == -Errno.EINTR) continue;
            assertTrue(n >= 0, () -> "epoll_wait: " + Errno.describe(n));
            for (int i = 0; i < n; i++) {
                if (Syscalls.eventData(events, i) == data) return Syscalls.eventMask(events, i);
            }
        }
        return fail("no event within the deadline");
    }

    private static String maskText(int mask) {
        StringBuilder b = new StringBuilder();
        if ((mask & EPOLLIN) != 0) b.append("IN|");
        if ((mask & EPOLLOUT) != 0) b.append("OUT|");
        if ((mask & EPOLLERR) != 0) b.append("ERR|");
        if ((mask & EPOLLHUP) != 0) b.append("HUP|");
        if ((mask & EPOLLRDHUP) != 0) b.append("RDHUP|");
        return b.isEmpty() ? "0" : b.substring(0, b.length() - 1) + " (0x" + Integer.toHexString(mask) + ")";
    }

    /** One direction of a transfer: send all of {@code out} from one fd, receive it into {@code in}. */
    private final class Flow {
        final int from, to;
        final MemorySegment out, in;
        long sent, received;

        Flow(int from, MemorySegment out, int to, MemorySegment in) {
            this.from = from;
            this.out = out;
            this.to = to;
            this.in = in;
        }

        boolean done() {
            return sent == out.byteSize() && received == in.byteSize();
        }

        boolean step() {
            boolean progress = false;
            if (sent < out.byteSize()) {
                long n = sys.send(from, out, sent, Math.min(out.byteSize() - sent, 128 * 1024), MSG_NOSIGNAL);
                if (n != -Errno.EAGAIN) {
                    assertTrue(n > 0, () -> "send: " + Errno.describe((int) n));
                    sent += n;
                    progress = true;
                }
            }
            if (received < in.byteSize()) {
                long n = sys.recv(to, in, received, in.byteSize() - received, 0);
                if (n != -Errno.EAGAIN) {
                    assertTrue(n != 0, "unexpected EOF after " + received + " bytes");
                    assertTrue(n > 0, () -> "recv: " + Errno.describe((int) n));
                    received += n;
                    progress = true;
                }
            }
            return progress;
        }
    }

    /**
     * Runs {@code steps} round-robin until {@code done}. When no step makes progress every
     * descriptor has been driven to EAGAIN, so an edge-triggered epoll over all of them wakes us at
     * the next change (with a short timeout anyway). Bounded by a deadline and an iteration cap.
     */
    private void pump(int[] fds, BooleanSupplier done, BooleanSupplier... steps) {
        int ep = track(check("epoll_create1", sys.epollCreate1(Linux.EPOLL_CLOEXEC())));
        try {
            for (int fd : fds) {
                assertEquals(0, sys.epollCtl(ep, ADD, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, fd));
            }
            long deadline = System.nanoTime() + DEADLINE_NANOS;
            for (int i = 0; !done.getAsBoolean(); i++) {
                assertTrue(i < 5_000_000, "transfer did not finish in 5M iterations");
                assertTrue(System.nanoTime() < deadline, "transfer did not finish within the deadline");
                boolean progress = false;
                for (BooleanSupplier s : steps) progress |= s.getAsBoolean();
                if (!progress) {
                    int n = sys.epollWait(ep, events, MAX_EVENTS, 50);
                    assertTrue(n >= 0 || n == -Errno.EINTR, () -> "epoll_wait: " + Errno.describe(n));
                }
            }
        } finally {
            closeFd(ep);
        }
    }

    private MemorySegment random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        MemorySegment s = arena.allocate(size, 64);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, size);
        return s;
    }

    private static String sha256(MemorySegment s) throws NoSuchAlgorithmException {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(s.asByteBuffer());
        return HexFormat.of().formatHex(md.digest());
    }

    /** The open flags of an fd as the kernel reports them (octal "flags:" in /proc/self/fdinfo). */
    private static int fdinfoFlags(int fd) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
                if (line.startsWith("flags:")) return Integer.parseInt(line.substring(6).trim(), 8);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/fdinfo/" + fd, e);
        }
        throw new IllegalStateException("no flags in /proc/self/fdinfo/" + fd);
    }
}
