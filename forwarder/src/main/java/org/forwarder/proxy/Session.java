package org.forwarder.proxy;

import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;
import org.forwarder.io.RawSock;
import org.forwarder.io.Sock;
import org.forwarder.log.LogRecord;
import org.forwarder.poll.FdTab;
import org.forwarder.poll.Task;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.FreqCtr;
import org.forwarder.stats.ProcessRate;
import org.forwarder.stats.ProxyAverage;
import org.forwarder.stats.ProxyRate;
import org.forwarder.stats.LoopCounters;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.stream.Channel;
import org.forwarder.stream.ChannelOwner;
import org.forwarder.stream.Conn;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;

/**
 * A client connection joined to a server connection: two {@link Channel}s (request, response),
 * the server choice and connect with retries, the backend queue, timeouts and the teardown.
 *
 * <p>States ({@link #state}) and what moves a stream from one to the next:
 * <pre>
 *  state          holds a slot  timer                      event -&gt; next state
 *  NEW            no            -                          a server has a slot -&gt; CONNECTING; all full -&gt; WAITING_SLOT
 *  WAITING_SLOT   no            timeout queue              slot granted -&gt; TO_CONNECT; timeout, client reset -&gt; CLOSED
 *  TO_CONNECT     yes           - (end of the pass)        client still there -&gt; CONNECTING; it left -&gt; CLOSED
 *  CONNECTING     yes           timeout connect            connected -&gt; ESTABLISHED
 *                                                          refused/error, retries left -&gt; TURNAROUND (same server),
 *                                                            or TO_REDISPATCH (option redispatch on this retry)
 *                                                          timeout or local error, retries left -&gt; TO_CONNECT
 *                                                            (same server, at once) or TO_REDISPATCH (at once)
 *                                                          no retries left, or the client reset -&gt; CLOSED
 *  TURNAROUND     yes           min(timeout connect, 1 s)  due, client still there -&gt; CONNECTING; it left -&gt; CLOSED
 *  TO_REDISPATCH  no            turn-around, or at once    due -&gt; CONNECTING or WAITING_SLOT (a fresh pick)
 *  ESTABLISHED    yes           per-direction timeouts     both FINs passed on -&gt; CLOSED (clean)
 *                                                          a peer reset, its bytes out but not yet acknowledged
 *                                                            -&gt; PASSING_RESET; acknowledged -&gt; CLOSED (reset)
 *                                                          timeout, forced stop -&gt; CLOSED
 *  PASSING_RESET  yes           polls the acknowledgements acknowledged, peer timeout, its reset -&gt; CLOSED (reset)
 *  CLOSED         no            -                          -
 * </pre>
 * Timeouts ({@link #deadline}), timers ({@link #onTimer}) and end-of-pass work ({@link #run})
 * switch on the state; the retry policy (which server, how long to wait) is HAProxy's.
 *
 * <p>Threads: a session lives on the loop that accepted its client, and only that loop's thread
 * touches it, with one exception: while it waits in its backend's queue, another loop that frees
 * a slot may grant it one ({@link #granted}, under the backend's lock) and wake it; it collects
 * the grant in {@link #run} on its own thread. Its counters go to its own loop's blocks.
 * The client is read only once established: a stream that waits (queue, connect, turn-around)
 * pins no buffer the established streams need (seed 003), whichever way it came to wait. While it
 * waits, only a reset of the client is watched for.
 *
 * <p>Timeouts follow HAProxy's per-direction expirations: a side is timed out only for its own
 * silence. It is "expected to send" while we read it (not while we hold it back for lack of room
 * or of a buffer), and "expected to take" while we hold bytes for it; either wait restarts with
 * progress, and bytes written to a side count as that side's activity too.
 *
 * <p>Endings: both FINs forwarded is a clean close. A peer's reset (or I/O error) ends the stream
 * with a reset to the other side, but only after the bytes that peer sent before it are
 * delivered. A timeout or a forced stop resets every side that has bytes in flight toward or from
 * it, so no truncated stream ever ends with a clean FIN; an idle stream is closed cleanly.
 *
 * <p>Logs: the first cause that ends a stream is kept as HAProxy's termination state
 * ({@link #terminate}: C client, S server, P proxy, K killed, c/s a client/server timeout, with
 * the phase from the state: Q queue, C connect, D data); at the end, a frontend that logs gets
 * the stream's figures copied into its loop's log ring ({@link #logLine}), no allocation, and
 * the log writer formats the line.
 *
 * <p>Pooling: the session object, with its two {@link Conn}s and {@link Channel}s, is reused by
 * its loop for later streams ({@link Worker}'s free list), so that accepting a connection
 * makes no objects. {@link #init} sets every per-stream field again, frontend-dependent ones
 * included (a loop serves several frontends), with a new {@link #id}. An object is reused only
 * once CLOSED with {@link #finish} complete (timer cancelled, queue left or a grant passed on,
 * buffers and pipes released, fds unregistered, log line copied), and only after the pass in
 * which it closed. What may still hold it then is a wake of the old stream: a run-queue entry,
 * or another loop's grant wake in the remote stack. Those links are the poller's and are left
 * alone, and {@link #run} takes a stale wake as a no-op in every state: WAITING_SLOT collects
 * only a grant recorded for the current wait (null otherwise), TO_CONNECT and TO_REDISPATCH are
 * entered only together with a wake of their own (an earlier pending one just stands in for it),
 * TO_REDISPATCH waits for its own retry time, and the other states ignore a wake.
 */
public final class Session extends Task implements ChannelOwner {
    private static final long NEVER = Long.MAX_VALUE;
    /** HAProxy's turn-around: wait min(timeout connect, 1 s) before connecting again after an error. */
    private static final long MAX_TURNAROUND_MS = 1_000;
    /** How soon, then how seldom at most, a reset waiting for the peer's acknowledgements looks again. */
    private static final long RESET_POLL_MS = 10;
    private static final long RESET_POLL_MAX_MS = 1_000;

