package org.forwarder.stream;

import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;
import org.forwarder.linux.Linux;
import org.forwarder.poll.FdTab;
import org.forwarder.poll.Task;
import org.forwarder.proxy.Backend;
import org.forwarder.proxy.Frontend;
import org.forwarder.proxy.Server;
import org.forwarder.proxy.Worker;
import org.forwarder.stats.Stats;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;

/**
 * A client connection joined to a server connection: two {@link Channel}s (request, response),
 * the server choice and connect with retries, the backend queue, timeouts and the teardown.
 *
 * <p>Lifecycle: accepted, then queued (every server at maxconn) or connecting, then established,
 * then closed once each direction has forwarded its FIN (graceful), or at once on an error, which
 * is passed on as a reset (SO_LINGER 0) to the other side.
 */
public final class Stream extends Task {
    private static final long NEVER = Long.MAX_VALUE;
    private static final int SOCK_FLAGS = Linux.SOCK_STREAM() | Linux.SOCK_NONBLOCK() | Linux.SOCK_CLOEXEC();

    final Worker worker;
    private final Frontend frontend;
    private final Backend backend;
    private final FdTab fdt;
    private final Syscalls sys;
    private final Timeouts t;
    final Conn client = new Conn(this, true);
    final Conn server = new Conn(this, false);
    final Channel request;
    final Channel response;

    private Server srv;
    private int retriesLeft;
    boolean established;
    boolean closed;
    private boolean connecting;
    /** The client is read from the first server assignment on. */
    private boolean clientReading;
    /** A connect failed and a retry is due at the end of the pass. */
    private boolean retryPending;
    private long connectStart;
    private long queuedAt;

    /** Links in the backend's queue of streams waiting for a server slot. */
    public Stream queuePrev;
    public Stream queueNext;
    public boolean inQueue;
    /** Links in the worker's list of open streams. */
    public Stream livePrev;
    public Stream liveNext;

    public Stream(Worker worker, Frontend frontend, int clientFd) {
        this.worker = worker;
        this.frontend = frontend;
        this.backend = frontend.backend();
        this.fdt = worker.fdTab();
        this.sys = worker.sys();
        this.t = frontend.timeouts();
        this.retriesLeft = backend.config().retries();
        this.client.fd = clientFd;
        SpliceOptions sp = frontend.splice();
        this.request = new Channel(this, client, server, Stats.REQUEST, sp.request(), sp.auto());
        this.response = new Channel(this, server, client, Stats.RESPONSE, sp.response(), sp.auto());
    }

    long now() {
        return worker.now();
    }

    /** Takes the accepted client socket into the loop and looks for a server. */
    public void start() {
        int fd = client.fd;
        sys.setIntOption(fd, Linux.IPPROTO_TCP(), Linux.TCP_NODELAY(), 1);
        // ready from the start: the first recv is tried before any epoll_ctl
        fdt.register(fd, client, true, true);
        client.lastIo = now();
        assignServer(); // arms the timer (queue or connect) unless it already closed the stream
    }

    // ---- events --------------------------------------------------------------------------

    void onIo(Conn c) {
        if (closed) return;
        int st = fdt.state(c.fd);
        if ((st & FdTab.EV_ERR) != 0) {
            if (!c.isClient && connecting) {
                int e = sys.getIntOption(c.fd, Linux.SOL_SOCKET(), Linux.SO_ERROR());
                connectFailed(e > 0 ? e : Errno.ECONNREFUSED);
            } else {
                abort();
            }
            return;
        }
        if (!c.isClient && connecting) {
            if (!connectDone()) return;
            st = fdt.state(c.fd);
        }
        Channel in = c.isClient ? request : response;
        Channel out = c.isClient ? response : request;
        if ((st & (FdTab.ACTIVE_R | FdTab.READY_R)) == (FdTab.ACTIVE_R | FdTab.READY_R)) {
            in.onReadable();
            if (closed) return;
        }
        st = fdt.state(c.fd);
        if ((st & (FdTab.ACTIVE_W | FdTab.READY_W)) == (FdTab.ACTIVE_W | FdTab.READY_W)) {
            out.onWritable();
        }
    }

    /** splice failed with EBADF, EINVAL or ENOSYS: the whole stream goes on copying. */
    void spliceFailed() {
        worker.stats().spliceFallbacks++;
        request.disableSplice();
        response.disableSplice();
    }

    /** A direction read or sent its FIN: maybe the end, maybe a shorter (fin) timeout. */
    void halfClosed() {
        if (request.dstShut && response.dstShut) {
            finish(false);
        } else {
            armTimer();
        }
    }

    /** An I/O error on either side: the other side gets a reset too. */
    void abort() {
        worker.stats().aborts++;
        finish(true);
    }

    @Override
    protected void run() {
        if (closed || established || connecting) return;
        if (srv != null) {
            connect(); // woken from the backend queue with a server slot already taken for us
        } else if (retryPending) {
            retryPending = false;
            assignServer();
        }
    }

    /**
     * The backend hands this queued stream a slot of {@code sv}, already taken; the connect
     * starts at the end of the pass. Should the stream die first, finish() frees the slot again
     * and the next in the queue gets it.
     */
    public void grantSlot(Server sv) {
        srv = sv;
        worker.poller().wake(this);
    }

    // ---- server side ---------------------------------------------------------------------

    private void assignServer() {
        // newcomers queue behind streams already waiting: first come, first served
        Server sv = backend.queued() > 0 ? null : backend.pick();
        if (sv == null) {
            if (!backend.hasUsableServer()) {
                finish(false);
                return;
            }
            backend.enqueue(this);
            fdt.watchErrors(client.fd); // not read while queued, but a reset must end the wait
            queuedAt = now();
            worker.stats().queuedTotal++;
            armTimer();
            return;
        }
        connectTo(sv);
    }

