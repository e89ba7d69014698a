package org.forwarder.log;

import org.forwarder.config.LogTarget;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;

/**
 * One open log target, used by the log writer's thread only: standard output or error (written
 * whole, blocking: only the writer waits), or a datagram socket connected to a UDP syslog
 * address or a Unix socket such as {@code /dev/log}, sent to without waiting (a datagram that
 * finds no room is lost, as with syslog over UDP). A Unix socket whose reader is not there (yet,
 * or any more: syslog restarted) is connected again, at most once a second.
 */
final class LogSink {
    private static final long RECONNECT_NS = 1_000_000_000L;

    final LogTarget target;
    private int fd = -1;
    private boolean connected;
    private long nextConnect;
    /** Datagrams the kernel refused (no room, no reader): a rough measure for a test or a debug session. */
    long failed;

    LogSink(LogTarget target) {
        this.target = target;
    }

    /** Opens the socket (not for stdout/stderr); a connect that fails is tried again at the first send. */
    void open(Syscalls sys) {
        switch (target.kind()) {
            case STDOUT -> fd = 1;
            case STDERR -> fd = 2;
            default -> {
                int s = sys.socket(target.address().family(), SockConst.SOCK_DGRAM | SockConst.SOCK_NONBLOCK
                        | SockConst.SOCK_CLOEXEC, 0);
                if (s < 0) {
                    throw new IllegalStateException("log " + target.label() + " (" + target.where() + "): socket: "
                            + Errno.describe(s));
                }
                fd = s;
                connect(sys);
            }
        }
    }

    private void connect(Syscalls sys) {
        nextConnect = System.nanoTime() + RECONNECT_NS;
        connected = sys.connect(fd, target.address()) == 0;
    }

    /** Sends {@code len} bytes of {@code buf} as one line (one datagram); false if it was lost. */
    boolean send(Syscalls sys, MemorySegment buf, int len) {
        if (fd < 0) return false;
        if (target.kind() == LogTarget.Kind.STDOUT || target.kind() == LogTarget.Kind.STDERR) {
            long off = 0;
            while (off < len) {
                long n = sys.write(fd, buf, off, len - off);
                if (n == -Errno.EINTR) continue;
                if (n <= 0) {
                    failed++;
                    return false;
                }
                off += n;
            }
            return true;
        }
        if (!connected) {
            if (System.nanoTime() - nextConnect < 0) {
                failed++;
                return false;
            }
            connect(sys);
            if (!connected) {
                failed++;
                return false;
            }
        }
        int flags = SockConst.MSG_DONTWAIT | SockConst.MSG_NOSIGNAL;
        long n = sys.send(fd, buf, 0, len, flags);
        if (n == -Errno.ECONNREFUSED) {
            // UDP: an earlier datagram met no listener (the ICMP error is reported once); Unix: the
            // reader went away. Send once more; a Unix socket is connected again first.
            if (target.kind() == LogTarget.Kind.UNIX) {
                connect(sys);
                if (!connected) {
                    failed++;
                    return false;
                }
            }
            n = sys.send(fd, buf, 0, len, flags);
        } else if (n == -Errno.ENOTCONN && target.kind() == LogTarget.Kind.UNIX) {
            connect(sys);
            if (connected) n = sys.send(fd, buf, 0, len, flags);
        }
        if (n < 0) {
            failed++;
            return false;
        }
        return true;
    }

    void close(Syscalls sys) {
        if (fd > 2) sys.close(fd);
        fd = -1;
    }
}
