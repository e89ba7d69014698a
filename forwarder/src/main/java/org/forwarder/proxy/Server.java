package org.forwarder.proxy;

import org.forwarder.config.ServerCheck;
import org.forwarder.stats.SharedMax;
import org.forwarder.sys.SockAddr;

/**
 * A server of a backend at run time, shared by every event loop: its address, its connection
 * slots and what the runtime API may change: its administrative state, weight and maxconn.
 *
 * <p>Threads. {@link #current} (slots held: connecting or connected streams), the round-robin
 * state and the three runtime settings change only under the owning {@link Backend}'s lock:
 * slots once per connect and per close, settings when an operator changes them on the control
 * loop. They are volatile so that any thread may read them (leastconn, the stats, the CLI).
 *
 * <p>Administrative state, with HAProxy's bit values for a forced maintenance ({@link #MAINT},
 * 0x01) and a forced drain ({@link #DRAIN}, 0x08). {@code set server ... state} moves between
 * them; each state replaces the other, as HAProxy 2.6.12 does (measured: drain after maint is
 * DRAIN, admin state 8; maint after drain is MAINT, 1):
 * <pre>
 *  state          new streams   streams already on it   show stat status
 *  0 (ready)      yes (if UP)   kept                    "no check", or the check state (UP, DOWN 1/2, ...)
 *  DRAIN          no            kept                    DRAIN
 *  MAINT          no            kept                    MAINT
 * </pre>
 * Weight 0 also takes no new stream (status stays as the state says), nor a server whose
 * health checks say DOWN ({@link OpState}, the operational state next to this one). Its counters are per loop:
 * a stream counts into its own loop's block of row {@link #statsRow}.
 */
public final class Server {
    public static final int READY = 0;
    public static final int MAINT = 0x01;
    public static final int DRAIN = 0x08;
    /** HAProxy's highest weight. */
    public static final int MAX_WEIGHT = 256;

    final String name;
    final SockAddr address;
    /** The weight of the configuration (HAProxy's iweight). */
    final int initialWeight;
    final int initialMaxconn;
    /** The server's row in the stats registry. */
    final int statsRow;
    /** Position in its backend (0-based); HAProxy's srv_id is this plus one. */
    final int index;
    /** Slots held; written under the backend's lock, read anywhere. */
    private volatile int current;
    /** Runtime settings; written under the backend's lock, read anywhere. */
    volatile int weight;
    volatile int maxconn;
    volatile int adminState = READY;
    /**
     * Was in maintenance once: HAProxy zeroes a server's health counter on maintenance and, for
     * a server without health checks, never raises it again (show servers state's check health).
     */
    volatile boolean wasInMaintenance;
    /** System.nanoTime() of the last state change (HAProxy's last_change), for lastchg. */
    volatile long changedAt = System.nanoTime();
    /** Health-check and state options of the configuration ({@link ServerCheck#NONE} without). */
    final ServerCheck check;
    /** Operational state, health counter and check figures (see {@link OpState}). */
    public final OpState op;
    /** Smooth weighted round-robin state (under the backend's lock). */
    int rrCurrent;
    /** Most slots held at once (smax), raised in {@link #take} under the backend's lock. */
    private final SharedMax smax;
    /** Highest rate of slots taken (rate_max), raised by the loop of the stream that took one. */
    final SharedMax rateMax;

    Server(String name, SockAddr address, int weight, int maxconn, int statsRow, int index, SharedMax smax, SharedMax rateMax) {
        this(name, address, weight, maxconn, ServerCheck.NONE, statsRow, index, smax, rateMax);
    }

    Server(String name, SockAddr address, int weight, int maxconn, ServerCheck check, int statsRow, int index,
           SharedMax smax, SharedMax rateMax) {
        this.check = check;
        this.op = new OpState(check);
        if (check.disabled()) {
            this.adminState = MAINT;
            this.wasInMaintenance = true;
        }
        this.rateMax = rateMax;
        this.name = name;
        this.address = address;
        this.initialWeight = weight;
        this.weight = weight;
        this.initialMaxconn = maxconn;
        this.maxconn = maxconn;
        this.statsRow = statsRow;
        this.index = index;
        this.smax = smax;
    }

    public String name() { return name; }
    public SockAddr address() { return address; }
    /** Slots held now, over all loops. */
    public int current() { return current; }
    public int weight() { return weight; }
    public int initialWeight() { return initialWeight; }
    /** 0 = no limit. */
    public int maxconn() { return maxconn; }
    public int adminState() { return adminState; }
    public int index() { return index; }
    public int statsRow() { return statsRow; }
    /** Seconds since the last state change. */
    public long secondsSinceChange() { return (System.nanoTime() - changedAt) / 1_000_000_000L; }

