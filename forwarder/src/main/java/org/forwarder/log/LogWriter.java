package org.forwarder.log;

import org.forwarder.config.Config;
import org.forwarder.config.FrontendConfig;
import org.forwarder.config.LogFormat;
import org.forwarder.config.LogTarget;
import org.forwarder.proxy.Frontend;
import org.forwarder.proxy.Server;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The process's one log writer: a thread ("forwarder-log") that drains each event loop's
 * {@link LogRing} and the queue of process events, formats the lines (the body once, then a
 * syslog header per target) and sends them to the targets ({@link LogSink}).
 *
 * <p>Why a thread of its own: formatting dates and addresses and making a system call per line
 * and target is work the event loops must not wait for; a loop only copies a few numbers into a
 * ring slot. The writer sleeps (parks, at most {@value #IDLE_PARK_MS} ms at a time) while there
 * is nothing to do; a loop that publishes a record wakes it only when it is asleep. Under load
 * it does not sleep: after a round that sent lines it waits 5 ms, awake, and drains again, so
 * the loops make no wake-up call per line (measured: that call and the writer's context switch
 * per connection cost more than the line). At {@link #stop} it drains what is queued, then
 * closes its sockets.
 *
 * <p>Events (start, stop, warnings, server state changes) come from any thread through
 * {@link EventLog}: a bounded concurrent queue, since they are rare; when it is full they are
 * dropped and counted as well.
 */
public final class LogWriter implements EventLog {
    private static final long IDLE_PARK_MS = 100;
    /**
     * After a round that sent something, how long the writer waits before the next (a line is
     * late by at most this much under load; the ring holds {@link #DEFAULT_RING} lines per loop,
     * 800,000 lines per second per loop at this pace).
     */
    private static final long BATCH_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    /** Records per loop ring unless told otherwise (a power of two). */
    public static final int DEFAULT_RING = 4096;
    private static final int EVENT_QUEUE_MAX = 4096;
    private static final String[] MONTHS = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

    private record Event(int level, String message, long epochMs) {}

    private final LogRing[] rings;
    private final LogSink[] globalSinks;
    private final List<LogSink> allSinks = new ArrayList<>();
    private final Map<FrontendConfig, LogSink[]> frontendSinks = new IdentityHashMap<>();
    private final ConcurrentLinkedQueue<Event> events = new ConcurrentLinkedQueue<>();
    private final AtomicInteger eventCount = new AtomicInteger();
    private final AtomicLong eventsDropped = new AtomicLong();
    /**
     * Counts lines lost here (an event queue full, a line a target refused: no room, no reader,
     * a Unix socket gone) into the process's DroppedLogs, as HAProxy counts them: never silently.
     */
    private java.util.function.LongConsumer dropped = n -> { };
    private final byte[] tag;
    private final byte[] pid;
    private final byte[] hostname;
    private final ZoneId zone = ZoneId.systemDefault();
    private final LineBuffer body = new LineBuffer(LogTarget.MAX_LEN);
    private final LineBuffer line = new LineBuffer(LogTarget.MAX_LEN);
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(LogTarget.MAX_LEN);
    private final Thread thread;
    private volatile boolean sleeping;
    /** Set by {@link #hold}: the writer leaves the rings alone (to fill them in a test). */
    private volatile boolean held;
    private volatile boolean stopping;
    private Syscalls sys;

    private LogWriter(Config config, int loops, int ringCapacity) {
        String t = config.global().logs().tag();
        this.tag = t.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        this.pid = Long.toString(ProcessHandle.current().pid()).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        this.hostname = hostname().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Map<LogTarget, LogSink> byTarget = new IdentityHashMap<>();
        this.globalSinks = sinks(config.global().logs().targets(), byTarget);
        boolean anyFrontend = false;
        for (FrontendConfig fe : config.frontends()) {
            if (!fe.logs().active()) continue;
            anyFrontend = true;
            frontendSinks.put(fe, sinks(fe.logs().targets(), byTarget));
        }
        this.rings = new LogRing[anyFrontend ? loops : 0];
        for (int i = 0; i < rings.length; i++) rings[i] = new LogRing(ringCapacity, this);
        this.thread = new Thread(this::run, "forwarder-log");
        this.thread.setDaemon(true);
    }

    private LogSink[] sinks(List<LogTarget> targets, Map<LogTarget, LogSink> byTarget) {
        LogSink[] s = new LogSink[targets.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = byTarget.computeIfAbsent(targets.get(i), tgt -> {
                LogSink sink = new LogSink(tgt);
                allSinks.add(sink);
                return sink;
            });
        }
        return s;
    }

    /**
     * The writer for {@code config}'s log lines, its sockets open and its thread running; null
     * when the configuration logs nothing anywhere (no global target, no frontend that logs).
     */
    public static LogWriter start(Config config, int loops, int ringCapacity, java.util.function.LongConsumer dropped) {
        LogWriter w = new LogWriter(config, loops, ringCapacity);
        w.dropped = dropped;
        if (w.allSinks.isEmpty()) return null;
        Syscalls sys = Syscalls.newInstance();
        try {
            for (LogSink s : w.allSinks) s.open(sys);
        } catch (RuntimeException e) {
            for (LogSink s : w.allSinks) s.close(sys);
            w.arena.close();
            throw e;
        }
        w.sys = sys;
        w.thread.start();
        return w;
    }

    /** Loop {@code loop}'s ring, or null when no frontend logs connections. */
    public LogRing ring(int loop) {
        return rings.length == 0 ? null : rings[loop];
    }

    /**
     * For tests and debugging: while {@code on}, the writer takes nothing from the rings, as a
     * writer stuck on a slow target would; loops then drop and count what does not fit.
     */
    public void hold(boolean on) {
        held = on;
        LockSupport.unpark(thread);
    }

    /** Events that found the queue full and were dropped. */
    public long eventsDropped() {
        return eventsDropped.get();
    }

    @Override
    public void send(int level, String message) {
        if (globalSinks.length == 0 || stopping) return;
        if (eventCount.incrementAndGet() > EVENT_QUEUE_MAX) {
            eventCount.decrementAndGet();
            eventsDropped.incrementAndGet();
            dropped.accept(1);
            return;
        }
        events.add(new Event(level, message, System.currentTimeMillis()));
        wake();
    }

    /** A producer published something: wake the writer if it sleeps. */
    void wake() {
        if (sleeping) {
            sleeping = false;
            LockSupport.unpark(thread);
        }
    }

    /** Sends what is queued, closes the sockets and ends the thread (waits up to 5 s for it). */
    public void stop() {
        stopping = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Events first sent here before stopping still go out: {@link #send} refuses only new ones after {@link #stop}. */
    private void run() {
        try {
            while (true) {
                if (drain()) {
                    // busy: gather for a moment, unseen by the producers (they wake only a
                    // sleeping writer), so that under load the loops pay no wake-up per line
                    if (!stopping) LockSupport.parkNanos(this, BATCH_PARK_NANOS);
                    continue;
                }
                if (stopping) {
                    if (!drain()) break;
                    continue;
                }
                sleeping = true;
                if (!pending()) LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(IDLE_PARK_MS));
                sleeping = false;
            }
        } finally {
            for (LogSink s : allSinks) s.close(sys);
            arena.close();
        }
    }

    private boolean pending() {
        if (!events.isEmpty()) return true;
        if (held && !stopping) return false;
        for (LogRing r : rings) if (r.published() != r.head()) return true;
        return false;
    }

    /** One round over the event queue and the rings; true if anything was sent. */
    private boolean drain() {
        boolean any = false;
        Event e;
        while ((e = events.poll()) != null) {
            eventCount.decrementAndGet();
            any = true;
            body.clear();
            body.put(e.message());
            for (LogSink s : globalSinks) emit(s, e.level(), e.epochMs());
        }
        if (held && !stopping) return any;
        for (LogRing r : rings) {
            long end = r.published();
            long i = r.head();
            if (i == end) continue;
            any = true;
            for (; i < end; i++) {
                int slot = r.slot(i);
                Frontend fe = (Frontend) r.refs[slot * LogRing.REFS];
                Server srv = (Server) r.refs[slot * LogRing.REFS + 1];
                LogSink[] sinks = frontendSinks.get(fe.config());
                if (sinks == null) continue;
                body.clear();
                format(fe.config().logs().format(), r.data, slot * LogRing.WIDTH, fe, srv);
                long now = System.currentTimeMillis();
                for (LogSink s : sinks) emit(s, LogTarget.INFO, now);
            }
            r.consumed(end);
        }
        return any;
    }

    /** Sends {@link #body} to {@code s} at {@code level}, with its header, if its levels let it through. */
    private void emit(LogSink s, int level, long epochMs) {
        LogTarget t = s.target;
        if (level > t.maxLevel()) return;
        int lvl = Math.max(level, t.minLevel());
        line.clear();
        header(t, lvl, epochMs);
        // len bounds the whole datagram, newline included, as HAProxy's: a header longer than
        // that (a long log-tag) is cut too
        if (line.length > t.maxLen() - 1) line.length = t.maxLen() - 1;
        int room = t.maxLen() - 1 - line.length;
        line.put(body, 0, Math.max(0, Math.min(room, body.length)));
        line.put('\n');
        MemorySegment.copy(line.bytes, 0, out, ValueLayout.JAVA_BYTE, 0, line.length);
        if (!s.send(sys, out, line.length)) dropped.accept(1);
    }

    /**
     * The header of HAProxy 2.6 for each format: rfc3164 {@code <PRI>Mmm dd hh:mm:ss tag[pid]: },
     * rfc5424 {@code <PRI>1 yyyy-mm-ddThh:mm:ss.uuuuuu+hh:mm - tag pid - - } (the hostname is
     * "-" as HAProxy's without log-send-hostname), short {@code <level>}, raw nothing.
     */
    private void header(LogTarget t, int level, long epochMs) {
        switch (t.format()) {
            case RAW -> { }
            case SHORT -> {
                line.put('<');
                line.put(level);
                line.put('>');
            }
            case RFC3164 -> {
                pri(t, level);
                ZonedDateTime d = Instant.ofEpochMilli(epochMs).atZone(zone);
                line.put(MONTHS[d.getMonthValue() - 1]);
                line.put(' ');
                if (d.getDayOfMonth() < 10) line.put(' ');
                line.put(d.getDayOfMonth());
                line.put(' ');
                time(d);
                line.put(' ');
                line.put(tag);
                line.put('[');
                line.put(pid);
                line.put("]: ");
            }
            case RFC5424 -> {
                pri(t, level);
                line.put("1 ");
                ZonedDateTime d = Instant.ofEpochMilli(epochMs).atZone(zone);
                line.put(d.getYear(), 4);
                line.put('-');
                line.put(d.getMonthValue(), 2);
                line.put('-');
                line.put(d.getDayOfMonth(), 2);
                line.put('T');
                time(d);
                line.put('.');
                line.put((epochMs % 1000) * 1000, 6);
                ZoneOffset off = d.getOffset();
                int secs = off.getTotalSeconds();
                line.put(secs < 0 ? '-' : '+');
                secs = Math.abs(secs);
                line.put(secs / 3600, 2);
                line.put(':');
                line.put((secs / 60) % 60, 2);
                line.put(" - ");
                line.put(tag);
                line.put(' ');
                line.put(pid);
                line.put(" - - ");
            }
        }
    }

    private void pri(LogTarget t, int level) {
        line.put('<');
        line.put(t.facility() * 8L + level);
        line.put('>');
    }

    private void time(ZonedDateTime d) {
        line.put(d.getHour(), 2);
        line.put(':');
        line.put(d.getMinute(), 2);
        line.put(':');
        line.put(d.getSecond(), 2);
    }

    /** The connection's line in {@code f} from the record at {@code base} of {@code d}. */
    private void format(LogFormat f, long[] d, int base, Frontend fe, Server srv) {
        for (int i = 0; i < f.size(); i++) {
            Object p = f.part(i);
            if (p instanceof byte[] b) {
                body.put(b);
                continue;
            }
            switch ((LogFormat.Var) p) {
                case CLIENT_IP -> body.putAddress((int) d[base + LogRecord.CLIENT_FAMILY], d[base + LogRecord.CLIENT_HI], d[base + LogRecord.CLIENT_LO]);
                case CLIENT_PORT -> body.put(d[base + LogRecord.CLIENT_PORT]);
                case FRONTEND_IP -> body.putAddress((int) d[base + LogRecord.FRONT_FAMILY], d[base + LogRecord.FRONT_HI], d[base + LogRecord.FRONT_LO]);
                case FRONTEND_PORT -> body.put(d[base + LogRecord.FRONT_PORT]);
                case SERVER_IP -> {
                    if (srv == null) body.put('-');
                    else body.put(org.forwarder.sys.SockAddr.hostText(srv.address().address()));
                }
                case SERVER_PORT -> {
                    if (srv == null) body.put('-');
                    else body.put(srv.address().port());
                }
                case ACCEPT_DATE -> acceptDate(d[base + LogRecord.ACCEPT_MS]);
                case ACCEPT_TS -> body.put(d[base + LogRecord.ACCEPT_MS] / 1000);
                case FRONTEND_LOG, FRONTEND -> body.put(fe.name());
                case BACKEND -> body.put(fe.backend().name());
                case SERVER -> body.put(srv == null ? "<NOSRV>" : srv.name());
                case T_WAIT -> body.put(d[base + LogRecord.T_WAIT]);
                case T_CONNECT -> body.put(d[base + LogRecord.T_CONNECT]);
                case T_TOTAL -> body.put(d[base + LogRecord.T_TOTAL]);
                case BYTES_OUT -> body.put(d[base + LogRecord.BYTES_OUT]);
                case BYTES_IN -> body.put(d[base + LogRecord.BYTES_IN]);
                case TERM_STATE -> {
                    long ts = d[base + LogRecord.TERM];
                    body.put((byte) (ts >>> 8));
                    body.put((byte) ts);
                }
                case ACTCONN -> body.put(d[base + LogRecord.ACTCONN]);
                case FECONN -> body.put(d[base + LogRecord.FECONN]);
                case BECONN -> body.put(d[base + LogRecord.BECONN]);
                case SRVCONN -> body.put(d[base + LogRecord.SRVCONN]);
                case RETRIES -> {
                    if (d[base + LogRecord.REDISPATCHED] != 0) body.put('+');
                    body.put(d[base + LogRecord.RETRIES]);
                }
                case SRV_QUEUE -> body.put(d[base + LogRecord.SRV_QUEUE]);
                case BACKEND_QUEUE -> body.put(d[base + LogRecord.BACKEND_QUEUE]);
                case PID -> body.put(pid);
                case HOSTNAME -> body.put(hostname);
            }
        }
    }

    /** HAProxy's %t: {@code 01/Dec/2026:19:54:15.154}, local time. */
    private void acceptDate(long ms) {
        ZonedDateTime d = Instant.ofEpochMilli(ms).atZone(zone);
        body.put(d.getDayOfMonth(), 2);
        body.put('/');
        body.put(MONTHS[d.getMonthValue() - 1]);
        body.put('/');
        body.put(d.getYear(), 4);
        body.put(':');
        body.put(d.getHour(), 2);
        body.put(':');
        body.put(d.getMinute(), 2);
        body.put(':');
        body.put(d.getSecond(), 2);
        body.put('.');
        body.put(ms % 1000, 3);
    }

    private static String hostname() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (java.io.IOException | RuntimeException e) {
            return "localhost";
        }
    }
}