    final Worker worker;
    private final LoopCounters counters;
    private final CounterBlock<ProcessCounter> loopStats;
    private final FdTab fdt;
    private final Syscalls sys;
    /** BytesOutRate of this loop. */
    private final FreqCtr bytesRate;
    final Conn client = new Conn(this, true);
    final Conn server = new Conn(this, false);
    final Channel request;
    final Channel response;

    static final int NEW = 0;
    static final int WAITING_SLOT = 1;
    static final int TO_CONNECT = 2;
    static final int CONNECTING = 3;
    static final int TURNAROUND = 4;
    static final int TO_REDISPATCH = 5;
    static final int ESTABLISHED = 6;
    static final int PASSING_RESET = 7;
    static final int CLOSED = 8;

    // ---- per stream: every field below is set again by init() (the object is pooled) ----------

    /** The stream's number for the runtime API ({@code show sess}, {@code shutdown session}); see {@link Worker#nextSessionId}. */
    long id;
    private Frontend frontend;
    private Backend backend;
    private Timeouts t;
    private CounterBlock<ProxyCounter> feStats;
    private CounterBlock<ProxyCounter> beStats;
    /** The block of {@link #srv} in this loop's counters, while it has one. */
    private CounterBlock<ProxyCounter> srvStats;
    /** One of the states above; see the table in the class comment. */
    private int state = CLOSED;
    private Server srv;
    /** Retries done so far (HAProxy's conn_retries), against the backend's 'retries'. */
    private int retriesDone;
    /** TURNAROUND and TO_REDISPATCH: when to try again. */
    private long retryAt;
    private long connectStart;
    private long queuedAt;
    /** For the time averages (ms, the loop's clock): the accept, time queued so far, the first connect, the connection up. */
    private long startedAt;
    private long queueMs;
    private long firstConnectAt;
    private long connectedAt;
    /** For the log line: accept date (epoch ms), bytes read from the client (%U) and the server (%B). */
    private long acceptEpochMs;
    private long bytesIn;
    private long bytesOut;
    /** HAProxy's termination state: what ended the stream and in which phase; 0 while none. */
    private char termCause;
    private char termPhase;
    private boolean redispatched;
    /** The backend queue's length, this stream included, when it entered it (%bq, as HAProxy shows it: 1 alone). */
    private int queuePosition;
    private boolean queuedEver;
    /** The client's address and the one it connected to, read at accept when the frontend logs. */
    private int clientFamily;
    private long clientHi;
    private long clientLo;
    private int clientPort;
    private int frontFamily;
    private long frontHi;
    private long frontLo;
    private int frontPort;
    /** PASSING_RESET: the side that gets the reset once it acknowledged our last bytes. */
    private Conn resetTarget;
    private long resetPollAt;
    private long resetPollEvery;
    private int resetUnacked;

    /**
     * Sets every per-stream field for a new stream of {@code frontend} on client socket
     * {@code clientFd}, on a new object or a recycled one (closed, finish() done). The fields it
     * leaves alone, and why: the queue links and {@link #granted} (empty once finish() left the
     * backend's queue, and guarded by the backend's lock), the live-set links (set by
     * {@link LiveSet#add} right after), and the poller's links inherited from {@link Task} (the
     * run queue, the remote-wake stack, the timer heap): a wake of the previous stream may still
     * be pending there, and {@link #run} ignores a stale one in every state.
     */
    void init(Frontend frontend, int clientFd) {
        this.id = worker.nextSessionId();
        this.frontend = frontend;
        this.backend = frontend.backend();
        this.t = frontend.timeouts();
        this.feStats = counters.row(frontend.statsRow);
        this.beStats = counters.row(backend.statsRow);
        this.srvStats = null;
        this.state = NEW;
        this.srv = null;
        this.retriesDone = 0;
        this.retryAt = 0;
        this.connectStart = 0;
        this.queuedAt = 0;
        this.startedAt = worker.now();
        this.queueMs = 0;
        this.firstConnectAt = -1;
        this.connectedAt = -1;
        this.acceptEpochMs = System.currentTimeMillis();
        this.bytesIn = 0;
        this.bytesOut = 0;
        this.termCause = 0;
        this.termPhase = 0;
        this.redispatched = false;
        this.queuePosition = 0;
        this.queuedEver = false;
        this.clientFamily = 0;
        this.clientHi = 0;
        this.clientLo = 0;
        this.clientPort = 0;
        this.frontFamily = 0;
        this.frontHi = 0;
        this.frontLo = 0;
        this.frontPort = 0;
        this.resetTarget = null;
        this.resetPollAt = 0;
        this.resetPollEvery = 0;
        this.resetUnacked = 0;
        client.init(clientFd);
        server.init(-1);
        SpliceOptions sp = frontend.splice();
        request.init(sp.request(), sp.auto());
        response.init(sp.response(), sp.auto());
    }

    /** Links in a {@link WaitQueue} and in a {@link LiveSet}: only those two touch them. */
    private Session queuePrev;
    private Session queueNext;
    private boolean inQueue;
    private Session livePrev;
    private Session liveNext;
    /**
     * WAITING_SLOT: a slot another loop (or this one) took for this session and handed over, not
     * yet collected. Guarded by the backend's lock, like the queue links.
     */
    Server granted;

    /** A stream object of {@code worker}'s loop, closed until {@link #init} starts a stream in it. */
    Session(Worker worker) {
        this.worker = worker;
        this.counters = worker.counters();
        this.loopStats = worker.stats();
        this.fdt = worker.fdTab();
        this.sys = worker.sys();
        this.bytesRate = counters.rate(ProcessRate.BYTES_OUT_RATE);
        this.request = new Channel(this, worker.io(), client, server, Channel.REQUEST);
        this.response = new Channel(this, worker.io(), server, client, Channel.RESPONSE);
    }

    /**
     * Link in the worker's lists of closed stream objects (closed this pass, free): only
     * {@link Worker} touches it, and only while the object is closed and out of the live set.
     */
    Session nextClosed;

