package org.forwarder.sys;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Unix stream sockets through {@link Syscalls} and {@link SockAddr#unix(String)}, in a temporary
 * directory of their own: bind, listen, accept, connect with our layer and with the JDK's
 * {@link SocketChannel}, and the file operations a stats socket needs (unlink a stale file, chmod,
 * link and rename to replace a socket in place as HAProxy does). Our sockets are non-blocking
 * (a Unix connect to a listening socket with room in its backlog completes at once, and its
 * connection is queued for accept4 before connect returns); send and receive loops retry on
 * EAGAIN with a deadline, so no call here can wait for ever.
 */
@ExtendWith(FdLeakCheck.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UnixSocketTest {
    private static final int STREAM = SockConst.SOCK_STREAM | SockConst.SOCK_NONBLOCK | SockConst.SOCK_CLOEXEC;
    private static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(10);

    static {
        // NIO opens a descriptor of its own on first use (the socket pair it dup2s over channels
        // it closes) and keeps it: open it here, before FdLeakCheck counts, not inside a test.
        try {
            SocketChannel.open(StandardProtocolFamily.UNIX).close();
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Syscalls sys;
    private Arena arena;
    private Path dir;
    private final List<Integer> open = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        sys = Syscalls.get();
        arena = Arena.ofConfined();
        dir = Files.createTempDirectory("fwd-unix");
    }

    @AfterEach
    void tearDown() throws IOException {
        List<String> errors = new ArrayList<>();
        for (int fd : List.copyOf(open)) {
            int r = sys.close(fd);
            if (r != 0) errors.add("close(" + fd + "): " + Errno.describe(r));
        }
        open.clear();
        arena.close();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
        assertTrue(errors.isEmpty(), errors::toString);
    }

    @Test
    void listenAcceptConnectAndExchangeBytesBothWays() {
        String path = dir.resolve("stats.sock").toString();
        SockAddr addr = SockAddr.unix(path);
        int listener = listen(addr);
        assertTrue(Files.exists(Path.of(path)), "bind did not create " + path);

        int client = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        check("connect", sys.connect(client, addr));
        int server = track(sys.accept4(listener, SockConst.SOCK_CLOEXEC | SockConst.SOCK_NONBLOCK));

        assertEquals(addr, sys.getsockname(listener), "getsockname of the listener");
        assertEquals(path, sys.getsockname(listener).path());
        assertEquals(path, sys.getsockname(server).path(), "an accepted socket is named by its listener");
        assertEquals(path, sys.getpeername(client).path(), "the client's peer");
        SockAddr unnamed = sys.getsockname(client);
        assertTrue(unnamed.isUnix());
        assertEquals("", unnamed.path(), "a client that did not bind is unnamed");
        assertEquals("", sys.getpeername(server).path());

        exchange(client, server, 100_000, 1);
        exchange(server, client, 70_001, 2);

        MemorySegment buf = arena.allocate(16);
        assertEquals(-Errno.EAGAIN, sys.recv(server, buf, 0, 16, 0), "nothing more to read");
        closeFd(client);
        assertEquals(0, sys.recv(server, buf, 0, 16, 0), "EOF after the client closed");
        closeFd(server);
        closeFd(listener);
    }

    @Test
    void jdkClientTalksToOurListenerAndOurClientToAJdkListener() throws IOException {
        Path path = dir.resolve("a.sock");
        int listener = listen(SockAddr.unix(path.toString()));
        try (SocketChannel jdk = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            assertTrue(jdk.connect(UnixDomainSocketAddress.of(path)));
            int server = track(sys.accept4(listener, SockConst.SOCK_CLOEXEC | SockConst.SOCK_NONBLOCK));
            byte[] toUs = random(50_000, 3);
            writeFully(jdk, toUs);
            assertArrayEquals(toUs, recvExactly(server, toUs.length), "bytes from the JDK client");
            byte[] toJdk = random(40_000, 4);
            sendFully(server, toJdk);
            assertArrayEquals(toJdk, readExactly(jdk, toJdk.length), "bytes to the JDK client");
            closeFd(server);
        }
        closeFd(listener);

        // The other way round: the JDK binds, we connect with a sockaddr_un of our own making.
        Path jdkPath = dir.resolve("jdk.sock");
        try (ServerSocketChannel ssc = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ssc.bind(UnixDomainSocketAddress.of(jdkPath));
            int client = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
            check("connect to the JDK's listener", sys.connect(client, SockAddr.unix(jdkPath.toString())));
            try (SocketChannel accepted = ssc.accept()) {
                byte[] b = random(9_999, 5);
                sendFully(client, b);
                assertArrayEquals(b, readExactly(accepted, b.length));
                writeFully(accepted, b);
                assertArrayEquals(b, recvExactly(client, b.length));
            }
            closeFd(client);
        }
    }

    @Test
    void chmodSetsTheModeOfTheSocketFile() throws IOException {
        String path = dir.resolve("mode.sock").toString();
        int listener = listen(SockAddr.unix(path));
        check("chmod 0660", sys.chmod(path, 0660));
        assertEquals(PosixFilePermissions.fromString("rw-rw----"), Files.getPosixFilePermissions(Path.of(path)));
        check("chmod 0600", sys.chmod(path, 0600));
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(Path.of(path)));
        assertTrue(Files.readAttributes(Path.of(path), "unix:mode").get("mode") instanceof Integer m
                && (m & 0170000) == 0140000, "the file is a socket (S_IFSOCK)");
        check("chown to the same owner", sys.chown(path, -1, -1));
        assertEquals(-Errno.ENOENT, sys.chmod(dir.resolve("missing").toString(), 0600));
        assertEquals(-Errno.ENOENT, sys.chown(dir.resolve("missing").toString(), -1, -1));
        closeFd(listener);
    }

    @Test
    void aStaleSocketFileRefusesConnectionsAndBlocksBindUntilUnlinked() {
        String path = dir.resolve("stale.sock").toString();
        SockAddr addr = SockAddr.unix(path);
        closeFd(listen(addr)); // the file outlives the socket: a stale socket, as after a crash
        assertTrue(Files.exists(Path.of(path)));

        int client = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        assertEquals(-Errno.ECONNREFUSED, sys.connect(client, addr), "nobody listens behind a stale file");
        closeFd(client);
        int again = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        assertEquals(-Errno.EADDRINUSE, sys.bind(again, addr), "bind over an existing file");

        assertEquals(0, sys.unlink(path));
        assertFalse(Files.exists(Path.of(path)));
        assertEquals(-Errno.ENOENT, sys.unlink(path), "nothing left to unlink");
        check("bind after unlink", sys.bind(again, addr));
        check("listen", sys.listen(again, 8));
        int c2 = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        check("connect", sys.connect(c2, addr));
        closeFd(c2);
        closeFd(again);
    }

    /** HAProxy's way: bind a temporary name, chmod it, keep the old socket as a backup, rename over it. */
    @Test
    void replaceASocketInPlaceByLinkAndRename() throws IOException {
        String path = dir.resolve("live.sock").toString();
        String tmp = path + ".42.tmp";
        String bak = path + ".42.bak";
        int old = listen(SockAddr.unix(path));

        int fresh = listen(SockAddr.unix(tmp));
        check("chmod", sys.chmod(tmp, 0600));
        check("link to the backup name", sys.link(path, bak));
        assertEquals(-Errno.EEXIST, sys.link(path, bak), "link onto an existing name");
        check("rename over the live name", sys.rename(tmp, path));
        assertFalse(Files.exists(Path.of(tmp)));
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(Path.of(path)), "the live name is now the new, chmod-ed socket");

        // A client of the live name reaches the new listener; the old one still answers its backup name.
        int client = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        check("connect", sys.connect(client, SockAddr.unix(path)));
        int server = track(sys.accept4(fresh, SockConst.SOCK_CLOEXEC | SockConst.SOCK_NONBLOCK));
        exchange(client, server, 1000, 6);
        assertEquals(-Errno.EAGAIN, sys.accept4(old, SockConst.SOCK_CLOEXEC), "nothing reached the old listener");
        check("unlink the backup", sys.unlink(bak));

        assertEquals(-Errno.ENOENT, sys.rename(tmp, path), "rename of a name that is gone");
        assertEquals(-Errno.ENOENT, sys.link(tmp, bak));
        assertEquals(-Errno.ENOTDIR, sys.unlink(path + "/x"), "a socket is not a directory");
        closeFd(client);
        closeFd(server);
        closeFd(fresh);
        closeFd(old);
    }

    @Test
    void theLongestPathTheKernelTakesWorksAndOneByteMoreIsRefused() {
        String base = dir.toString() + "/";
        int room = SockAddr.UNIX_PATH_MAX - base.getBytes(StandardCharsets.UTF_8).length;
        assertEquals(107, SockAddr.UNIX_PATH_MAX);
        assertTrue(room > 10, "temporary directory name too long for this test: " + base);
        String longest = base + "é".repeat(room / 2) + "x".repeat(room % 2); // é is two UTF-8 bytes
        assertEquals(107, longest.getBytes(StandardCharsets.UTF_8).length);
        SockAddr addr = SockAddr.unix(longest);
        int listener = listen(addr);
        assertEquals(longest, sys.getsockname(listener).path(), "getsockname gives back all 107 bytes");
        int client = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        check("connect", sys.connect(client, addr));
        closeFd(client);
        closeFd(listener);
        check("unlink", sys.unlink(longest));

        String tooLong = longest + "y";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SockAddr.unix(tooLong));
        assertTrue(e.getMessage().contains("'" + tooLong + "'") && e.getMessage().contains("108 bytes")
                && e.getMessage().contains("107"), e.getMessage());
        assertEquals(-Errno.ENAMETOOLONG, sys.unlink("/" + "n".repeat(5000)), "a path beyond PATH_MAX");
    }

    @Test
    void pathsWithANulAreRefusedBeforeAnyCall() throws IOException {
        String real = dir.resolve("keep").toString();
        Files.writeString(Path.of(real), "x");
        String cut = real + "\0.tmp"; // C would read it as "keep": it must not be unlinked
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sys.unlink(cut));
        assertTrue(e.getMessage().contains("NUL") && e.getMessage().contains(real), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> sys.rename(cut, real + ".2"));
        assertThrows(IllegalArgumentException.class, () -> sys.link(real, cut));
        assertThrows(IllegalArgumentException.class, () -> sys.chmod(cut, 0));
        assertTrue(Files.exists(Path.of(real)), "the file a NUL would have named is untouched");
        assertThrows(IllegalArgumentException.class, () -> SockAddr.unix(cut));
        assertThrows(IllegalArgumentException.class, () -> SockAddr.unix(""));
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private int listen(SockAddr addr) {
        int fd = track(sys.socket(SockConst.AF_UNIX, STREAM, 0));
        check("bind " + addr, sys.bind(fd, addr));
        check("listen", sys.listen(fd, 8));
        return fd;
    }

    /** Sends {@code n} random bytes from one socket and receives them, byte-exact, on the other. */
    private void exchange(int from, int to, int n, long seed) {
        byte[] data = random(n, seed);
        // Each chunk is received before the next is sent: a blocking send never waits on a full buffer.
        int chunk = 16 * 1024;
        for (int off = 0; off < n; off += chunk) {
            int len = Math.min(chunk, n - off);
            byte[] part = java.util.Arrays.copyOfRange(data, off, off + len);
            sendFully(from, part);
            assertArrayEquals(part, recvExactly(to, len), "bytes " + off + ".." + (off + len) + " of " + n);
        }
    }

    private void sendFully(int fd, byte[] b) {
        MemorySegment buf = arena.allocate(Math.max(1, b.length));
        MemorySegment.copy(b, 0, buf, ValueLayout.JAVA_BYTE, 0, b.length);
        long off = 0;
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        while (off < b.length) {
            if (System.nanoTime() > deadline) fail("send: " + off + " of " + b.length + " bytes in 10 s");
            long r = sys.send(fd, buf, off, b.length - off, SockConst.MSG_NOSIGNAL);
            if (r == -Errno.EAGAIN) {
                Thread.onSpinWait();
                continue;
            }
            if (r < 0) fail("send: " + Errno.describe((int) r));
            off += r;
        }
    }

    private byte[] recvExactly(int fd, int n) {
        MemorySegment buf = arena.allocate(Math.max(1, n));
        long off = 0;
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        while (off < n) {
            if (System.nanoTime() > deadline) fail("recv: " + off + " of " + n + " bytes in 10 s");
            long r = sys.recv(fd, buf, off, n - off, 0);
            if (r == -Errno.EAGAIN) {
                Thread.onSpinWait();
                continue;
            }
            if (r < 0) fail("recv: " + Errno.describe((int) r));
            if (r == 0) fail("EOF after " + off + " of " + n + " bytes");
            off += r;
        }
        return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
    }

    private static void writeFully(SocketChannel ch, byte[] b) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(b);
        for (int i = 0; bb.hasRemaining(); i++) {
            if (i > 10_000) fail("write made no progress");
            ch.write(bb);
        }
    }

    private static byte[] readExactly(SocketChannel ch, int n) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(n);
        for (int i = 0; bb.hasRemaining(); i++) {
            if (i > 10_000) fail("read made no progress");
            if (ch.read(bb) < 0) fail("EOF after " + bb.position() + " of " + n + " bytes");
        }
        return bb.array();
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
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

    private static int check(String what, int r) {
        if (r < 0) fail(what + ": " + Errno.describe(r));
        return r;
    }
}
