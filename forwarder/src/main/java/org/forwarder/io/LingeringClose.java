package org.forwarder.io;

import org.forwarder.poll.FdTab;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;

/**
 * Closing a request/answer connection (the CLI, the metrics endpoint) after its last answer
 * without destroying that answer. A close with bytes the client sent still unread makes the
 * kernel send a reset, and a reset discards what the client has not yet read of the answer. So
 * when something is left unread, the write side is shut instead (the client reads the answer,
 * then the end) and what comes is read and dropped until the client closes; only then is the
 * socket closed. Callers bound that wait with their idle timeout.
 */
public final class LingeringClose {
    private LingeringClose() {}

    /** Whether the client sent bytes not read yet (one non-blocking peek; a gone peer counts as none). */
    public static boolean unread(Syscalls sys, int fd, MemorySegment scratch) {
        return sys.recv(fd, scratch, 0, 1, SockConst.MSG_DONTWAIT | SockConst.MSG_PEEK) > 0;
    }

    /** Shuts the write side and watches only for input: what the client sends from now on is dropped. */
    public static void shutWrite(Syscalls sys, FdTab fdTab, int fd) {
        Sock.shutdownWrite(sys, fd);
        fdTab.stopSend(fd);
        fdTab.mayRecv(fd);
    }

    /**
     * Reads and drops what is there, {@code chunk} bytes at a time into {@code buf}; true when
     * the client has closed (or failed): the caller closes the socket. False when nothing more is
     * there for now (EAGAIN; the fd waits for input).
     */
    public static boolean discard(Syscalls sys, FdTab fdTab, int fd, MemorySegment buf, int chunk) {
        while (true) {
            long n = sys.recv(fd, buf, 0, chunk, SockConst.MSG_DONTWAIT);
            if (n == -Errno.EAGAIN) {
                fdTab.cantRecv(fd);
                return false;
            }
            if (n == -Errno.EINTR) continue;
            if (n <= 0) return true;
        }
    }
}