    @Override
    public long now() {
        return worker.now();
    }

    @Override
    public boolean isClosed() {
        return state == CLOSED;
    }

    /** The server connection is up (established, or passing a peer's reset on). */
    @Override
    public boolean isConnected() {
        return state == ESTABLISHED || state == PASSING_RESET;
    }

    /** Takes the accepted client socket into the loop and looks for a server. */
    void start() {
        feStats.inc(ProxyCounter.STOT);
        feStats.add(ProxyCounter.SCUR, 1);
        beStats.inc(ProxyCounter.STOT);
        beStats.add(ProxyCounter.SCUR, 1);
        long clock = worker.poller().clockMs();
        counters.rate(backend.statsRow, ProxyRate.RATE).add(clock, 1);
        backend.rateMax.update(counters.registry().rate(backend.statsRow, ProxyRate.RATE, clock));
        backend.streamStarted();
        int fd = client.fd;
        if (frontend.logs) readAddresses(fd);
        Sock.noDelay(sys, fd);
        // ready from the start: the first recv, once connected, is tried before any epoll_ctl
        fdt.register(fd, client, true, true);
        assignServer(); // arms the timer (queue or connect) unless it already closed the stream
    }

    // ---- events --------------------------------------------------------------------------

    @Override
    public void onIo(Conn c) {
        if (state == CLOSED) return;
        int st = fdt.state(c.fd);
        if (!c.isClient && state == CONNECTING) {
            if ((st & FdTab.EV_ERR) != 0) {
                int e = Sock.pendingError(sys, c.fd);
                connectFailed(e > 0 ? e : Errno.ECONNREFUSED, true);
                return;
            }
            if (!connectDone()) return;
            st = fdt.state(c.fd);
        } else if ((st & FdTab.EV_ERR) != 0 && !c.failed) {
            if (!isConnected()) {
                clientFailedWhileWaiting();
                return;
            }
            if (resetTarget == c) {
                finish(true, true); // it reset too: it wants nothing more from us
                return;
            }
            // the bytes the peer sent before its reset are still queued: read them below
            peerFailed(c);
            if (state == CLOSED) return;
            st = fdt.state(c.fd);
        }
        Channel in = c.isClient ? request : response;
        Channel out = c.isClient ? response : request;
        if ((st & (FdTab.ACTIVE_R | FdTab.READY_R)) == (FdTab.ACTIVE_R | FdTab.READY_R)) {
            in.onReadable();
            if (state == CLOSED) return;
        }
        st = fdt.state(c.fd);
        if ((st & (FdTab.ACTIVE_W | FdTab.READY_W)) == (FdTab.ACTIVE_W | FdTab.READY_W)) {
            out.onWritable();
        }
    }

    /** splice failed with EBADF, EINVAL or ENOSYS: the whole stream goes on copying. */
    @Override
    public void spliceFailed() {
        loopStats.inc(ProcessCounter.SPLICE_FALLBACKS);
        request.disableSplice();
        response.disableSplice();
    }

    /** A direction read or sent its FIN: maybe the end, maybe a shorter (fin) timeout. */
    @Override
    public boolean otherFinSent(Channel c) {
        return (c == request ? response : request).finSent();
    }

    @Override
    public void halfClosed() {
        if (request.dstShut() && response.dstShut()) {
            finish(false, false);
        } else {
            armTimer();
        }
    }

    /**
     * Peer {@code c} reset (or failed with an I/O error). Nothing more can be sent to it, so what
     * is held for it is dropped; but the bytes it sent before the reset are still readable, and
     * go to the other side first. The other side then gets the reset ({@link #passResetOn}).
     * The failed socket leaves epoll (its error would be reported on every pass) and is read
     * from the fd cache as room allows.
     */
    @Override
    public void peerFailed(Conn c) {
        if (c.failed || state == CLOSED) return;
        terminate(c.isClient ? 'C' : 'S');
        c.failed = true;
        Conn other = c.isClient ? server : client;
        Channel from = c.isClient ? request : response;
        Channel toward = c.isClient ? response : request;
        toward.drop();
        if (other.failed || !isConnected()) {
            finish(true, true); // nothing can be delivered any more
            return;
        }
        countAbort(c.isClient);
        fdt.detach(c.fd);
        if (from.dstShut()) {
            passResetOn(other); // its stream was complete, FIN included
            return;
        }
        if (!from.srcShut()) fdt.wantRecv(c.fd);
        from.afterIo(); // already read and delivered everything: pass the reset on now
        if (state != CLOSED) armTimer();
    }

    /**
     * The client reset (or failed) while its stream waited for a server. While the connect is
     * under way, bytes it sent before that are still in its socket, and as on an established
     * stream (or a direct connection) they go to the server once connected, then the reset.
     * With none, or while it only waited for a slot or a retry (no server is talking to it yet),
     * the stream ends now and the server never hears of it.
     */
    private void clientFailedWhileWaiting() {
        terminateClientAbort();
        countAbort(true);
        if (state != CONNECTING || worker.raw().peek(client.fd) <= 0) {
            finish(true, true);
            return;
        }
        client.failed = true;
        fdt.detach(client.fd); // its error would be reported on every pass; it is read once connected
    }

    /**
     * Before a waiting stream connects (again): is its client still there? A client that closed
     * with nothing to send, or reset, gets no more connects: HAProxy stops too (its request
     * channel is closed and empty). A client that sent bytes before its FIN is served: its
     * bytes and the FIN go out once connected. One MSG_PEEK per attempt, so a client that left
     * during a long retry or queue wait costs at most one more look.
     */
    private boolean clientLeft() {
        long p = worker.raw().peek(client.fd);
        if (p != RawSock.SHUT && p != RawSock.ERROR) return false;
        terminateClientAbort();
        countAbort(true);
        finish(p == RawSock.ERROR, p == RawSock.ERROR);
        return true;
    }

