package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.forwarder.linux.cpu_set_t;
import org.forwarder.linux.epoll_event;
import org.forwarder.linux.linger;
import org.forwarder.linux.rlimit;
import org.forwarder.linux.sockaddr_storage;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.util.Objects;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Linux system calls with errno captured safely: every call returns {@code n >= 0} on success or
 * {@code -errno} on failure, and never throws for an errno.
 *
 * <p>jextract cannot capture errno, so the handles here are built from the generated
 * {@code $address()} and {@code $descriptor()} with {@link Linker.Option#captureCallState}.
 * Two deliberate changes to the generated descriptors, both ABI-identical on Linux:
 * pointer arguments travel as raw {@code long} addresses, so that an I/O call on an offset inside
 * a pooled buffer needs no {@code asSlice()} object per call; and glibc's transparent unions
 * ({@code __SOCKADDR_ARG}, which the C ABI passes exactly like their first pointer member) are
 * passed the same way. Bounds are checked here, in Java, before an address leaves.
 *
 * <p>An instance owns the errno capture segment and a small scratch area, so it belongs to one
 * thread: use {@link #get()} (one per thread, reused) and keep it in a field on hot paths.
 */
public class Syscalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final long ERRNO_OFFSET =
            Linker.Option.captureStateLayout().byteOffset(groupElement("errno"));

    private static final MethodHandle EPOLL_CREATE1 = handle(Linux.epoll_create1$address(), Linux.epoll_create1$descriptor());
    private static final MethodHandle EPOLL_CTL = handle(Linux.epoll_ctl$address(), Linux.epoll_ctl$descriptor());
    private static final MethodHandle EPOLL_WAIT = handle(Linux.epoll_wait$address(), Linux.epoll_wait$descriptor());
    private static final MethodHandle SPLICE = handle(Linux.splice$address(), Linux.splice$descriptor());
    private static final MethodHandle PIPE2 = handle(Linux.pipe2$address(), Linux.pipe2$descriptor());
    private static final MethodHandle FCNTL = LINKER.downcallHandle(Linux.fcntl.address(),
            FunctionDescriptor.of(Linux.C_INT, Linux.C_INT, Linux.C_INT, Linux.C_INT),
            Linker.Option.firstVariadicArg(2), CAPTURE_ERRNO);
    /** ioctl(fd, request, int *): the one variadic form we use (SIOCOUTQ). */
    private static final MethodHandle IOCTL_INT_OUT = LINKER.downcallHandle(Linux.ioctl.address(),
            FunctionDescriptor.of(Linux.C_INT, Linux.C_INT, Linux.C_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(2), CAPTURE_ERRNO);
    private static final MethodHandle RECV = handle(Linux.recv$address(), Linux.recv$descriptor());
    private static final MethodHandle SEND = handle(Linux.send$address(), Linux.send$descriptor());
    private static final MethodHandle READ = handle(Linux.read$address(), Linux.read$descriptor());
    private static final MethodHandle WRITE = handle(Linux.write$address(), Linux.write$descriptor());
    private static final MethodHandle SOCKET = handle(Linux.socket$address(), Linux.socket$descriptor());
    private static final MethodHandle SETSOCKOPT = handle(Linux.setsockopt$address(), Linux.setsockopt$descriptor());
    private static final MethodHandle GETSOCKOPT = handle(Linux.getsockopt$address(), Linux.getsockopt$descriptor());
    private static final MethodHandle BIND = handle(Linux.bind$address(), Linux.bind$descriptor());
    private static final MethodHandle LISTEN = handle(Linux.listen$address(), Linux.listen$descriptor());
    private static final MethodHandle ACCEPT4 = handle(Linux.accept4$address(), Linux.accept4$descriptor());
    private static final MethodHandle CONNECT = handle(Linux.connect$address(), Linux.connect$descriptor());
    private static final MethodHandle SHUTDOWN = handle(Linux.shutdown$address(), Linux.shutdown$descriptor());
    private static final MethodHandle CLOSE = handle(Linux.close$address(), Linux.close$descriptor());
    private static final MethodHandle GETSOCKNAME = handle(Linux.getsockname$address(), Linux.getsockname$descriptor());
    private static final MethodHandle GETPEERNAME = handle(Linux.getpeername$address(), Linux.getpeername$descriptor());
    private static final MethodHandle EVENTFD = handle(Linux.eventfd$address(), Linux.eventfd$descriptor());
    private static final MethodHandle GETRLIMIT = handle(Linux.getrlimit$address(), Linux.getrlimit$descriptor());
    private static final MethodHandle SETRLIMIT = handle(Linux.setrlimit$address(), Linux.setrlimit$descriptor());
    private static final MethodHandle SCHED_SETAFFINITY = handle(Linux.sched_setaffinity$address(), Linux.sched_setaffinity$descriptor());
    private static final MethodHandle SCHED_GETAFFINITY = handle(Linux.sched_getaffinity$address(), Linux.sched_getaffinity$descriptor());
    private static final MethodHandle UNLINK = handle(Linux.unlink$address(), Linux.unlink$descriptor());
    private static final MethodHandle LINK = handle(Linux.link$address(), Linux.link$descriptor());
    private static final MethodHandle RENAME = handle(Linux.rename$address(), Linux.rename$descriptor());
    private static final MethodHandle CHMOD = handle(Linux.chmod$address(), Linux.chmod$descriptor());
    private static final MethodHandle CHOWN = handle(Linux.chown$address(), Linux.chown$descriptor());

    /** Size of one {@code struct epoll_event}: 12 on x86_64 (packed), 16 elsewhere. */
    public static final long EPOLL_EVENT_SIZE = epoll_event.sizeof();
    private static final long EV_EVENTS = epoll_event.events$offset();
    private static final long EV_DATA = epoll_event.data$offset();

    private static final ThreadLocal<Syscalls> PER_THREAD = ThreadLocal.withInitial(Syscalls::new);

    private static final int SCRATCH_INT = 0;      // an int option value, or pipe2's two fds
    private static final int SCRATCH_LEN = 8;      // a socklen_t
    private static final int SCRATCH_EVENT = 16;   // one epoll_event for epoll_ctl
    private static final int SCRATCH_LINGER = 32;  // struct linger
    private static final int SCRATCH_RLIMIT = 48;  // struct rlimit
    private static final int SCRATCH_ADDR = 64;    // a sockaddr_storage
    /** Network byte order, for ports and addresses read out of a sockaddr. */
    private static final ValueLayout.OfShort NET_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt NET_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong NET_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final long SCRATCH_CPUS = SCRATCH_ADDR + sockaddr_storage.sizeof(); // a cpu_set_t
    private static final long SCRATCH_SIZE = SCRATCH_CPUS + cpu_set_t.sizeof();

    /** CPUs a {@code cpu_set_t} can name (glibc's CPU_SETSIZE, 1024): numbers 0 to MAX_CPUS - 1. */
    public static final int MAX_CPUS = (int) (cpu_set_t.sizeof() * 8);

    private final MemorySegment capture;
    private final MemorySegment scratch;
    private final long scratchAddr;

    /**
     * For a test double only (a subclass that fails chosen calls): production code takes
     * {@link #newInstance()} or {@link #get()}. While no subclass is loaded, the JIT treats the
     * class as final, so the hot paths pay nothing for it being open.
     */
    protected Syscalls() {
        Arena arena = Arena.ofAuto();
        capture = arena.allocate(Linker.Option.captureStateLayout());
        scratch = arena.allocate(SCRATCH_SIZE, 16);
        scratchAddr = scratch.address();
    }

    /** A new instance for a thread that owns it for its lifetime (e.g. an event loop). */
    public static Syscalls newInstance() {
        return new Syscalls();
    }

    /** This thread's instance. Hot paths fetch it once and keep it. */
    public static Syscalls get() {
        return PER_THREAD.get();
    }

    private static MethodHandle handle(MemorySegment address, FunctionDescriptor generated) {
        MemoryLayout[] args = generated.argumentLayouts().stream()
                .map(Syscalls::asRawAddress)
                .toArray(MemoryLayout[]::new);
        FunctionDescriptor raw = generated.returnLayout()
                .map(r -> FunctionDescriptor.of(r, args))
                .orElseGet(() -> FunctionDescriptor.ofVoid(args));
        return LINKER.downcallHandle(address, raw, CAPTURE_ERRNO);
    }

    private static MemoryLayout asRawAddress(MemoryLayout layout) {
        if (layout instanceof AddressLayout) {
            return JAVA_LONG;
        }
        if (layout instanceof UnionLayout u && !u.memberLayouts().isEmpty()
                && u.memberLayouts().stream().allMatch(m -> m instanceof AddressLayout)) {
            return JAVA_LONG; // a transparent union of pointers is passed as a pointer
        }
        return layout;
    }

    private int err(int r) {
        return r < 0 ? -capture.get(JAVA_INT, ERRNO_OFFSET) : r;
    }

    private long err(long r) {
        return r < 0 ? -capture.get(JAVA_INT, ERRNO_OFFSET) : r;
    }

    private static long address(MemorySegment buf, long offset, long len) {
        Objects.checkFromIndexSize(offset, len, buf.byteSize());
        return buf.address() + offset;
    }

    private static AssertionError fail(Throwable t) {
        return new AssertionError("downcall failed", t);
    }

    // ---- epoll -------------------------------------------------------------------------------

    public int epollCreate1(int flags) {
        try {
            return err((int) EPOLL_CREATE1.invokeExact(capture, flags));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** epoll_ctl with one event whose data is the 64-bit {@code data} (we pack fd and generation). */
    public int epollCtl(int epfd, int op, int fd, int events, long data) {
        scratch.set(JAVA_INT, SCRATCH_EVENT + EV_EVENTS, events);
        scratch.set(ValueLayout.JAVA_LONG_UNALIGNED, SCRATCH_EVENT + EV_DATA, data);
        try {
            return err((int) EPOLL_CTL.invokeExact(capture, epfd, op, fd, scratchAddr + SCRATCH_EVENT));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** Waits for events into {@code events}, an array of {@code maxEvents} epoll_event structs. */
    public int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMs) {
        long addr = address(events, 0, maxEvents * EPOLL_EVENT_SIZE);
        try {
            return err((int) EPOLL_WAIT.invokeExact(capture, epfd, addr, maxEvents, timeoutMs));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(events);
        }
    }

    /** The events mask of the i-th event in an epoll_wait result array. */
    public static int eventMask(MemorySegment events, int i) {
        return events.get(ValueLayout.JAVA_INT_UNALIGNED, i * EPOLL_EVENT_SIZE + EV_EVENTS);
    }

    /** The 64-bit data of the i-th event in an epoll_wait result array. */
    public static long eventData(MemorySegment events, int i) {
        return events.get(ValueLayout.JAVA_LONG_UNALIGNED, i * EPOLL_EVENT_SIZE + EV_DATA);
    }

    // ---- byte movers -------------------------------------------------------------------------

    public long recv(int fd, MemorySegment buf, long offset, long len, int flags) {
        long addr = address(buf, offset, len);
        try {
            return err((long) RECV.invokeExact(capture, fd, addr, len, flags));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(buf);
        }
    }

    public long send(int fd, MemorySegment buf, long offset, long len, int flags) {
        long addr = address(buf, offset, len);
        try {
            return err((long) SEND.invokeExact(capture, fd, addr, len, flags));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(buf);
        }
    }

    public long read(int fd, MemorySegment buf, long offset, long len) {
        long addr = address(buf, offset, len);
        try {
            return err((long) READ.invokeExact(capture, fd, addr, len));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(buf);
        }
    }

    public long write(int fd, MemorySegment buf, long offset, long len) {
        long addr = address(buf, offset, len);
        try {
            return err((long) WRITE.invokeExact(capture, fd, addr, len));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(buf);
        }
    }

    /** splice between a socket or pipe and a pipe, both offsets NULL (streams have none). */
    public long splice(int fdIn, int fdOut, long len, int flags) {
        try {
            return err((long) SPLICE.invokeExact(capture, fdIn, 0L, fdOut, 0L, len, flags));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** pipe2: returns {@code readFd | (long) writeFd << 32}, or -errno. */
    public long pipe2(int flags) {
        try {
            int r = err((int) PIPE2.invokeExact(capture, scratchAddr + SCRATCH_INT, flags));
            if (r < 0) return r;
        } catch (Throwable t) {
            throw fail(t);
        }
        long rd = scratch.get(JAVA_INT, SCRATCH_INT);
        long wr = scratch.get(JAVA_INT, SCRATCH_INT + 4);
        return rd | wr << 32;
    }

    public int fcntl(int fd, int cmd, int arg) {
        try {
            return err((int) FCNTL.invokeExact(capture, fd, cmd, arg));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    public int eventfd(int initval, int flags) {
        try {
            return err((int) EVENTFD.invokeExact(capture, initval, flags));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- sockets -----------------------------------------------------------------------------

    public int socket(int domain, int type, int protocol) {
        try {
            return err((int) SOCKET.invokeExact(capture, domain, type, protocol));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    public int setIntOption(int fd, int level, int option, int value) {
        scratch.set(JAVA_INT, SCRATCH_INT, value);
        try {
            return err((int) SETSOCKOPT.invokeExact(capture, fd, level, option, scratchAddr + SCRATCH_INT, 4));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** getsockopt for an int option: the value (all we read are >= 0), or -errno. */
    public int getIntOption(int fd, int level, int option) {
        scratch.set(JAVA_INT, SCRATCH_INT, 0);
        scratch.set(JAVA_INT, SCRATCH_LEN, 4);
        try {
            int r = err((int) GETSOCKOPT.invokeExact(capture, fd, level, option,
                    scratchAddr + SCRATCH_INT, scratchAddr + SCRATCH_LEN));
            return r < 0 ? r : scratch.get(JAVA_INT, SCRATCH_INT);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /**
     * Bytes of a TCP socket's send queue the peer has not acknowledged yet (sent or not),
     * ioctl SIOCOUTQ; or -errno. 0 means a reset sent now would destroy nothing of ours.
     */
    public int unackedBytes(int fd) {
        scratch.set(JAVA_INT, SCRATCH_INT, 0);
        try {
            int r = err((int) IOCTL_INT_OUT.invokeExact(capture, fd, (long) Linux.SIOCOUTQ(), scratchAddr + SCRATCH_INT));
            return r < 0 ? r : scratch.get(JAVA_INT, SCRATCH_INT);
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** SO_LINGER; {@code setLinger(fd, true, 0)} makes close() send a reset. */
    public int setLinger(int fd, boolean on, int seconds) {
        MemorySegment l = scratch.asSlice(SCRATCH_LINGER, linger.sizeof());
        linger.l_onoff(l, on ? 1 : 0);
        linger.l_linger(l, seconds);
        try {
            return err((int) SETSOCKOPT.invokeExact(capture, fd, Linux.SOL_SOCKET(), Linux.SO_LINGER(),
                    scratchAddr + SCRATCH_LINGER, (int) linger.sizeof()));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    public int bind(int fd, SockAddr addr) {
        try {
            return err((int) BIND.invokeExact(capture, fd, addr.segment().address(), addr.length()));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(addr); // only its raw address travels: keep its memory alive
        }
    }

    public int listen(int fd, int backlog) {
        try {
            return err((int) LISTEN.invokeExact(capture, fd, backlog));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** accept4 without asking for the peer address (getpeername gives it when wanted). */
    public int accept4(int fd, int flags) {
        try {
            return err((int) ACCEPT4.invokeExact(capture, fd, 0L, 0L, flags));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    public int connect(int fd, SockAddr addr) {
        try {
            return err((int) CONNECT.invokeExact(capture, fd, addr.segment().address(), addr.length()));
        } catch (Throwable t) {
            throw fail(t);
        } finally {
            Reference.reachabilityFence(addr);
        }
    }

    public int shutdown(int fd, int how) {
        try {
            return err((int) SHUTDOWN.invokeExact(capture, fd, how));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    public int close(int fd) {
        try {
            return err((int) CLOSE.invokeExact(capture, fd));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** The local address of a socket; throws with the errno name on failure (not a hot path). */
    public SockAddr getsockname(int fd) {
        return name(GETSOCKNAME, fd, "getsockname");
    }

    /** The peer address of a socket; throws with the errno name on failure (not a hot path). */
    public SockAddr getpeername(int fd) {
        return name(GETPEERNAME, fd, "getpeername");
    }

    /**
     * The peer ({@code peer}) or local address of an IPv4 or IPv6 socket without building an
     * object (a log line's %ci/%cp, %fi/%fp, taken per connection): {@code out[at]} and
     * {@code out[at + 1]} get the 16 address bytes big-endian (an IPv4 address in the low 4 bytes
     * of the second), {@code out[at + 2]} the port. Returns the family (AF_INET, AF_INET6), 0 for
     * another family, or -errno.
     */
    public int socketAddress(int fd, boolean peer, long[] out, int at) {
        scratch.set(JAVA_INT, SCRATCH_LEN, (int) sockaddr_storage.sizeof());
        int r;
        try {
            MethodHandle h = peer ? GETPEERNAME : GETSOCKNAME;
            r = err((int) h.invokeExact(capture, fd, scratchAddr + SCRATCH_ADDR, scratchAddr + SCRATCH_LEN));
        } catch (Throwable t) {
            throw fail(t);
        }
        if (r < 0) return r;
        int fam = Short.toUnsignedInt(scratch.get(ValueLayout.JAVA_SHORT, SCRATCH_ADDR));
        // sin_port and sin6_port are both at offset 2; sin_addr at 4, sin6_addr at 8
        out[at + 2] = Short.toUnsignedInt(scratch.get(NET_SHORT, SCRATCH_ADDR + 2));
        if (fam == SockConst.AF_INET) {
            out[at] = 0;
            out[at + 1] = Integer.toUnsignedLong(scratch.get(NET_INT, SCRATCH_ADDR + 4));
            return fam;
        }
        if (fam == SockConst.AF_INET6) {
            out[at] = scratch.get(NET_LONG, SCRATCH_ADDR + 8);
            out[at + 1] = scratch.get(NET_LONG, SCRATCH_ADDR + 16);
            return fam;
        }
        return 0;
    }

    private SockAddr name(MethodHandle h, int fd, String what) {
        scratch.set(JAVA_INT, SCRATCH_LEN, (int) sockaddr_storage.sizeof());
        int r;
        try {
            r = err((int) h.invokeExact(capture, fd, scratchAddr + SCRATCH_ADDR, scratchAddr + SCRATCH_LEN));
        } catch (Throwable t) {
            throw fail(t);
        }
        if (r < 0) {
            throw new IllegalStateException(what + "(" + fd + "): " + Errno.describe(r));
        }
        // the length matters for a Unix address: an unnamed socket has nothing past the family
        return SockAddr.fromNative(scratch.asSlice(SCRATCH_ADDR, sockaddr_storage.sizeof()),
                scratch.get(JAVA_INT, SCRATCH_LEN));
    }

    // ---- file system (Unix socket files) -----------------------------------------------------

    /*
     * Not hot paths: used when a Unix listening socket is set up or torn down. Each path is copied
     * into a confined arena as a NUL-terminated UTF-8 string for the one call. A path holding a
     * NUL would be cut short there and name another file, so it is refused before any call.
     */

    /** unlink(path): 0 or -errno (-ENOENT when there is nothing to remove). */
    public int unlink(String path) {
        try (Arena a = Arena.ofConfined()) {
            return err((int) UNLINK.invokeExact(capture, cString(a, path)));
        } catch (Throwable t) {
            throw failOrRethrow(t);
        }
    }

    /** link(from, to), a second name for the same file: 0 or -errno (-EEXIST when {@code to} exists). */
    public int link(String from, String to) {
        try (Arena a = Arena.ofConfined()) {
            return err((int) LINK.invokeExact(capture, cString(a, from), cString(a, to)));
        } catch (Throwable t) {
            throw failOrRethrow(t);
        }
    }

    /** rename(from, to), replacing {@code to} atomically if it exists: 0 or -errno. */
    public int rename(String from, String to) {
        try (Arena a = Arena.ofConfined()) {
            return err((int) RENAME.invokeExact(capture, cString(a, from), cString(a, to)));
        } catch (Throwable t) {
            throw failOrRethrow(t);
        }
    }

    /** chmod(path, mode), e.g. {@code 0600}: 0 or -errno. */
    public int chmod(String path, int mode) {
        try (Arena a = Arena.ofConfined()) {
            return err((int) CHMOD.invokeExact(capture, cString(a, path), mode));
        } catch (Throwable t) {
            throw failOrRethrow(t);
        }
    }

    /** chown(path, uid, gid); -1 leaves that id unchanged: 0 or -errno. */
    public int chown(String path, int uid, int gid) {
        try (Arena a = Arena.ofConfined()) {
            return err((int) CHOWN.invokeExact(capture, cString(a, path), uid, gid));
        } catch (Throwable t) {
            throw failOrRethrow(t);
        }
    }

    /** The raw address of {@code path} as a NUL-terminated UTF-8 string in {@code arena}. */
    private static long cString(Arena arena, String path) {
        if (path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("path '" + path.replace("\0", "\\0") + "' contains a NUL character");
        }
        return arena.allocateFrom(path).address();
    }

    private static RuntimeException failOrRethrow(Throwable t) {
        if (t instanceof IllegalArgumentException e) return e;
        throw fail(t);
    }

    // ---- limits ------------------------------------------------------------------------------

    /** RLIMIT_NOFILE as {soft, hard}; throws on failure (start-up only). */
    public long[] getNofileLimit() {
        MemorySegment r = scratch.asSlice(SCRATCH_RLIMIT, rlimit.sizeof());
        int rc;
        try {
            rc = err((int) GETRLIMIT.invokeExact(capture, Linux.RLIMIT_NOFILE(), scratchAddr + SCRATCH_RLIMIT));
        } catch (Throwable t) {
            throw fail(t);
        }
        if (rc < 0) throw new IllegalStateException("getrlimit(RLIMIT_NOFILE): " + Errno.describe(rc));
        return new long[] {rlimit.rlim_cur(r), rlimit.rlim_max(r)};
    }

    /** Sets RLIMIT_NOFILE; returns 0 or -errno. */
    public int setNofileLimit(long soft, long hard) {
        MemorySegment r = scratch.asSlice(SCRATCH_RLIMIT, rlimit.sizeof());
        rlimit.rlim_cur(r, soft);
        rlimit.rlim_max(r, hard);
        try {
            return err((int) SETRLIMIT.invokeExact(capture, Linux.RLIMIT_NOFILE(), scratchAddr + SCRATCH_RLIMIT));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    // ---- CPU affinity ------------------------------------------------------------------------

    /**
     * Pins the calling thread to {@code cpus} (sched_setaffinity on pid 0, which is this thread):
     * 0 or -errno. The kernel keeps only the CPUs that are online and that the thread's cpuset
     * allows, and refuses with EINVAL when none is left; {@link #threadAffinity()} says what it kept.
     * An empty list or a number outside 0 to {@link #MAX_CPUS} - 1 is EINVAL without a call.
     */
    public int setThreadAffinity(int[] cpus) {
        if (cpus.length == 0) return -Errno.EINVAL;
        for (int cpu : cpus) {
            if (cpu < 0 || cpu >= MAX_CPUS) return -Errno.EINVAL;
        }
        for (long off = 0; off < cpu_set_t.sizeof(); off += Long.BYTES) {
            scratch.set(JAVA_LONG, SCRATCH_CPUS + off, 0L);
        }
        for (int cpu : cpus) {
            // cpu_set_t is an array of unsigned longs: CPU n is bit n % 64 of word n / 64
            long word = SCRATCH_CPUS + (long) (cpu >>> 6) * Long.BYTES;
            scratch.set(JAVA_LONG, word, scratch.get(JAVA_LONG, word) | 1L << (cpu & 63));
        }
        try {
            return err((int) SCHED_SETAFFINITY.invokeExact(capture, 0, cpu_set_t.sizeof(), scratchAddr + SCRATCH_CPUS));
        } catch (Throwable t) {
            throw fail(t);
        }
    }

    /** The CPUs the calling thread may run on, in increasing order; throws with the errno name on failure. */
    public int[] threadAffinity() {
        int r;
        try {
            r = err((int) SCHED_GETAFFINITY.invokeExact(capture, 0, cpu_set_t.sizeof(), scratchAddr + SCRATCH_CPUS));
        } catch (Throwable t) {
            throw fail(t);
        }
        if (r < 0) throw new IllegalStateException("sched_getaffinity: " + Errno.describe(r));
        int count = 0;
        for (long off = 0; off < cpu_set_t.sizeof(); off += Long.BYTES) {
            count += Long.bitCount(scratch.get(JAVA_LONG, SCRATCH_CPUS + off));
        }
        int[] cpus = new int[count];
        int i = 0;
        for (int word = 0; word < MAX_CPUS / 64; word++) {
            long bits = scratch.get(JAVA_LONG, SCRATCH_CPUS + (long) word * Long.BYTES);
            while (bits != 0) {
                cpus[i++] = word * 64 + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
            }
        }
        return cpus;
    }
}
