package org.forwarder.proxy;

import org.forwarder.io.Sock;
import org.forwarder.poll.FdHandler;
import org.forwarder.poll.FdTab;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

/**
 * A listening socket of a frontend, owned by one event loop. Accepts in bounded batches per pass
 * (accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC); pauses instead of spinning when a maxconn is reached
 * or the process runs out of fds, and resumes when a connection closes. With several loops each
 * has its own socket on the same address (SO_REUSEPORT) and the kernel spreads connections.
 *
 * <p>Limits are process-wide: a place is taken before each accept (so loops accepting at the same
 * moment never overshoot a maxconn together) and given back when there was nothing to accept.
 */
public final class Listener implements FdHandler {
    private static final int ACCEPT_BATCH = 64;

    private final Worker worker;
    private final Frontend frontend;
    private final SockAddr requested;
    private final String where;
    private int fd = -1;
    private SockAddr bound;
    /** Why the listener does not poll: {@link #RUNNING}, or paused at a connection limit or for lack of fds. */
    private int pause = RUNNING;
    static final int RUNNING = 0;
    static final int AT_LIMIT = 1;
    static final int NO_FDS = 2;

    Listener(Worker worker, Frontend frontend, SockAddr requested, String where) {
        this.worker = worker;
        this.frontend = frontend;
        this.requested = requested;
        this.where = where;
    }

    /**
     * Binds and listens, on {@code address} if not null (the port another loop's socket already
     * resolved), else on the configured address; {@code sharePort}: join the other loops' sockets
     * on that address (SO_REUSEPORT). Throws with the address, the config line and the errno.
     */
    void open(int backlog, boolean sharePort, SockAddr address) {
        Syscalls sys = worker.sys();
        int s = bound(address == null ? requested : address, sharePort);
        int r = sys.listen(s, backlog);
        if (r < 0) {
            sys.close(s);
            throw failure("listen", r);
        }
        fd = s;
        bound = sys.getsockname(s);
        worker.fdTab().register(fd, this, true, false);
        worker.fdTab().wantRecv(fd);
    }

    /**
     * Before the loops' sockets join a SO_REUSEPORT group on the configured address: binds it once
     * without SO_REUSEPORT, so an address another process holds fails here with EADDRINUSE, as
     * with one loop, instead of this process silently sharing the port with it. Returns the
     * address with its port resolved (for port 0), to open every loop's socket on.
     */
    SockAddr probe() {
        Syscalls sys = worker.sys();
        int s = bound(requested, false);
        SockAddr at = sys.getsockname(s);
        sys.close(s);
        return at;
    }

    /** A new socket bound to {@code at} (SO_REUSEADDR; SO_REUSEPORT with {@code sharePort}); throws on failure. */
    private int bound(SockAddr at, boolean sharePort) {
        Syscalls sys = worker.sys();
        int s = Sock.open(sys, at.family());
        if (s < 0) throw failure("socket", s);
        Sock.reuseAddress(sys, s);
        int r = sharePort ? Sock.reusePort(sys, s) : 0;
        if (r < 0) {
            sys.close(s);
            throw failure("setsockopt(SO_REUSEPORT)", r);
        }
        r = sys.bind(s, at);
        if (r < 0) {
            sys.close(s);
            throw failure("bind", r);
        }
        return s;
    }

    private IllegalStateException failure(String call, int r) {
        return new IllegalStateException(where + ": cannot listen on " + requested + " for '"
                + frontend.name() + "': " + call + ": " + Errno.describe(r));
    }

    public SockAddr boundAddress() { return bound; }
    public Frontend frontend() { return frontend; }
    boolean isPaused() { return pause != RUNNING; }
    /** {@link #RUNNING}, {@link #AT_LIMIT} or {@link #NO_FDS}. */
    int pauseReason() { return pause; }

    @Override
    public void onIo(int lfd) {
        FdTab fdt = worker.fdTab();
        fdt.clearEvents(lfd); // a listener has no error to act on: accept() reports it
        for (int i = 0; i < ACCEPT_BATCH; i++) {
            if (!worker.takeConnection(frontend)) {
                worker.atConnectionLimit(this);
                return;
            }
            int c = Sock.accept(worker.sys(), lfd);
            if (c >= 0) {
                if (c >= fdt.capacity()) {
                    worker.sys().close(c); // cannot happen while the fd budget holds
                    worker.releaseConnection(frontend);
                    continue;
                }
                worker.accepted(this, c);
                continue;
            }
            worker.releaseConnection(frontend);
            int e = -c;
            if (e == Errno.EAGAIN) {
                fdt.cantRecv(lfd);
                return;
            }
            if (e == Errno.EMFILE || e == Errno.ENFILE || e == Errno.ENOBUFS || e == Errno.ENOMEM) {
                worker.outOfFds(this, e);
                return;
            }
            // ECONNABORTED, EINTR, EPROTO...: that connection is gone, the next one may be fine
        }
        // batch used up: the fd stays ready and active, so the next pass continues
    }


    void pause(int reason) {
        if (pause != RUNNING) {
            pause = reason; // the latest reason decides what resumes it
            return;
        }
        pause = reason;
        worker.stats().inc(ProcessCounter.ACCEPT_PAUSES);
        worker.fdTab().stopRecv(fd);
    }

    void resume() {
        if (pause == RUNNING || fd < 0) return;
        pause = RUNNING;
        worker.fdTab().wantRecv(fd);
    }

    void close() {
        if (fd < 0) return;
        worker.fdTab().unregister(fd);
        worker.sys().close(fd);
        fd = -1;
    }
}