    /**
     * Everything the failed peer sent has been handed to {@code target}'s socket: reset it. A
     * reset (linger-0 close) destroys what the socket has not yet had acknowledged, so while
     * some of those bytes are still on their way, wait: look again every {@link #RESET_POLL_MS},
     * for as long as the peer keeps taking them within its timeout.
     */
    @Override
    public void passResetOn(Conn target) {
        int unacked = sys.unackedBytes(target.fd);
        if (unacked <= 0) {
            finish(true, true);
            return;
        }
        state = PASSING_RESET;
        resetTarget = target;
        resetUnacked = unacked;
        target.writeSince = now();
        resetPollEvery = RESET_POLL_MS;
        resetPollAt = now() + resetPollEvery;
        armTimer();
    }

    /**
     * The reset waits for our last bytes to be acknowledged: are they? Looks again sooner while
     * the peer takes them, less often (up to once a second) while it does not; gives up at its
     * timeout, or when the peer itself reset (its fd may be out of epoll after a hang-up).
     */
    private void pollResetTarget(long nowMs) {
        int unacked = sys.unackedBytes(resetTarget.fd);
        if (unacked <= 0 || Sock.pendingError(sys, resetTarget.fd) != 0) {
            finish(true, true);
            return;
        }
        if (unacked < resetUnacked) {
            resetUnacked = unacked;
            resetTarget.writeSince = nowMs; // the peer is taking them
            resetPollEvery = RESET_POLL_MS;
        } else {
            resetPollEvery = Math.min(RESET_POLL_MAX_MS, resetPollEvery * 2);
        }
        long timeout = resetTarget.isClient ? clientTimeout() : serverTimeout();
        if (timeout > 0 && nowMs >= resetTarget.writeSince + timeout) {
            countTimeout();
            finish(true, true); // it stopped taking them: cut, as any stream with bytes in flight
            return;
        }
        resetPollAt = nowMs + resetPollEvery;
        worker.poller().timers().schedule(this, resetPollAt);
    }

    /**
     * End-of-pass work: a connect or a fresh pick that must not nest in the call that decided it,
     * or a slot granted while queued (maybe by another loop, which woke this one).
     */
    @Override
    protected void run() {
        switch (state) {
            case WAITING_SLOT -> {
                Server sv = backend.collect(this);
                if (sv == null) return; // woken for an earlier wait
                queueMs += now() - queuedAt;
                gotSlot(sv);
                state = TO_CONNECT;
                retryNow();
            }
            case TO_CONNECT -> retryNow(); // granted from the queue, or retrying at once
            case TO_REDISPATCH -> {
                if (retryAt <= now()) retryNow();
            }
            default -> { } // woken for a state it has left since
        }
    }

    /** TO_CONNECT, TURNAROUND or TO_REDISPATCH is due: connect (again), or pick a server again. */
    private void retryNow() {
        if (clientLeft()) return;
        if (state == TO_REDISPATCH) assignServer();
        else connect();
    }

    /**
     * Under the backend's lock, on the loop that freed a slot: this queued stream was granted one
     * ({@link #granted}); its own loop collects it at the end of its pass. Should the stream die
     * first, finish() gives the slot to the next in the queue.
     */
    void wakeForGrant() {
        if (Thread.currentThread() == worker.poller().thread()) worker.poller().wake(this);
        else worker.poller().wakeFromAnyThread(this);
    }

    boolean inQueue() {
        return inQueue;
    }

    /** The next stream of its loop's live set, or null. */
    Session liveNext() {
        return liveNext;
    }

    /** The server whose slot it holds, or null. */
    Server server() {
        return srv;
    }

    /** This stream now holds a slot of {@code sv}. */
    private void gotSlot(Server sv) {
        srv = sv;
        srvStats = counters.row(sv.statsRow);
        srvStats.inc(ProxyCounter.STOT);
        srvStats.add(ProxyCounter.SCUR, 1);
        long clock = worker.poller().clockMs();
        counters.rate(sv.statsRow, ProxyRate.RATE).add(clock, 1);
        sv.rateMax.update(counters.registry().rate(sv.statsRow, ProxyRate.RATE, clock));
    }

    // ---- server side ---------------------------------------------------------------------

    private void assignServer() {
        if (!backend.hasUsableServer()) {
            terminate('S'); // HAProxy: no server to connect to is the server side's failure
            finish(false, false);
            return;
        }
        // newcomers queue behind streams already waiting: first come, first served
        state = WAITING_SLOT; // before the backend can grant a slot to it
        Server sv = backend.assign(this, counters);
        if (sv == null) {
            fdt.watchErrors(client.fd); // not read while queued, but a reset must end the wait
            queuePosition = backend.queued();
            queuedEver = true;
            queuedAt = now();
            loopStats.inc(ProcessCounter.QUEUED);
            armTimer();
            return;
        }
        gotSlot(sv);
        connect();
    }

    /** Connects to {@code srv}, whose slot this stream holds. */
    private void connect() {
        Server sv = srv;
        state = CONNECTING;
        connectStart = now();
        if (firstConnectAt < 0) firstConnectAt = connectStart;
        armTimer();
        int fd = Sock.open(sys, sv.address().family());
        if (fd < 0) {
            connectFailed(-fd, false);
            return;
        }
        if (fd >= fdt.capacity()) {
            sys.close(fd); // the fd limit was raised behind our back: treat it as EMFILE
            connectFailed(Errno.EMFILE, false);
            return;
        }
        // the client is not read before the connection is up, but its reset must end the wait
        fdt.watchErrors(client.fd);
        Sock.noDelay(sys, fd);
        server.fd = fd;
        // not ready either way: no recv before the connection is confirmed
        fdt.register(fd, server, false, false);
        int r = Sock.connect(sys, fd, sv.address());
        if (r == 0) {
            fdt.maySend(fd);
            connected();
        } else if (r == -Errno.EINPROGRESS) {
            fdt.wantSend(fd);
        } else {
            connectFailed(-r, false);
        }
    }

