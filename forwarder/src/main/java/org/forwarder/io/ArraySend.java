package org.forwarder.io;

import org.forwarder.poll.FdTab;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Sends an answer built on the heap (the CLI's, the metrics page) through a native buffer,
 * without waiting: as much as the socket takes now, {@code chunk} bytes per call.
 */
public final class ArraySend {
    private ArraySend() {}

    /**
     * Sends {@code out[off, end)}: the offset reached ({@code end} when everything went; below it
     * the socket is full and the fd now waits for room), or -1 when the socket failed.
     */
    public static int send(Syscalls sys, FdTab fdTab, int fd, byte[] out, int off, int end, MemorySegment buf, int chunk) {
        while (off < end) {
            int len = Math.min(end - off, chunk);
            MemorySegment.copy(out, off, buf, ValueLayout.JAVA_BYTE, 0, len);
            long n = sys.send(fd, buf, 0, len, SockConst.MSG_NOSIGNAL | SockConst.MSG_DONTWAIT);
            if (n == -Errno.EAGAIN) {
                fdTab.cantSend(fd);
                fdTab.wantSend(fd);
                return off;
            }
            if (n == -Errno.EINTR) continue;
            if (n < 0) return -1;
            off += (int) n;
        }
        return off;
    }
}
