package org.forwarder.sys;

import org.forwarder.linux.Linux;

/**
 * The errno values the forwarder reacts to, taken from the generated bindings (so they are the
 * platform's, not our guess), plus names for messages. Syscall wrappers return {@code -errno}.
 */
public final class Errno {
    private Errno() {}

    public static final int EPERM = Linux.EPERM();
    public static final int ENOENT = Linux.ENOENT();
    public static final int EINTR = Linux.EINTR();
    public static final int EBADF = Linux.EBADF();
    public static final int EAGAIN = Linux.EAGAIN();
    public static final int ENOMEM = Linux.ENOMEM();
    public static final int EACCES = Linux.EACCES();
    public static final int EFAULT = Linux.EFAULT();
    public static final int EINVAL = Linux.EINVAL();
    public static final int ENFILE = Linux.ENFILE();
    public static final int EMFILE = Linux.EMFILE();
    public static final int ENOSPC = Linux.ENOSPC();
    public static final int EPIPE = Linux.EPIPE();
    public static final int ENOSYS = Linux.ENOSYS();
    public static final int ENOTSOCK = Linux.ENOTSOCK();
    public static final int EADDRINUSE = Linux.EADDRINUSE();
    public static final int EADDRNOTAVAIL = Linux.EADDRNOTAVAIL();
    public static final int ENETUNREACH = Linux.ENETUNREACH();
    public static final int ECONNABORTED = Linux.ECONNABORTED();
    public static final int ECONNRESET = Linux.ECONNRESET();
    public static final int ENOBUFS = Linux.ENOBUFS();
    public static final int EISCONN = Linux.EISCONN();
    public static final int ENOTCONN = Linux.ENOTCONN();
    public static final int ETIMEDOUT = Linux.ETIMEDOUT();
    public static final int ECONNREFUSED = Linux.ECONNREFUSED();
    public static final int EHOSTUNREACH = Linux.EHOSTUNREACH();
    public static final int EALREADY = Linux.EALREADY();
    public static final int EINPROGRESS = Linux.EINPROGRESS();
    public static final int EEXIST = Linux.EEXIST();
    public static final int ENOTDIR = Linux.ENOTDIR();
    public static final int ENAMETOOLONG = Linux.ENAMETOOLONG();

    /** The symbolic name of an errno value (positive or negated), e.g. "ECONNREFUSED". */
    public static String name(int errno) {
        int e = Math.abs(errno);
        if (e == EPERM) return "EPERM";
        if (e == ENOENT) return "ENOENT";
        if (e == EINTR) return "EINTR";
        if (e == EBADF) return "EBADF";
        if (e == EAGAIN) return "EAGAIN";
        if (e == ENOMEM) return "ENOMEM";
        if (e == EACCES) return "EACCES";
        if (e == EFAULT) return "EFAULT";
        if (e == EINVAL) return "EINVAL";
        if (e == ENFILE) return "ENFILE";
        if (e == EMFILE) return "EMFILE";
        if (e == ENOSPC) return "ENOSPC";
        if (e == EPIPE) return "EPIPE";
        if (e == ENOSYS) return "ENOSYS";
        if (e == ENOTSOCK) return "ENOTSOCK";
        if (e == EADDRINUSE) return "EADDRINUSE";
        if (e == EADDRNOTAVAIL) return "EADDRNOTAVAIL";
        if (e == ENETUNREACH) return "ENETUNREACH";
        if (e == ECONNABORTED) return "ECONNABORTED";
        if (e == ECONNRESET) return "ECONNRESET";
        if (e == ENOBUFS) return "ENOBUFS";
        if (e == EISCONN) return "EISCONN";
        if (e == ENOTCONN) return "ENOTCONN";
        if (e == ETIMEDOUT) return "ETIMEDOUT";
        if (e == ECONNREFUSED) return "ECONNREFUSED";
        if (e == EHOSTUNREACH) return "EHOSTUNREACH";
        if (e == EALREADY) return "EALREADY";
        if (e == EINPROGRESS) return "EINPROGRESS";
        if (e == EEXIST) return "EEXIST";
        if (e == ENOTDIR) return "ENOTDIR";
        if (e == ENAMETOOLONG) return "ENAMETOOLONG";
        return "errno " + e;
    }

    /** A message for humans: the name and what it usually means here. */
    public static String describe(int errno) {
        int e = Math.abs(errno);
        String what;
        if (e == EADDRINUSE) what = "address already in use";
        else if (e == ECONNREFUSED) what = "connection refused";
        else if (e == EACCES) what = "permission denied";
        else if (e == EADDRNOTAVAIL) what = "address not available on this host";
        else if (e == EMFILE) what = "too many open files for this process: see ulimit -n";
        else if (e == ENFILE) what = "too many open files in the system";
        else if (e == ECONNRESET) what = "connection reset by peer";
        else if (e == ETIMEDOUT) what = "timed out";
        else if (e == ENETUNREACH) what = "network unreachable";
        else if (e == EHOSTUNREACH) what = "host unreachable";
        else if (e == EBADF) what = "bad file descriptor";
        else if (e == EINVAL) what = "invalid argument";
        else if (e == EPIPE) what = "broken pipe";
        else if (e == ENOENT) what = "no such file or directory";
        else if (e == EEXIST) what = "file exists";
        else if (e == ENOTDIR) what = "not a directory";
        else if (e == ENAMETOOLONG) what = "file name too long";
        else what = null;
        return what == null ? name(e) : name(e) + " (" + what + ")";
    }
}
