package org.forwarder.sys;

import org.forwarder.linux.Linux;

/**
 * The socket constants the forwarder passes to {@link Syscalls}: families, socket types and
 * flags, option levels and names, send/recv flags and shutdown directions, taken from the
 * generated bindings. Like {@link FdConst}, a copy outside the unexported generated package, as
 * {@code static final int}s the JIT folds.
 */
public final class SockConst {
    private SockConst() {}

    // socket(), accept4()
    public static final int AF_INET = Linux.AF_INET();
    public static final int AF_INET6 = Linux.AF_INET6();
    public static final int AF_UNIX = Linux.AF_UNIX();
    public static final int SOCK_STREAM = Linux.SOCK_STREAM();
    public static final int SOCK_DGRAM = Linux.SOCK_DGRAM();
    public static final int SOCK_NONBLOCK = Linux.SOCK_NONBLOCK();
    public static final int SOCK_CLOEXEC = Linux.SOCK_CLOEXEC();

    // setsockopt, getsockopt
    public static final int SOL_SOCKET = Linux.SOL_SOCKET();
    public static final int SO_REUSEADDR = Linux.SO_REUSEADDR();
    public static final int SO_REUSEPORT = Linux.SO_REUSEPORT();
    public static final int SO_ERROR = Linux.SO_ERROR();
    public static final int SO_KEEPALIVE = Linux.SO_KEEPALIVE();
    public static final int SO_RCVBUF = Linux.SO_RCVBUF();
    public static final int SO_SNDBUF = Linux.SO_SNDBUF();
    public static final int IPPROTO_TCP = Linux.IPPROTO_TCP();
    public static final int TCP_NODELAY = Linux.TCP_NODELAY();

    // send, recv
    public static final int MSG_NOSIGNAL = Linux.MSG_NOSIGNAL();
    public static final int MSG_DONTWAIT = Linux.MSG_DONTWAIT();
    public static final int MSG_PEEK = Linux.MSG_PEEK();
    public static final int MSG_MORE = Linux.MSG_MORE();

    // shutdown
    public static final int SHUT_RD = Linux.SHUT_RD();
    public static final int SHUT_WR = Linux.SHUT_WR();
    public static final int SHUT_RDWR = Linux.SHUT_RDWR();
}
