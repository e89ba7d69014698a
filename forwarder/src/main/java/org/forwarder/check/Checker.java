package org.forwarder.check;

import org.forwarder.check.CheckScript.Custom;
import org.forwarder.check.CheckScript.Step;
import org.forwarder.config.HealthCheck;
import org.forwarder.config.ServerCheck;
import org.forwarder.config.HealthCheck.TcpCheckRule.Action;
import org.forwarder.io.Sock;
import org.forwarder.poll.FdHandler;
import org.forwarder.poll.FdTab;
import org.forwarder.poll.Task;
import org.forwarder.proxy.Backend;
import org.forwarder.proxy.Server;
import org.forwarder.proxy.Worker;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The health check of one server, living on one event loop for good (server k of the process
 * on loop k mod loops, so the checks spread): a timer starts a check, which opens its own
 * non-blocking socket to the check address (the server's, or {@code addr}/{@code port}), runs
 * the backend's {@link CheckScript} (connect, send, expect) and closes with a reset (SO_LINGER 0,
 * as HAProxy closes its checks, so checks leave no TIME_WAIT behind). It never takes a client
 * place nor a server slot, so a server at its maxconn is still checked.
 *
 * <p>Timing, HAProxy's: the next check comes {@code inter} after the last one ended while the
 * server is UP and stable, {@code fastinter} while it moves between states, {@code downinter}
 * while it is DOWN. Timeouts: with {@code timeout check}, the connect may take min(timeout
 * connect, inter) and the rest of the check {@code timeout check}; without, the whole check
 * gets {@code inter}. A server in maintenance, or whose checks an operator disabled, is not
 * checked (the timer keeps running, doing nothing).
 *
 * <p>Steady state allocates nothing but the result text on a state change: the socket's
 * buffer is allocated once; the steps are shared.
 */
public final class Checker extends Task implements FdHandler {
    private static final int BUF = 4096;

    private final Worker worker;
    private final Backend backend;
    private final Server server;
    private final ServerCheck cfg;
    private final CheckScript script;
    private final SockAddr target;
    private final long connectTimeoutMs;
    private final long checkTimeoutMs;
    private final Syscalls sys;
    private final FdTab fdt;
    private final MemorySegment buf;
    private final Arena arena = Arena.ofShared();
    private int fd = -1;
    private int step;
    private int sent;
    private int received;
    private boolean connected;
    private boolean eof;
    private long startedAt;
    private long deadline;
    private boolean stopped;
    /** Set by a custom expect that failed: its status and info (null: the step's defaults). */
    private String customStatus;
    private String customInfo;
    /** Layer 5-7 code of this check (a MySQL error number), 0 when there is none. */
    private int code;

    public Checker(Worker worker, Backend backend, Server server, long connectTimeoutMs) {
        this.worker = worker;
        this.backend = backend;
        this.server = server;
        this.cfg = server.check();
        HealthCheck hc = backend.config().healthCheck();
        this.script = CheckScript.of(hc);
        SockAddr base = cfg.addr() != null ? cfg.addr() : server.address();
        if (cfg.addr() != null && cfg.addr().port() == 0 && cfg.port() == 0) base = base.withPort(server.address().port());
        this.target = cfg.port() != 0 ? base.withPort(cfg.port()) : base;
        long inter = cfg.interMs();
        if (hc.timeoutCheckMs() > 0) {
            this.connectTimeoutMs = connectTimeoutMs > 0 ? Math.min(connectTimeoutMs, inter) : inter;
            this.checkTimeoutMs = hc.timeoutCheckMs();
        } else {
            this.connectTimeoutMs = inter;
            this.checkTimeoutMs = 0;
        }
        this.sys = worker.sys();
        this.fdt = worker.fdTab();
        this.buf = arena.allocate(BUF, 8);
    }

    public Server server() { return server; }

    /** Arms the first check after {@code delayMs} (loop thread). */
    public void start(long delayMs) {
        server.setHastener(this::hasten);
        worker.poller().timers().schedule(this, worker.now() + delayMs);
    }

    /** Stops for good: a check under way is abandoned, its socket closed (loop thread). */
    public void stop() {
        stopped = true;
        worker.poller().timers().cancel(this);
        closeSocket();
        arena.close();
    }