    private void connectTo(Server sv) {
        srv = sv;
        sv.take();
        connect();
    }

    /** Connects to {@code srv}, whose slot this stream holds. */
    private void connect() {
        Server sv = srv;
        connecting = true;
        connectStart = now();
        armTimer();
        if (!clientReading) {
            // read the client only once a server slot is ours: a stream waiting in the queue
            // must not pin a buffer the streams holding the slots need to finish (seed 003)
            clientReading = true;
            fdt.wantRecv(client.fd);
        }
        int fd = sys.socket(sv.address().family(), SOCK_FLAGS, 0);
        if (fd < 0) {
            connectFailed(-fd);
            return;
        }
        if (fd >= fdt.capacity()) {
            sys.close(fd); // the fd limit was raised behind our back: treat it as EMFILE
            connectFailed(Errno.EMFILE);
            return;
        }
        sys.setIntOption(fd, Linux.IPPROTO_TCP(), Linux.TCP_NODELAY(), 1);
        server.fd = fd;
        // not ready either way: no recv before the connection is confirmed
        fdt.register(fd, server, false, false);
        int r = sys.connect(fd, sv.address());
        if (r == 0) {
            fdt.maySend(fd);
            connected();
        } else if (r == -Errno.EINPROGRESS) {
            fdt.wantSend(fd);
        } else {
            connectFailed(-r);
        }
    }

    /** The server socket became writable (or hung up): did the connect succeed? */
    private boolean connectDone() {
        int e = sys.getIntOption(server.fd, Linux.SOL_SOCKET(), Linux.SO_ERROR());
        if (e != 0) {
            connectFailed(e < 0 ? -e : e);
            return false;
        }
        connected();
        return !closed;
    }

    private void connected() {
        connecting = false;
        established = true;
        server.lastIo = now();
        client.lastIo = now(); // time spent queued or connecting was not the client's silence
        fdt.stopSend(server.fd);
        fdt.wantRecv(server.fd);
        armTimer();
        request.forward();
        if (!closed) request.afterIo();
    }

    private void connectFailed(int errno) {
        worker.stats().connectFailures++;
        if (srv != null) srv.connectFailed();
        connecting = false;
        if (server.fd >= 0) closeFd(server, false);
        releaseServer();
        if (retriesLeft > 0 && !closed) {
            retriesLeft--;
            worker.stats().connectRetries++;
            // from the run queue, not recursively: a connect that fails at once must not
            // nest one call per retry (a large 'retries' would overflow the stack)
            retryPending = true;
            worker.poller().wake(this);
        } else {
            finish(false);
        }
    }

    private void releaseServer() {
        Server sv = srv;
        if (sv != null) {
            srv = null;
            sv.release();
            backend.slotFreed();
        }
    }

    // ---- timeouts ------------------------------------------------------------------------

    private long deadline() {
        if (inQueue) {
            long q = t.queueMs() > 0 ? t.queueMs() : t.connectMs();
            return q > 0 ? queuedAt + q : NEVER;
        }
        if (connecting) {
            return t.connectMs() > 0 ? connectStart + t.connectMs() : NEVER;
        }
        if (!established) return NEVER;
        boolean clientHalf = request.srcShut || response.dstShut;
        boolean serverHalf = response.srcShut || request.dstShut;
        long d = NEVER;
        long tunnel = t.tunnelMs();
        if (tunnel > 0) d = Math.max(client.lastIo, server.lastIo) + tunnel;
        long ct = clientHalf && t.clientFinMs() > 0 ? t.clientFinMs() : (tunnel > 0 ? 0 : t.clientMs());
        if (ct > 0) d = Math.min(d, client.lastIo + ct);
        long st = serverHalf && t.serverFinMs() > 0 ? t.serverFinMs() : (tunnel > 0 ? 0 : t.serverMs());
        if (st > 0) d = Math.min(d, server.lastIo + st);
        return d;
    }

    /** Arms the timer at the stream's deadline unless it already fires earlier (lazy re-arm). */
    private void armTimer() {
        long d = deadline();
        if (d == NEVER) worker.poller().timers().cancel(this);
        else worker.poller().timers().scheduleNoLaterThan(this, d);
    }

    @Override
    protected void onTimer(long nowMs) {
        if (closed) return;
        long d = deadline();
        if (d > nowMs) {
            if (d != NEVER) worker.poller().timers().schedule(this, d);
            return;
        }
        if (connecting) {
            connectFailed(Errno.ETIMEDOUT);
            return;
        }
        worker.stats().timeouts++;
        finish(false);
    }

    // ---- teardown ------------------------------------------------------------------------

    private void finish(boolean reset) {
        if (closed) return;
        closed = true;
        worker.poller().timers().cancel(this);
        if (inQueue) backend.dequeue(this);
        request.release();
        response.release();
        closeFd(client, reset);
        if (server.fd >= 0) closeFd(server, reset);
        worker.streamClosed(this, frontend);
        releaseServer();
    }

    private void closeFd(Conn c, boolean reset) {
        int fd = c.fd;
        if (reset) sys.setLinger(fd, true, 0); // close() now sends a reset, as the peer did
        fdt.unregister(fd);
        sys.close(fd);
        c.fd = -1;
    }

    /** Closes the stream now (shutdown after the grace period). */
    public void kill() {
        finish(false);
    }

    // ---- for tests and stats -------------------------------------------------------------

    public boolean isClosed() { return closed; }
}
