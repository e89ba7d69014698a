package org.forwarder.io;

import org.forwarder.poll.FdTab;
import org.forwarder.sys.Errno;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;

/**
 * recv/send/splice with the rules learned the hard way, applied to the fd's polling state:
 * <ul>
 * <li>a short read or write means the socket is drained or full: mark it not ready instead of
 *     calling again just to collect EAGAIN;</li>
 * <li>EAGAIN (and ENOTCONN before a connect completes) means wait: mark not ready, poll;</li>
 * <li>recv() == 0 is a read shutdown;</li>
 * <li>MSG_NOSIGNAL on every send: a closed peer is an EPIPE, not a signal.</li>
 * </ul>
 * Results: bytes moved (&gt; 0), {@link #AGAIN}, {@link #SHUT} or {@link #ERROR} with
 * {@link #lastErrno()}. Nothing allocates, nothing throws.
 *
 * <p>Counts its calls and the EAGAINs among them in plain fields (one increment per syscall; the
 * loop alone uses this object), which the loop copies into its counter block after each pass.
 */
public final class RawSock {
    public static final long AGAIN = 0;
    public static final long SHUT = -1;
    public static final long ERROR = -2;

    private static final int SEND_FLAGS = SockConst.MSG_NOSIGNAL | SockConst.MSG_DONTWAIT;
    private static final int SEND_MORE_FLAGS = SEND_FLAGS | SockConst.MSG_MORE;
    private static final int SPLICE_FLAGS = FdConst.SPLICE_F_MOVE | FdConst.SPLICE_F_NONBLOCK;

    private final Syscalls sys;
    private final FdTab fdTab;
    /** Where {@link #peek} puts its byte: one per loop, made once. */
    private final MemorySegment peekByte = java.lang.foreign.Arena.ofAuto().allocate(1);
    private int lastErrno;
    private long recvCalls, recvAgain, sendCalls, sendAgain, spliceCalls, spliceAgain;

    public RawSock(Syscalls sys, FdTab fdTab) {
        this.sys = sys;
        this.fdTab = fdTab;
    }

    public int lastErrno() {
        return lastErrno;
    }

    public long recvCalls() { return recvCalls; }
    public long recvAgain() { return recvAgain; }
    public long sendCalls() { return sendCalls; }
    public long sendAgain() { return sendAgain; }
    public long spliceCalls() { return spliceCalls; }
    public long spliceAgain() { return spliceAgain; }

    public long recv(int fd, MemorySegment buf, long offset, long len) {
        long n = sys.recv(fd, buf, offset, len, 0);
        recvCalls++;
        if (n > 0) {
            if (n < len) fdTab.cantRecv(fd);
            return n;
        }
        if (n == 0) return SHUT;
        return readFailure(fd, (int) -n);
    }

    public long send(int fd, MemorySegment buf, long offset, long len) {
        return send(fd, buf, offset, len, false);
    }

    /**
     * Whether a recv would find bytes ({@code 1}), the end of stream ({@link #SHUT}), nothing yet
     * ({@link #AGAIN}, the fd marked not ready) or an error, without taking any byte and without a
     * buffer (MSG_PEEK of one byte). recv's view, not splice's: it steps over an urgent mark.
     */
    public long peek(int fd) {
        long n = sys.recv(fd, peekByte, 0, 1, SockConst.MSG_PEEK);
        recvCalls++;
        if (n > 0) return n;
        if (n == 0) return SHUT;
        return readFailure(fd, (int) -n);
    }

    /**
     * send(); with {@code more}, MSG_MORE tells the kernel more bytes follow at once, so it may
     * hold a partial segment to merge them. Whoever says {@code more} must {@link #push} when the
     * bytes do not come after all.
     */
    public long send(int fd, MemorySegment buf, long offset, long len, boolean more) {
        long n = sys.send(fd, buf, offset, len, more ? SEND_MORE_FLAGS : SEND_FLAGS);
        sendCalls++;
        if (n >= 0) {
            if (n < len) fdTab.cantSend(fd);
            return n;
        }
        if (n == -Errno.EAGAIN) sendAgain++;
        return writeFailure(fd, (int) -n);
    }

    /** Sends what MSG_MORE held back: setting TCP_NODELAY pushes pending segments out. */
    public void push(int fd) {
        Sock.noDelay(sys, fd);
    }

    /** socket -> pipe. 0 bytes from splice is a read shutdown, as for recv. */
    public long spliceIn(int fd, int pipeWrite, long len) {
        long n = sys.splice(fd, pipeWrite, len, SPLICE_FLAGS);
        spliceCalls++;
        if (n > 0) return n;
        if (n == 0) return SHUT;
        int e = (int) -n;
        if (e == Errno.EAGAIN) {
            spliceAgain++;
            // ambiguous: no data, or no room in the pipe; the caller knows which from the pipe
            return AGAIN;
        }
        lastErrno = e;
        return e == Errno.EINTR ? AGAIN : ERROR;
    }

    /** pipe -> socket. A partial write marks the socket not ready. */
    public long spliceOut(int pipeRead, int fd, long len) {
        long n = sys.splice(pipeRead, fd, len, SPLICE_FLAGS);
        spliceCalls++;
        if (n > 0) {
            if (n < len) fdTab.cantSend(fd);
            return n;
        }
        if (n == 0) {
            fdTab.cantSend(fd);
            return AGAIN;
        }
        if (n == -Errno.EAGAIN) spliceAgain++;
        return writeFailure(fd, (int) -n);
    }

    private long readFailure(int fd, int e) {
        if (e == Errno.EAGAIN || e == Errno.ENOTCONN) {
            if (e == Errno.EAGAIN) recvAgain++;
            fdTab.cantRecv(fd);
            return AGAIN;
        }
        if (e == Errno.EINTR) return AGAIN;
        lastErrno = e;
        return ERROR;
    }

    private long writeFailure(int fd, int e) {
        if (e == Errno.EAGAIN || e == Errno.ENOTCONN) {
            fdTab.cantSend(fd);
            return AGAIN;
        }
        if (e == Errno.EINTR) return AGAIN;
        lastErrno = e;
        return ERROR;
    }
}
