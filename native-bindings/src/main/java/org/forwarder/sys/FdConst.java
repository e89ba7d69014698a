package org.forwarder.sys;

import org.forwarder.linux.Linux;

/**
 * The epoll, eventfd, fcntl, pipe and splice constants the forwarder passes to {@link Syscalls},
 * taken from the generated bindings (the platform's values, not our guess).
 *
 * <p>Why a copy here: the generated {@code org.forwarder.linux} package is not exported from
 * this module (see {@code module-info.java}), so code above the syscall layer cannot depend on
 * jextract's output, whose shape changes with its version. Plain {@code static final int}s are
 * folded by the JIT like literals, so hot paths pay nothing for the indirection.
 */
public final class FdConst {
    private FdConst() {}

    // epoll_create1, epoll_ctl, epoll_event.events
    public static final int EPOLL_CLOEXEC = Linux.EPOLL_CLOEXEC();
    public static final int EPOLL_CTL_ADD = Linux.EPOLL_CTL_ADD();
    public static final int EPOLL_CTL_MOD = Linux.EPOLL_CTL_MOD();
    public static final int EPOLL_CTL_DEL = Linux.EPOLL_CTL_DEL();
    public static final int EPOLLIN = Linux.EPOLLIN();
    public static final int EPOLLOUT = Linux.EPOLLOUT();
    public static final int EPOLLERR = Linux.EPOLLERR();
    public static final int EPOLLHUP = Linux.EPOLLHUP();
    public static final int EPOLLRDHUP = Linux.EPOLLRDHUP();
    public static final int EPOLLET = Linux.EPOLLET();

    // eventfd
    public static final int EFD_NONBLOCK = Linux.EFD_NONBLOCK();
    public static final int EFD_CLOEXEC = Linux.EFD_CLOEXEC();

    // pipe2, fcntl
    public static final int O_NONBLOCK = Linux.O_NONBLOCK();
    public static final int O_CLOEXEC = Linux.O_CLOEXEC();
    public static final int F_GETFL = Linux.F_GETFL();
    public static final int F_SETFL = Linux.F_SETFL();
    public static final int F_GETPIPE_SZ = Linux.F_GETPIPE_SZ();
    public static final int F_SETPIPE_SZ = Linux.F_SETPIPE_SZ();

    // splice
    public static final int SPLICE_F_MOVE = Linux.SPLICE_F_MOVE();
    public static final int SPLICE_F_NONBLOCK = Linux.SPLICE_F_NONBLOCK();
    public static final int SPLICE_F_MORE = Linux.SPLICE_F_MORE();
}