    /**
     * The server socket became writable (or hung up): did the connect succeed? Writable without a
     * hang-up or an error is a completed handshake (Linux reports a failed connect with EPOLLERR
     * and EPOLLHUP), so SO_ERROR is read only when there is one: a syscall fewer per connection,
     * as HAProxy.
     */
    private boolean connectDone() {
        if ((fdt.state(server.fd) & (FdTab.EV_HUP | FdTab.EV_ERR)) == 0) {
            connected();
            return state != CLOSED;
        }
        int e = Sock.pendingError(sys, server.fd);
        if (e != 0) {
            connectFailed(e < 0 ? -e : e, true);
            return false;
        }
        connected();
        return state != CLOSED;
    }

    private void connected() {
        state = ESTABLISHED;
        if (srv.check.observeLayer4()) backend.observed(srv, true, counters);
        long now = now();
        connectedAt = now;
        server.readSince = server.writeSince = now;
        client.readSince = client.writeSince = now; // time spent waiting was not the client's silence
        fdt.stopSend(server.fd);
        if (client.failed) {
            response.drop(); // it reset while waiting: nothing can go back to it
        } else {
            fdt.wantRecv(server.fd);
        }
        // the client is read from now on; it was registered ready, so its bytes go out at once
        fdt.wantRecv(client.fd);
        armTimer();
        if (fdt.recvReady(client.fd)) request.onReadable();
    }

    /**
     * A connect attempt failed. As in HAProxy: retry while 'retries' allows; the retry goes to
     * the same server, and 'option redispatch' moves it to another server on the retries it
     * names. {@code async}: the server answered (refused, unreachable) after the connect was
     * under way, and trying again at once would likely meet the same answer, so the retry waits
     * min(timeout connect, 1 s), the turn-around; a connect timeout (the wait is already spent)
     * or a local error of socket()/connect() is retried at once.
     */
    private void connectFailed(int errno, boolean async) {
        countConnectFailure();
        Server observed = srv;
        // observe layer4 counts the server's failures (refused, reset, unreachable, timed out),
        // not this process's own (socket() failing, EMFILE, no free port...), as HAProxy
        if (observed != null && observed.check.observeLayer4() && connectFailureCause(errno, async) != 'P') {
            int limit = observed.check.errorLimit();
            if (backend.observed(observed, false, counters) != 0) {
                org.forwarder.check.Checks.observedDown(worker, backend, observed, limit);
            }
        }
        if (server.fd >= 0) closeFd(server, false);
        if (client.failed) {
            terminate('C');
            finish(true, true); // its client reset meanwhile: no wait, no retry for it
            return;
        }
        int retries = backend.config().retries();
        if (retriesDone >= retries) {
            terminate(connectFailureCause(errno, async));
            finish(false, false); // the client's unread bytes make the kernel reset it
            return;
        }
        retriesDone++;
        boolean redispatch = backend.redispatchOnRetry(retriesDone);
        countRetry(redispatch);
        if (redispatch) {
            redispatched = true;
            releaseServer();
        }
        if (async && (!redispatch || backend.waitsBeforeRedispatch())) {
            long pause = t.connectMs() > 0 ? Math.min(t.connectMs(), MAX_TURNAROUND_MS) : MAX_TURNAROUND_MS;
            retryAt = now() + pause;
            state = redispatch ? TO_REDISPATCH : TURNAROUND;
            armTimer(); // the client's errors are watched since connect(): its reset ends the wait
            return;
        }
        // at once, from the run queue rather than recursively: a connect that fails at once
        // must not nest one call per retry
        retryAt = now();
        state = redispatch ? TO_REDISPATCH : TO_CONNECT;
        worker.poller().wake(this);
    }

    private void releaseServer() {
        Server sv = srv;
        if (sv != null) {
            srv = null;
            srvStats.add(ProxyCounter.SCUR, -1);
            backend.release(sv, counters);
        }
    }

    // ---- timeouts ------------------------------------------------------------------------

    private long deadline() {
        return switch (state) {
            case WAITING_SLOT -> {
                long q = t.queueMs() > 0 ? t.queueMs() : t.connectMs();
                yield q > 0 ? queuedAt + q : NEVER;
            }
            case CONNECTING -> t.connectMs() > 0 ? connectStart + t.connectMs() : NEVER;
            case TURNAROUND, TO_REDISPATCH -> retryAt;
            case ESTABLISHED -> Math.min(sideDeadline(client, request, response, clientTimeout()),
                    sideDeadline(server, response, request, serverTimeout()));
            case PASSING_RESET -> resetPollAt;
            default -> NEVER; // NEW and TO_CONNECT move on within the pass; CLOSED has none
        };
    }

    /** When side {@code c} has been silent too long: waited on to send ({@code from}) or to take ({@code toward}). */
    private static long sideDeadline(Conn c, Channel from, Channel toward, long timeout) {
        if (timeout <= 0) return NEVER;
        long d = NEVER;
        if (from.isReading() && !c.failed) d = c.readSince + timeout;
        if (!toward.isEmpty()) d = Math.min(d, c.writeSince + timeout);
        return d;
    }

    /** HAProxy's client side: client-fin once half-closed, else tunnel when set, else client. */
    private long clientTimeout() {
        boolean half = request.srcShut() || response.dstShut();
        if (half && t.clientFinMs() > 0) return t.clientFinMs();
        return t.tunnelMs() > 0 ? t.tunnelMs() : t.clientMs();
    }

    private long serverTimeout() {
        boolean half = response.srcShut() || request.dstShut();
        if (half && t.serverFinMs() > 0) return t.serverFinMs();
        return t.tunnelMs() > 0 ? t.tunnelMs() : t.serverMs();
    }

    /** Arms the timer at the stream's deadline unless it already fires earlier (lazy re-arm). */
    private void armTimer() {
        long d = deadline();
        if (d == NEVER) worker.poller().timers().cancel(this);
        else worker.poller().timers().scheduleNoLaterThan(this, d);
    }

