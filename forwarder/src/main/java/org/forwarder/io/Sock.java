package org.forwarder.io;

import org.forwarder.sys.SockAddr;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

/**
 * A TCP socket's life outside the byte moving ({@link RawSock} does that): creating it
 * non-blocking and close-on-exec, its options, a non-blocking connect and its outcome, the
 * half-close that forwards a FIN, and the two ways to close, plain or with a reset.
 *
 * <p>Why one class: the stream code (the session's connect and teardown, a direction's FIN, the
 * listener) and the health checks to come must open, connect, judge and close sockets the same
 * way, with the same flags; written once here, they cannot drift apart. It is also the only place
 * above the syscall layer that knows which option or flag does what.
 *
 * <p>Conventions, as in {@link Syscalls}: every method returns {@code n >= 0} or {@code -errno},
 * never throws for an errno and allocates nothing; the caller decides what a failure means.
 * Static methods on the caller's {@link Syscalls} (one per thread): there is no state to keep.
 */
public final class Sock {
    /** Every socket we make or accept: non-blocking (the loop never waits in a call), not inherited by children. */
    private static final int FLAGS = SockConst.SOCK_NONBLOCK | SockConst.SOCK_CLOEXEC;

    private Sock() {}

    /** A new non-blocking, close-on-exec TCP socket of {@code family} (an address's {@link SockAddr#family()}); fd or -errno. */
    public static int open(Syscalls sys, int family) {
        return sys.socket(family, SockConst.SOCK_STREAM | FLAGS, 0);
    }

    /** Takes a pending connection of listening socket {@code lfd}, non-blocking and close-on-exec; fd or -errno. */
    public static int accept(Syscalls sys, int lfd) {
        return sys.accept4(lfd, FLAGS);
    }

    /** SO_REUSEADDR, for a listening socket: binding again while old connections linger in TIME_WAIT. */
    public static int reuseAddress(Syscalls sys, int fd) {
        return sys.setIntOption(fd, SockConst.SOL_SOCKET, SockConst.SO_REUSEADDR, 1);
    }

    /**
     * SO_REUSEPORT, for a listening socket that shares its address with the other event loops'
     * sockets: the kernel spreads new connections over the group by a hash of their addresses.
     * Only sockets of the same user may join a group.
     */
    public static int reusePort(Syscalls sys, int fd) {
        return sys.setIntOption(fd, SockConst.SOL_SOCKET, SockConst.SO_REUSEPORT, 1);
    }

    /**
     * TCP_NODELAY: small writes go out at once (a relay must not add Nagle's delay to its peers');
     * setting it again also pushes out what MSG_MORE held back.
     */
    public static int noDelay(Syscalls sys, int fd) {
        return sys.setIntOption(fd, SockConst.IPPROTO_TCP, SockConst.TCP_NODELAY, 1);
    }

    /**
     * Starts a non-blocking connect: 0 if already connected (it happens on loopback),
     * {@code -EINPROGRESS} while under way (wait for writability, then ask
     * {@link #pendingError}), any other {@code -errno} if it failed at once.
     */
    public static int connect(Syscalls sys, int fd, SockAddr to) {
        return sys.connect(fd, to);
    }

    /**
     * SO_ERROR, read and cleared: 0 when the socket has no error (after a connect under way: it
     * succeeded), the socket's errno ({@code > 0}, e.g. ECONNREFUSED) when it has one, or
     * {@code -errno} when getsockopt itself failed.
     */
    public static int pendingError(Syscalls sys, int fd) {
        return sys.getIntOption(fd, SockConst.SOL_SOCKET, SockConst.SO_ERROR);
    }

    /** shutdown(SHUT_WR): the peer reads the end of stream once it has every byte sent before. */
    public static int shutdownWrite(Syscalls sys, int fd) {
        return sys.shutdown(fd, SockConst.SHUT_WR);
    }

    /**
     * Closes {@code fd}. With {@code reset}, SO_LINGER 0 first, so the close sends a RST and
     * drops what the socket still holds, instead of the orderly FIN: the peer sees
     * ECONNRESET and cannot take a cut stream for a complete one. Returns close's 0 or -errno.
     */
    public static int close(Syscalls sys, int fd, boolean reset) {
        if (reset) sys.setLinger(fd, true, 0);
        return sys.close(fd);
    }
}