    /** The earliest next check asked for from any thread (ms from the ask), MAX_VALUE none. */
    private final java.util.concurrent.atomic.AtomicLong hastenMs = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);

    /**
     * Any thread: the next check no later than {@code delayMs} from now (leaving maintenance:
     * at once; an observed error with fastinter: fastinter). The timer belongs to this loop, so
     * the request is recorded and the loop woken; {@link #run} moves the timer there.
     */
    public void hasten(long delayMs) {
        hastenMs.accumulateAndGet(delayMs, Math::min);
        worker.poller().wakeFromAnyThread(this);
    }

    @Override
    protected void run() {
        long d = hastenMs.getAndSet(Long.MAX_VALUE);
        if (d == Long.MAX_VALUE || stopped || fd >= 0) return; // a check under way schedules its next itself
        worker.poller().timers().scheduleNoLaterThan(this, worker.now() + d);
    }

    @Override
    protected void onTimer(long nowMs) {
        if (stopped) return;
        if (fd >= 0) {
            // the check's deadline: before the connect completed it is layer 4's, after it layer 7's
            finish(false, connected ? "L7TOUT" : "L4TOUT", null, nowMs);
            return;
        }
        if (server.inMaintenance() || !server.op.enabled()) {
            schedule(nowMs, cfg.interMs());
            return;
        }
        begin(nowMs);
    }

    private void schedule(long nowMs, long delay) {
        worker.poller().timers().schedule(this, nowMs + delay);
    }

    private void begin(long nowMs) {
        startedAt = nowMs;
        step = 0;
        received = 0;
        sent = 0;
        eof = false;
        connected = false;
        customStatus = null;
        customInfo = null;
        code = 0;
        server.op.inProgress = true;
        connect(nowMs, 0);
    }

    private void connect(long nowMs, int port) {
        closeSocket();
        SockAddr to = port != 0 ? target.withPort(port) : target;
        int s = Sock.open(sys, to.family());
        if (s < 0) {
            finish(false, "SOCKERR", Errno.describe(s), nowMs);
            return;
        }
        if (s >= fdt.capacity()) {
            sys.close(s);
            finish(false, "SOCKERR", Errno.describe(Errno.EMFILE), nowMs);
            return;
        }
        fd = s;
        connected = false;
        fdt.register(s, this, false, false);
        deadline = nowMs + connectTimeoutMs;
        worker.poller().timers().schedule(this, deadline);
        int r = Sock.connect(sys, s, to);
        if (r == 0) {
            fdt.maySend(s);
            onConnected(nowMs);
        } else if (r == -Errno.EINPROGRESS) {
            fdt.wantSend(s);
        } else {
            finish(false, "L4CON", info(-r), nowMs);
        }
    }

    private void onConnected(long nowMs) {
        connected = true;
        fdt.stopSend(fd);
        if (checkTimeoutMs > 0) {
            deadline = nowMs + checkTimeoutMs;
            worker.poller().timers().schedule(this, deadline);
        }
        step++;
        advance();
    }

    @Override
    public void onIo(int f) {
        if (f != fd) return;
        long now = worker.now();
        int st = fdt.state(f);
        if (!connected) {
            int e = Sock.pendingError(sys, f);
            if (e != 0 || (st & FdTab.EV_ERR) != 0) {
                finish(false, "L4CON", info(e > 0 ? e : Errno.ECONNREFUSED), now);
                return;
            }
            onConnected(now);
            return;
        }
        advance();
    }

    /** Runs the steps from {@link #step} on until one waits for the socket, or the script ends. */
    private void advance() {
        long now = worker.now();
        while (fd >= 0) {
            if (step >= script.steps.size()) {
                finish(true, script.layer7 ? "L7OK" : "L4OK", script.okInfo, now);
                return;
            }
            Step s = script.steps.get(step);
            switch (s.action()) {
                case CONNECT -> {
                    connect(now, s.port());
                    return;
                }
                case SEND -> {
                    if (!send(s.data())) return;
                    received = 0;
                    eof = false;
                    sent = 0;
                    step++;
                }
                default -> {
                    int verdict = expect(s);
                    if (verdict == 0) return; // waits for more
                    if (verdict < 0) {
                        String status = customStatus != null ? customStatus
                                : s.errorStatus() != null ? s.errorStatus() : "L7RSP";
                        finish(false, status, failInfo(s), now);
                        return;
                    }
                    step++;
                }
            }
        }
    }

    /** Sends what is left of {@code data}; true when all went. */
    private boolean send(byte[] data) {
        int n = data.length - sent;
        if (n > BUF) n = BUF;
        MemorySegment.copy(data, sent, buf, ValueLayout.JAVA_BYTE, 0, n);
        long w = sys.write(fd, buf, 0, n);
        if (w == -Errno.EAGAIN) {
            fdt.cantSend(fd);
            fdt.wantSend(fd);
            return false;
        }
        if (w < 0) {
            finish(false, "L7RSP", info((int) -w), worker.now());
            return false;
        }
        sent += (int) w;
        if (sent < data.length) {
            fdt.wantSend(fd);
            return false;
        }
        fdt.stopSend(fd);
        return true;
    }

    /** 1 matched, -1 failed, 0 waiting for more bytes. */
    private int expect(Step s) {
        fill();
        if (fd < 0) return 0;
        // as HAProxy 2.6 without min-recv: a pattern not found (yet) waits for more bytes, until
        // the peer closes, the buffer is full or the check times out (a redis answering -NOAUTH
        // and keeping the connection is L7TOUT there, not L7STS); a match decides at once
        boolean last = eof || received >= BUF;
        int m = matches(s);
        if (m == 0 && !last) {
            fdt.wantRecv(fd);
            return 0;
        }
        boolean ok = m > 0;
        if (s.negate()) {
            if (ok) return -1;
            if (!last) {
                fdt.wantRecv(fd);
                return 0;
            }
            return 1;
        }
        return ok ? 1 : -1;
    }

    /** Reads what is there into the buffer. */
    private void fill() {
        while (received < BUF && !eof) {
            long r = sys.read(fd, buf, received, BUF - received);
            if (r > 0) {
                received += (int) r;
            } else if (r == 0) {
                eof = true;
            } else if (r == -Errno.EAGAIN) {
                fdt.cantRecv(fd);
                return;
            } else {
                eof = true; // a reset: what came is all there is
            }
        }
    }

    /** 1 the bytes so far match, -1 they cannot, 0 not enough yet. */
    private int matches(Step s) {
        if (s.custom() != Custom.NONE) return custom(s.custom());
        if (s.action() == Action.EXPECT_RSTRING) {
            String text = new String(bytes(), StandardCharsets.ISO_8859_1);
            return s.regex().matcher(text).find() ? 1 : 0;
        }
        byte[] d = s.data();
        outer:
        for (int i = 0; i + d.length <= received; i++) {
            for (int j = 0; j < d.length; j++) {
                if (buf.get(ValueLayout.JAVA_BYTE, i + j) != d[j]) continue outer;
            }
            return 1;
        }
        return 0;
    }

    private int custom(Custom c) {
        switch (c) {
            case PGSQL_NOT_ERROR -> {
                // HAProxy: "!rstring ^E" once 5 bytes came; an error's info is its first field's text
                if (received < 5 && !eof) return 0;
                if (received > 0 && at(0) == 'E') {
                    customInfo = cString(6);
                    return -1;
                }
                return 1;
            }
            case PGSQL_AUTH -> {
                // an authentication request a client can answer: 'R', length < 256, then a kind of
                // 0 (ok), 2..7 (kerberos, clear, md5, scm, gss, sspi) or 9..10 (sspi/gss data, sasl)
                if (received < 9 && !eof) return 0;
                boolean ok = received >= 9 && at(0) == 'R' && at(1) == 0 && at(2) == 0 && at(3) == 0
                        && at(5) == 0 && at(6) == 0 && at(7) == 0;
                int kind = received >= 9 ? at(8) & 0xff : -1;
                ok &= kind == 0 || (kind >= 2 && kind <= 7) || kind == 9 || kind == 10;
                if (!ok) customInfo = "PostgreSQL unknown error";
                return ok ? 1 : -1;
            }
            case MYSQL_GREETING -> {
                return mysqlPacket(0);
            }
            case MYSQL_OK -> {
                if (received < 3) return mysqlPacket(0); // cannot happen after a full greeting
                return mysqlPacket(4 + le24(0));
            }
            default -> {
                return -1;
            }
        }
    }

    /**
     * The MySQL packet at {@code off}: waits until it is whole; an error packet (0xff) fails with
     * L7STS, its error number as code and the server's message, a short one with L7RSP; any
     * other passes.
     */
    private int mysqlPacket(int off) {
        boolean whole = received >= off + 4 && received >= off + 4 + le24(off);
        if (!whole) {
            if (!eof && received < BUF) return 0;
            customStatus = "L7RSP";
            customInfo = received == 0 ? "Server closed the connection" : "";
            return -1;
        }
        if ((at(off + 4) & 0xff) == 0xff) {
            customStatus = "L7STS";
            code = (at(off + 5) & 0xff) | (at(off + 6) & 0xff) << 8;
            customInfo = new String(bytes(), off + 7, received - off - 7, StandardCharsets.UTF_8);
            return -1;
        }
        return 1; // haproxy 2.6.12 logs no info for a pass (not the version)
    }

    private byte at(int i) {
        return buf.get(ValueLayout.JAVA_BYTE, i);
    }

    private int le24(int off) {
        return (at(off) & 0xff) | (at(off + 1) & 0xff) << 8 | (at(off + 2) & 0xff) << 16;
    }

    /** The text from {@code off} to the next NUL (or to the end of what came). */
    private String cString(int off) {
        int end = off;
        while (end < received && at(end) != 0) end++;
        if (off >= end) return "";
        byte[] b = new byte[end - off];
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, off, b, 0, b.length);
        return new String(b, StandardCharsets.UTF_8);
    }

    private byte[] bytes() {
        byte[] b = new byte[received];
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, b, 0, received);
        return b;
    }

    private String failInfo(Step s) {
        if (customInfo != null) return customInfo;
        if (s.custom() != Custom.NONE || s.errorStatus() != null) {
            if (received == 0) return "Server closed the connection";
            String text = new String(bytes(), StandardCharsets.ISO_8859_1);
            int cut = text.indexOf('\r');
            if (cut < 0) cut = text.indexOf('\n');
            return cut >= 0 ? text.substring(0, cut) : text;
        }
        String what = s.action() == Action.EXPECT_RSTRING ? "regex" : s.action() == Action.EXPECT_BINARY ? "binary" : "content";
        return "TCPCHK " + (s.negate() ? "matched unwanted " : "did not match ") + what + " at step " + (step + 1);
    }

    /** The check ended: record, report, close, schedule the next. */
    private void finish(boolean ok, String status, String info, long nowMs) {
        closeSocket();
        worker.poller().timers().cancel(this);
        long duration = Math.max(0, nowMs - startedAt);
        var op = server.op;
        op.durationMs = duration;
        op.code = code;
        op.status = status;
        op.inProgress = false;
        // as HAProxy, a result that comes back while the server is in maintenance or its checks
        // are disabled (the state changed while the check was under way) moves nothing
        boolean applies = !server.inMaintenance() && op.enabled();
        int change = applies ? backend.checkResult(server, ok, worker.counters()) : 0;
        // HAProxy logs the steps in between only with option log-health-checks (not supported)
        if (change != 0) Events.stateChanged(worker, backend, server, change > 0, status, info, duration);
        long next;
        if (op.takeHurry()) {
            next = cfg.fastinterMs();
        } else if (!op.stable()) {
            next = cfg.fastinterMs();
        } else {
            next = op.up() ? cfg.interMs() : cfg.downinterMs();
        }
        if (!stopped) schedule(nowMs, next);
    }

    private void closeSocket() {
        if (fd < 0) return;
        fdt.unregister(fd);
        Sock.close(sys, fd, true);
        fd = -1;
    }

    /** HAProxy prints strerror's text. */
    static String info(int errno) {
        int e = Math.abs(errno);
        if (e == Errno.ECONNREFUSED) return "Connection refused";
        if (e == Errno.ECONNRESET) return "Connection reset by peer";
        if (e == Errno.ETIMEDOUT) return "Connection timed out";
        if (e == Errno.ENETUNREACH) return "Network is unreachable";
        if (e == Errno.EHOSTUNREACH) return "No route to host";
        return Errno.describe(e);
    }
}