    /** A wait started (bytes to deliver, reading resumed) whose deadline may precede the armed one. */
    @Override
    public void rearmTimer() {
        long d = deadline();
        if (d != NEVER) worker.poller().timers().scheduleNoLaterThan(this, d);
    }

    @Override
    protected void onTimer(long nowMs) {
        if (state == CLOSED) return;
        long d = deadline();
        if (d > nowMs) {
            if (d != NEVER) worker.poller().timers().schedule(this, d);
            return;
        }
        switch (state) {
            case TURNAROUND, TO_REDISPATCH -> retryNow();
            case CONNECTING -> connectFailed(Errno.ETIMEDOUT, false);
            case PASSING_RESET -> pollResetTarget(nowMs);
            case WAITING_SLOT, ESTABLISHED -> {
                // which side was silent too long: the client's own deadline, else the server's
                terminate(state == WAITING_SLOT ? 's'
                        : sideDeadline(client, request, response, clientTimeout()) <= nowMs ? 'c' : 's');
                countTimeout();
                abandon();
            }
            default -> { }
        }
    }

    /**
     * Ends the stream where it stands (timeout, forced stop). With bytes in flight either way (held
     * here, or held back in a peer's socket) each side loses something: one did not get all it
     * was sent, the other's bytes did not all arrive. Both get a reset, so neither can take a
     * truncated stream for a complete one. An idle stream is closed cleanly.
     */
    private void abandon() {
        boolean cut = !request.isEmpty() || !response.isEmpty() || request.isHeldBack() || response.isHeldBack();
        finish(cut, cut);
    }

    // ---- teardown ------------------------------------------------------------------------

    private void finish(boolean resetClient, boolean resetServer) {
        if (state == CLOSED) return;
        boolean waited = state == WAITING_SLOT;
        Server sv = srv;
        if (waited) queueMs += now() - queuedAt; // HAProxy's Tw counts a wait that ends in the queue too
        state = CLOSED;
        worker.poller().timers().cancel(this);
        if (waited) backend.leave(this, counters); // out of the queue, or a grant passed on
        feStats.add(ProxyCounter.SCUR, -1);
        beStats.add(ProxyCounter.SCUR, -1);
        backend.streamEnded();
        if (connectedAt >= 0 && srv != null) sampleTimes(srv.statsRow);
        request.release();
        response.release();
        closeFd(client, resetClient);
        if (server.fd >= 0) closeFd(server, resetServer);
        // HAProxy's %ac and %fc still count this stream; %bc and %sc no longer do
        int actconn = frontend.logs ? worker.proxies().current() : 0;
        int feconn = frontend.logs ? frontend.current() : 0;
        worker.streamClosed(this, frontend);
        releaseServer();
        if (frontend.logs) logLine(sv, actconn, feconn);
    }

    /**
     * Records what ended the stream, HAProxy's first termination-state character: 'C' the client
     * aborted, 'S' the server aborted or refused, 'P' a local (proxy) error, 'K' killed by the
     * admin or a forced stop, 'D' / 'U' killed because its server went DOWN ({@code on-marked-down
     * shutdown-sessions}) or an active server came UP ({@code on-marked-up
     * shutdown-backup-sessions}), 'c'/'s' the client's/server's timeout. The phase comes from where
     * the stream stands: 'Q' queued, 'C' connecting (or waiting to again), 'D' data. Only the
     * first cause counts; a stream that ends with none is '--'. Call it on the stream's loop,
     * before ending the stream (as {@link #kill} does with 'K').
     */
    public void terminate(char cause) {
        if (termCause != 0 || state == CLOSED) return;
        termCause = cause;
        termPhase = switch (state) {
            case WAITING_SLOT -> 'Q';
            case NEW, TO_CONNECT, CONNECTING, TURNAROUND, TO_REDISPATCH -> 'C';
            case ESTABLISHED, PASSING_RESET -> 'D';
            default -> '-';
        };
    }

    /**
     * The client left while its stream waited for a server. HAProxy 2.6.12 (measured:
     * bench/logs/compare.py) reports a client reset while queued and while connecting as 'CD',
     * not the manual's 'CQ' and 'CC' (in TCP mode its request channel is already in the data
     * phase): the same here.
     */
    private void terminateClientAbort() {
        if (termCause != 0) return;
        terminate('C');
        termPhase = 'D';
    }

    /** A connect that failed for good: timed out (s), refused or unreachable (S), or failed here (P). */
    private static char connectFailureCause(int errno, boolean async) {
        if (errno == Errno.ETIMEDOUT) return 's';
        if (async || errno == Errno.ECONNREFUSED || errno == Errno.ENETUNREACH || errno == Errno.EHOSTUNREACH
                || errno == Errno.ECONNRESET) {
            return 'S';
        }
        return 'P';
    }

    /** Reads the client's address and, when the format shows it, the local one, for the log line. */
    private void readAddresses(int fd) {
        long[] a = worker.addressScratch;
        int fam = sys.socketAddress(fd, true, a, 0);
        if (fam > 0) {
            clientFamily = fam;
            clientHi = a[0];
            clientLo = a[1];
            clientPort = (int) a[2];
        }
        if (!frontend.logsFrontendAddress) return;
        fam = sys.socketAddress(fd, false, a, 0);
        if (fam > 0) {
            frontFamily = fam;
            frontHi = a[0];
            frontLo = a[1];
            frontPort = (int) a[2];
        }
    }

