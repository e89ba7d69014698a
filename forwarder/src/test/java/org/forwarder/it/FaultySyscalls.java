package org.forwarder.it;

import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test double of the syscall layer: the real calls, except for the faults a test arms from its
 * own thread while the loop runs (failing accept4, splice into a pipe or connect; pipes the
 * kernel shrank; peers that stop acknowledging; a socket error), and counts of the calls a test
 * wants to bound (shutdown, SO_ERROR reads). Production classes carry no injection hooks.
 */
public final class FaultySyscalls extends Syscalls {
    /** The faults armed, shared by the instances of every loop ({@link #sibling()}). */
    private static final class Plan {
        final AtomicInteger acceptFailures = new AtomicInteger();
        volatile int acceptErrno;
        final AtomicInteger spliceInFailures = new AtomicInteger();
        volatile int spliceInErrno;
        final AtomicInteger connectFailures = new AtomicInteger();
        volatile int connectErrno;
        volatile int shrunkPipeSize;
        volatile boolean peersNeverAcknowledge;
        volatile int pendingSocketError;
        final java.util.concurrent.atomic.AtomicLong shutdowns = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong soErrorReads = new java.util.concurrent.atomic.AtomicLong();
    }

    /** shutdown() calls made so far, by every loop. */
    public long shutdowns() {
        return plan.shutdowns.get();
    }

    /** SO_ERROR reads made so far, by every loop. */
    public long soErrorReads() {
        return plan.soErrorReads.get();
    }

    @Override
    public int shutdown(int fd, int how) {
        plan.shutdowns.incrementAndGet();
        return super.shutdown(fd, how);
    }

    private final Plan plan;

    public FaultySyscalls() {
        this(new Plan());
    }

    private FaultySyscalls(Plan plan) {
        this.plan = plan;
    }

    /**
     * An instance for another loop's thread (each has its own scratch memory) with the same
     * faults: what a test arms on this one fails on whichever loop meets it.
     */
    public FaultySyscalls sibling() {
        return new FaultySyscalls(plan);
    }

    /** The next {@code count} accept4() calls fail with {@code errno}. */
    public void failAccepts(int errno, int count) {
        plan.acceptErrno = errno;
        plan.acceptFailures.set(count);
    }

    /** The next {@code count} splice() calls into a pipe (socket to pipe) fail with {@code errno}. */
    public void failSpliceIns(int errno, int count) {
        plan.spliceInErrno = errno;
        plan.spliceInFailures.set(count);
    }

    /** The next {@code count} connect() calls fail at once (synchronously) with {@code errno}. */
    public void failConnects(int errno, int count) {
        plan.connectErrno = errno;
        plan.connectFailures.set(count);
    }

    /**
     * Pipes report {@code size} bytes (as the kernel's 2-slot pipes past the per-user limit do)
     * and refuse to grow with EPERM; 0 turns this off.
     */
    public void shrinkPipes(int size) {
        plan.shrunkPipeSize = size;
    }

    /** Every socket reports unacknowledged bytes in its send queue (a peer that stopped acknowledging). */
    public void peersNeverAcknowledge() {
        plan.peersNeverAcknowledge = true;
    }

    /** From now on, SO_ERROR reads {@code errno} on every socket (as after the peer's reset). */
    public void reportSocketError(int errno) {
        plan.pendingSocketError = errno;
    }

    @Override
    public int connect(int fd, org.forwarder.sys.SockAddr addr) {
        if (take(plan.connectFailures)) return -plan.connectErrno;
        return super.connect(fd, addr);
    }

    @Override
    public int fcntl(int fd, int cmd, int arg) {
        int size = plan.shrunkPipeSize;
        if (size > 0 && cmd == FdConst.F_SETPIPE_SZ) return -org.forwarder.sys.Errno.EPERM;
        if (size > 0 && cmd == FdConst.F_GETPIPE_SZ && super.fcntl(fd, cmd, arg) > 0) return size;
        return super.fcntl(fd, cmd, arg);
    }

    @Override
    public int unackedBytes(int fd) {
        int real = super.unackedBytes(fd);
        return plan.peersNeverAcknowledge && real >= 0 ? Math.max(real, 1000) : real;
    }

    @Override
    public int getIntOption(int fd, int level, int option) {
        if (level == org.forwarder.sys.SockConst.SOL_SOCKET && option == org.forwarder.sys.SockConst.SO_ERROR) {
            plan.soErrorReads.incrementAndGet();
        }
        int e = plan.pendingSocketError;
        if (e != 0 && level == org.forwarder.sys.SockConst.SOL_SOCKET && option == org.forwarder.sys.SockConst.SO_ERROR) return e;
        return super.getIntOption(fd, level, option);
    }

    @Override
    public int accept4(int fd, int flags) {
        if (take(plan.acceptFailures)) return -plan.acceptErrno;
        return super.accept4(fd, flags);
    }

    @Override
    public long splice(int fdIn, int fdOut, long len, int flags) {
        if (plan.spliceInFailures.get() > 0 && super.fcntl(fdOut, FdConst.F_GETPIPE_SZ, 0) > 0 && take(plan.spliceInFailures)) {
            return -plan.spliceInErrno;
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
