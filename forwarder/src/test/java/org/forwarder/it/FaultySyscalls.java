package org.forwarder.it;

import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test double of the syscall layer: the real calls, except that the next few accept4() or
 * splice-into-a-pipe calls fail with a chosen errno. Tests arm it from their own thread while
 * the loop runs; production classes carry no injection hooks.
 */
public final class FaultySyscalls extends Syscalls {
    private final AtomicInteger acceptFailures = new AtomicInteger();
    private volatile int acceptErrno;
    private final AtomicInteger spliceInFailures = new AtomicInteger();
    private volatile int spliceInErrno;

    /** The next {@code count} accept4() calls fail with {@code errno}. */
    public void failAccepts(int errno, int count) {
        acceptErrno = errno;
        acceptFailures.set(count);
    }

    /** The next {@code count} splice() calls into a pipe (socket to pipe) fail with {@code errno}. */
    public void failSpliceIns(int errno, int count) {
        spliceInErrno = errno;
        spliceInFailures.set(count);
    }

    @Override
    public int accept4(int fd, int flags) {
        if (take(acceptFailures)) return -acceptErrno;
        return super.accept4(fd, flags);
    }

    @Override
    public long splice(int fdIn, int fdOut, long len, int flags) {
        if (spliceInFailures.get() > 0 && super.fcntl(fdOut, FdConst.F_GETPIPE_SZ, 0) > 0 && take(spliceInFailures)) {
            return -spliceInErrno;
        }
        return super.splice(fdIn, fdOut, len, flags);
    }

    private static boolean take(AtomicInteger left) {
        int n;
        do {
            n = left.get();
            if (n <= 0) return false;
        } while (!left.compareAndSet(n, n - 1));
        return true;
    }
}
