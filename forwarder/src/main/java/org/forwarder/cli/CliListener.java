package org.forwarder.cli;

import org.forwarder.config.StatsConfig;
import org.forwarder.io.Sock;
import org.forwarder.poll.FdHandler;
import org.forwarder.poll.Poller;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

/**
 * One listening stats socket on the control loop. A Unix socket is bound under a temporary
 * name, given its mode, then renamed over the configured path, as HAProxy does: a client never
 * finds the path missing or with the wrong mode, and a stale file of an earlier run is replaced.
 */
final class CliListener implements FdHandler {
    private static final int BACKLOG = 16;

    private final Poller poller;
    private final Syscalls sys;
    private final int fd;
    private final String path; // null for TCP
    final StatsConfig.Level level;
    private final CliSessions sessions;
    private boolean paused;

    private CliListener(Poller poller, int fd, String path, StatsConfig.Level level, CliSessions sessions) {
        this.poller = poller;
        this.sys = poller.sys();
        this.fd = fd;
        this.path = path;
        this.level = level;
        this.sessions = sessions;
        poller.fdTab().register(fd, this, true, false);
        poller.fdTab().wantRecv(fd);
    }

    static CliListener open(Poller poller, StatsConfig.Socket s, CliSessions sessions) {
        Syscalls sys = poller.sys();
        SockAddr a = s.address();
        String name = "stats socket " + (a.isUnix() ? a.path() : "ipv4@" + a) + " (" + s.where() + ")";
        int fd = Sock.open(sys, a.family());
        if (fd < 0) throw new IllegalStateException(name + ": socket: " + Errno.describe(fd));
        try {
            if (a.isUnix()) {
                String tmp = a.path() + "." + ProcessHandle.current().pid() + ".tmp";
                SockAddr at;
                try {
                    at = SockAddr.unix(tmp);
                } catch (IllegalArgumentException e) {
                    throw new IllegalStateException(name + ": temporary name '" + tmp + "': " + e.getMessage());
                }
                sys.unlink(tmp);
                check(sys.bind(fd, at), name, "bind " + tmp);
                if (s.mode() != StatsConfig.Socket.NO_MODE) {
                    int r = sys.chmod(tmp, s.mode());
                    if (r < 0) {
                        sys.unlink(tmp);
                        check(r, name, "chmod " + tmp);
                    }
                }
                int r = sys.listen(fd, BACKLOG);
                if (r >= 0) r = sys.rename(tmp, a.path());
                if (r < 0) {
                    sys.unlink(tmp);
                    check(r, name, "listen/rename");
                }
                return new CliListener(poller, fd, a.path(), s.level(), sessions);
            }
            check(Sock.reuseAddress(sys, fd), name, "SO_REUSEADDR");
            check(sys.bind(fd, a), name, "bind");
            check(sys.listen(fd, BACKLOG), name, "listen");
            return new CliListener(poller, fd, null, s.level(), sessions);
        } catch (RuntimeException e) {
            sys.close(fd);
            throw e;
        }
    }

    private static void check(int r, String name, String what) {
        if (r < 0) throw new IllegalStateException(name + ": " + what + ": " + Errno.describe(r));
    }

    @Override
    public void onIo(int ignored) {
        while (!paused) {
            if (sessions.full()) {
                pause();
                return;
            }
            int c = Sock.accept(sys, fd);
            if (c < 0) {
                if (c == -Errno.EINTR) continue;
                // EAGAIN, or out of fds: wait for the next event rather than spin
                poller.fdTab().cantRecv(fd);
                return;
            }
            sessions.open(c, level);
        }
    }

    /** {@code stats maxconn} reached: stop accepting (the kernel's backlog holds the others). */
    void pause() {
        paused = true;
        poller.fdTab().stopRecv(fd);
    }

    void resume() {
        if (!paused) return;
        paused = false;
        poller.fdTab().mayRecv(fd);
        poller.fdTab().wantRecv(fd);
    }

    void close() {
        poller.fdTab().unregister(fd);
        sys.close(fd);
        if (path != null) sys.unlink(path);
    }
}