    public ServerCheck check() { return check; }
    /** A backup server: takes streams only while no active server is usable. */
    public boolean backup() { return check.backup(); }
    /** Operationally up: always without {@code check}, else as its checks say. */
    public boolean up() { return op.up; }

    /** Brings the server's next health check forward (set once by its checker), or null. */
    public interface CheckHastener {
        /** Asks for the next check no later than {@code delayMs} from now; any thread. */
        void hasten(long delayMs);
    }

    private volatile CheckHastener hastener;

    public void setHastener(CheckHastener h) { hastener = h; }

    /** The next check no later than {@code delayMs} from now (no-op without a checker). */
    public void hastenCheck(long delayMs) {
        CheckHastener h = hastener;
        if (h != null) h.hasten(delayMs);
    }

    public boolean inMaintenance() { return (adminState & MAINT) != 0; }
    public boolean draining() { return (adminState & DRAIN) != 0; }
    public boolean wasInMaintenance() { return wasInMaintenance; }

    /** Takes new streams: ready, weighted and up (its checks, if any, pass). */
    public boolean usable() {
        return adminState == READY && weight > 0 && op.up;
    }

    /**
     * {@code slowstart}: System.nanoTime() when the server last came UP after being DOWN, while its
     * weight and maxconn ramp up; 0 otherwise (and at process start, as HAProxy does not ramp then).
     */
    volatile long rampStart;

    /** Under the backend's lock: the server came UP; with slowstart its weight and maxconn ramp from now. */
    void startRamp() {
        if (check.slowstartMs() > 0) rampStart = Math.max(1, System.nanoTime());
    }

    /**
     * The weight a pick uses at {@code now} (System.nanoTime()): the weight, or during slowstart
     * its share elapsed/slowstart rounded up, at least 1 (HAProxy's ramp). Under the lock.
     */
    int effectiveWeight(long now) {
        int w = weight;
        long start = rampStart;
        if (start == 0) return w;
        long span = check.slowstartMs() * 1_000_000L;
        long elapsed = now - start;
        if (elapsed >= span) {
            rampStart = 0;
            return w;
        }
        if (elapsed < 0) elapsed = 0;
        // in double: weight x nanoseconds overflows a long for a slowstart of years
        return (int) Math.max(1, (long) Math.ceil((double) w * elapsed / span));
    }

    /** Throttle percent during slowstart (show stat's throttle), or -1 when not ramping. */
    public int throttlePercent() {
        long start = rampStart;
        if (start == 0) return -1;
        long span = check.slowstartMs() * 1_000_000L;
        long elapsed = System.nanoTime() - start;
        return elapsed >= span ? -1 : (int) (elapsed * 100 / span);
    }

    /**
     * The maxconn a new stream is held to at {@code now} (System.nanoTime()): {@code mc}, or
     * during slowstart its share elapsed/slowstart rounded down, at least 1, as HAProxy's
     * srv_dynamic_maxconn (which counts whole seconds; here nanoseconds). No maxconn (0) stays
     * unlimited. Under the lock.
     */
    int rampedMaxconn(int mc, long now) {
        long start = rampStart;
        if (start == 0 || mc == 0) return mc;
        long span = check.slowstartMs() * 1_000_000L;
        long elapsed = now - start;
        if (elapsed >= span) return mc;
        if (elapsed < 0) elapsed = 0;
        // in double: maxconn x nanoseconds overflows a long for a slowstart of days
        return (int) Math.max(1, (long) ((double) mc * elapsed / span));
    }

    /** Under the backend's lock. */
    boolean hasSlot() {
        int mc = maxconn;
        return usable() && (mc == 0 || current < (rampStart == 0 ? mc : rampedMaxconn(mc, System.nanoTime())));
    }

    /** Whether slowstart still holds its weight or maxconn down. */
    boolean ramping() {
        return rampStart != 0;
    }

    /** Whether the ramp has run its course at {@code now} (System.nanoTime()), or none runs. */
    boolean rampOver(long now) {
        return rampLeftMs(now) == 0;
    }

    /** Milliseconds (rounded up) until the ramp is over at {@code now}, 0 when it is or none runs. */
    long rampLeftMs(long now) {
        long start = rampStart;
        if (start == 0) return 0;
        long left = check.slowstartMs() * 1_000_000L - (now - start);
        return left <= 0 ? 0 : (left + 999_999) / 1_000_000;
    }

    /** {@link Warmup}'s timer for this server, made on loop 0 the first time it ramps; loop 0 only. */
    Warmup warmup;

    /** Takes a slot (under the backend's lock). */
    void take() {
        int c = current + 1;
        current = c;
        smax.update(c);
    }

    /** Gives a slot back (under the backend's lock). */
    void release() {
        current = current - 1;
    }
}