    /**
     * Copies this ended stream's figures into the loop's log ring for the writer (nothing is
     * allocated); a full ring drops the line and counts it (DroppedLogs). Times as HAProxy's:
     * -1 for a phase never reached (Tw: the queue was never left; Tc: never connected).
     */
    private void logLine(Server sv, int actconn, int feconn) {
        if (frontend.config().logs().dontLogNull() && bytesIn == 0) return;
        org.forwarder.log.LogRing ring = worker.logRing();
        if (ring == null) return;
        int slot = ring.claim();
        if (slot < 0) {
            loopStats.inc(ProcessCounter.LOG_DROPPED);
            return;
        }
        ring.set(slot, LogRecord.CLIENT_FAMILY, clientFamily);
        ring.set(slot, LogRecord.CLIENT_HI, clientHi);
        ring.set(slot, LogRecord.CLIENT_LO, clientLo);
        ring.set(slot, LogRecord.CLIENT_PORT, clientPort);
        ring.set(slot, LogRecord.FRONT_FAMILY, frontFamily);
        ring.set(slot, LogRecord.FRONT_HI, frontHi);
        ring.set(slot, LogRecord.FRONT_LO, frontLo);
        ring.set(slot, LogRecord.FRONT_PORT, frontPort);
        ring.set(slot, LogRecord.ACCEPT_MS, acceptEpochMs);
        ring.set(slot, LogRecord.T_WAIT, firstConnectAt >= 0 || queuedEver ? queueMs : -1);
        ring.set(slot, LogRecord.T_CONNECT, connectedAt >= 0 ? connectedAt - firstConnectAt : -1);
        ring.set(slot, LogRecord.T_TOTAL, now() - startedAt);
        ring.set(slot, LogRecord.BYTES_OUT, bytesOut);
        ring.set(slot, LogRecord.BYTES_IN, bytesIn);
        char c = termCause == 0 ? '-' : termCause;
        char p = termCause == 0 ? '-' : termPhase;
        ring.set(slot, LogRecord.TERM, (long) c << 8 | p);
        ring.set(slot, LogRecord.ACTCONN, actconn);
        ring.set(slot, LogRecord.FECONN, feconn);
        ring.set(slot, LogRecord.BECONN, backend.streams());
        ring.set(slot, LogRecord.SRVCONN, sv == null ? 0 : sv.current());
        ring.set(slot, LogRecord.RETRIES, retriesDone);
        ring.set(slot, LogRecord.REDISPATCHED, redispatched ? 1 : 0);
        ring.set(slot, LogRecord.SRV_QUEUE, 0); // no per-server queues: every wait is the backend's
        ring.set(slot, LogRecord.BACKEND_QUEUE, queuePosition);
        ring.setRefs(slot, frontend, sv);
        ring.publish();
    }

    private void closeFd(Conn c, boolean reset) {
        int fd = c.fd;
        fdt.unregister(fd);
        Sock.close(sys, fd, reset); // with reset, close() sends a reset, as the peer did
        c.fd = -1;
    }

    /**
     * Closes the stream now (shutdown after the grace period). Nothing measured whether it was
     * idle, so each side whose incoming direction is not complete (FIN forwarded) gets a reset:
     * it cannot know whether more was coming.
     */
    void kill() {
        terminate('K');
        boolean passing = state == PASSING_RESET;
        finish(!response.dstShut() || passing, !request.dstShut() || passing);
    }

    /**
     * {@code shutdown session} and {@code shutdown sessions server} ({@code cause} 'K'), or a
     * server's {@code on-marked-down shutdown-sessions} ('D') or {@code on-marked-up
     * shutdown-backup-sessions} ('U'): the stream ends where it stands. As HAProxy, an idle
     * stream is closed with a FIN; with bytes in flight either way each side gets a reset instead
     * (as a timeout does), so nothing is lost silently.
     */
    void shutdownByAdmin(char cause) {
        if (termCause == 0 && state != CLOSED) {
            terminate(cause);
            // HAProxy 2.6.12 logs such an established TCP stream without a phase ("K-", "D-",
            // "U-": bench/logs/compare.py), one still connecting with C ("KC", "DC"), as terminate sets
            if (state == ESTABLISHED || state == PASSING_RESET) termPhase = '-';
        }
        abandon();
    }

    /**
     * One line of {@code show sess}, in HAProxy's layout; figures we do not keep (task calls,
     * flags, analysers) are zeros. Loop thread only.
     */
    void describe(StringBuilder sb, Syscalls peerLookup) {
        long nowMs = now();
        org.forwarder.sys.SockAddr peer = peer(peerLookup);
        sb.append("0x").append(Long.toHexString(id)).append(": proto=")
                .append(peer != null && peer.address() instanceof java.net.Inet6Address ? "tcpv6" : "tcpv4")
                .append(" src=").append(peer == null ? "?" : org.forwarder.sys.SockAddr.hostText(peer.address()) + ":" + peer.port())
                .append(" fe=").append(frontend.name()).append(" be=").append(backend.name())
                .append(" srv=").append(srv != null ? srv.name : "<none>")
                .append(" ts=00 epoch=0 age=").append(humanTime((nowMs - startedAt) / 1000))
                .append(" calls=0 rate=0 cpu=0 lat=0");
        channel(sb, " rq", request, client, nowMs);
        channel(sb, " rp", response, server, nowMs);
        sb.append(" scf=[").append(client.fd >= 0 ? 8 : 10).append(",0h,fd=").append(client.fd).append(']');
        sb.append(" scb=[").append(serverSide()).append(",0h,fd=").append(server.fd).append(']');
        long d = deadline();
        sb.append(" exp=").append(d == NEVER ? "" : humanTime(Math.max(0, d - nowMs) / 1000));
        sb.append(" rc=").append(retriesDone);
        boolean waiting = state == WAITING_SLOT || state == CONNECTING || state == TURNAROUND || state == TO_REDISPATCH;
        sb.append(" c_exp=").append(waiting && d != NEVER ? humanTime(Math.max(0, d - nowMs) / 1000) : "");
        sb.append('\n');
    }

    private org.forwarder.sys.SockAddr peer(Syscalls lookup) {
        if (client.fd < 0) return null;
        try {
            return lookup.getpeername(client.fd);
        } catch (RuntimeException e) {
            return null; // the peer is gone: the stream ends on its next event
        }
    }

    private void channel(StringBuilder sb, String name, Channel ch, Conn src, long nowMs) {
        sb.append(name).append("[f=0h,i=").append(ch.pending()).append(",an=00h,rx=");
        if (isConnected() && ch.isReading()) {
            long to = src == client ? clientTimeout() : serverTimeout();
            if (to > 0) sb.append(humanTime(Math.max(0, src.readSince + to - nowMs) / 1000));
        }
        sb.append(",wx=,ax=]");
    }

    /** HAProxy's back stream-connector state numbers: 2 queued, 4 assigned, 5 connecting, 6 connect error, 8 established, 9 disconnecting. */
    private int serverSide() {
        return switch (state) {
            case NEW, TO_REDISPATCH -> 1;
            case WAITING_SLOT -> 2;
            case TO_CONNECT -> 4;
            case CONNECTING -> 5;
            case TURNAROUND -> 6;
            case ESTABLISHED -> 8;
            case PASSING_RESET -> 9;
            default -> 10;
        };
    }

    /** HAProxy's human_time: the two largest units of d, h, m, s ("0s", "59s", "1m30s", "2h5m"). */
    static String humanTime(long sec) {
        if (sec < 0) return "?";
        long d = sec / 86400, h = sec / 3600 % 24, m = sec / 60 % 60, s = sec % 60;
        StringBuilder b = new StringBuilder();
        int units = 0;
        if (d > 0) { b.append(d).append('d'); units++; }
        if (h > 0 || units > 0) { if (h > 0) b.append(h).append('h'); units++; }
        if (units < 2 && (m > 0 || units > 0)) { if (m > 0) b.append(m).append('m'); units++; }
        if (units < 2 && (s > 0 || units == 0)) b.append(s).append('s');
        return b.toString();
    }

    // ---- counters: the loop's, and this stream's frontend, backend and server ----------------

    @Override
    public void bytesRead(int dir, long n, boolean spliced) {
        countProxies(dir == Channel.REQUEST ? ProxyCounter.BIN : ProxyCounter.BOUT, n);
        if (spliced) countProxies(dir == Channel.REQUEST ? ProxyCounter.BIN_SPLICED : ProxyCounter.BOUT_SPLICED, n);
        if (dir == Channel.REQUEST) bytesIn += n; else bytesOut += n;
        bytesRate.add(worker.poller().clockMs(), n);
    }

    /**
     * A stream that reached server row {@code srvRow} ends: its queue, connect and total times
     * go into the backend's and the server's averages (HAProxy's qtime, ctime, ttime, which it
     * also samples only for streams that got a server connection).
     */
    private void sampleTimes(int srvRow) {
        long q = queueMs;
        long c = connectedAt - firstConnectAt;
        long t = now() - startedAt;
        int be = backend.statsRow;
        counters.average(be, ProxyAverage.QTIME).add(q);
        counters.average(be, ProxyAverage.CTIME).add(c);
        counters.average(be, ProxyAverage.TTIME).add(t);
        counters.average(srvRow, ProxyAverage.QTIME).add(q);
        counters.average(srvRow, ProxyAverage.CTIME).add(c);
        counters.average(srvRow, ProxyAverage.TTIME).add(t);
    }

    /** Adds {@code n} to {@code c} of this stream's frontend, backend and server (if it has one). */
    private void countProxies(ProxyCounter c, long n) {
        feStats.add(c, n);
        beStats.add(c, n);
        if (srv != null) srvStats.add(c, n);
    }

    /** A peer ended the stream early (HAProxy's cli_abrt, srv_abrt). */
    private void countAbort(boolean byClient) {
        loopStats.inc(ProcessCounter.ABORTS);
        countProxies(byClient ? ProxyCounter.CLI_ABRT : ProxyCounter.SRV_ABRT, 1);
    }

    private void countTimeout() {
        loopStats.inc(ProcessCounter.TIMEOUTS);
        countProxies(ProxyCounter.TIMEOUTS, 1);
    }

    /** A connect to {@code srv} failed (HAProxy's econ). */
    private void countConnectFailure() {
        loopStats.inc(ProcessCounter.CONNECT_FAILURES);
        beStats.inc(ProxyCounter.ECON);
        srvStats.inc(ProxyCounter.ECON);
    }

    /** A failed connect to {@code srv} is tried again: there (wretr) or elsewhere (wredis), as HAProxy counts. */
    private void countRetry(boolean redispatch) {
        loopStats.inc(ProcessCounter.CONNECT_RETRIES);
        ProxyCounter c = redispatch ? ProxyCounter.WREDIS : ProxyCounter.WRETR;
        beStats.inc(c);
        srvStats.inc(c);
    }

    // ---- intrusive lists (no allocation to link or unlink a session) --------------------------

    /** A backend's FIFO of sessions waiting for a server slot (under the backend's lock). */
    static final class WaitQueue {
        private Session head;
        private Session tail;
        private int size;

        int size() { return size; }

        /** The oldest waiter, or null. */
        Session head() { return head; }

        void add(Session s) {
            s.queuePrev = tail;
            s.queueNext = null;
            if (tail == null) head = s; else tail.queueNext = s;
            tail = s;
            s.inQueue = true;
            size++;
        }

        /** Takes {@code s} out if it is in the queue. */
        void remove(Session s) {
            if (!s.inQueue) return;
            if (s.queuePrev != null) s.queuePrev.queueNext = s.queueNext; else head = s.queueNext;
            if (s.queueNext != null) s.queueNext.queuePrev = s.queuePrev; else tail = s.queuePrev;
            s.queuePrev = s.queueNext = null;
            s.inQueue = false;
            size--;
        }
    }

    /** A worker's open sessions, so that a stop can close what the grace period did not. */
    static final class LiveSet {
        private Session head;

        Session first() { return head; }

        void add(Session s) {
            s.liveNext = head;
            s.livePrev = null;
            if (head != null) head.livePrev = s;
            head = s;
        }

        void remove(Session s) {
            if (s.livePrev != null) s.livePrev.liveNext = s.liveNext; else if (head == s) head = s.liveNext;
            if (s.liveNext != null) s.liveNext.livePrev = s.livePrev;
            s.livePrev = s.liveNext = null;
        }
    }
}
