package org.forwarder.proxy;

import org.forwarder.config.Balance;
import org.forwarder.config.BackendConfig;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.LoopCounters;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.stats.SharedMax;

/**
 * A backend at run time, shared by every event loop: picks a server (smooth weighted round-robin,
 * or least connections per weight) and keeps the FIFO of streams waiting for a server slot when
 * every server is at its {@code maxconn}. A freed slot goes to the oldest waiter, whichever loop
 * it lives on.
 *
 * <p>Shared state and its lock. The servers' slot counts, the round-robin state and the queue
 * change together, under one lock per backend, taken once when a stream picks a server (or
 * queues), once when it gives its slot back, and when it leaves the queue; never on the
 * per-event path (reads, writes, timers of established streams). One lock rather than a CAS per
 * server because a pick reads every server and the FIFO rule ties the queue to the slots: a slot
 * freed while streams wait must go to the head, not to a newcomer racing on another loop, which
 * needs the check "queue empty" and the take to be one step.
 *
 * <p>Handing a slot to a waiter on another loop ({@link #release}): under the lock the slot is
 * taken on the waiter's behalf and recorded in it ({@link Session#granted}), so nobody can
 * overtake it; then the waiter's loop is woken (its run queue if it is this loop, else its
 * cross-thread wake-up). The waiter collects the grant on its own thread ({@link #collect}); should
 * it die before that, {@link #leave} gives the slot to the next waiter. Counters: each loop counts
 * what it did into its own block of this backend's row (gauges as +1/-1 deltas, so sums over
 * loops are right even when one loop queues a stream and another dequeues it).
 *
 * <p>Health. A pick takes only servers that are usable (ready, weighted, UP by their checks),
 * and among them the active ones while any is usable; else the first usable backup, or every
 * usable backup with {@code option allbackups} ({@link #tier}). Check results, passive errors and
 * the runtime API move a server's {@link OpState} under the same lock, so a pick never sees half
 * of a change; a server that comes UP serves the queue at once.
 *
 * <p>Maxima (smax, qmax) are process-wide levels that no loop's deltas show, so they are kept
 * where the shared level changes: the queue's size under the lock, the streams of the backend in
 * one atomic count changed at a stream's start and end (once per connection, as the frontend's
 * count), each followed by a {@link SharedMax} update that writes only on a new maximum.
 */
public final class Backend {
    private final BackendConfig config;
    private final Server[] servers;
    private final Balance balance;
    /** The backend's row in the stats registry. */
    final int statsRow;
    private final Object lock = new Object();
    /** Guarded by {@link #lock}. */
    private final Session.WaitQueue queue = new Session.WaitQueue();
    /** leastconn: where the next tie-break starts (under the lock). */
    private int rrStart;
    private volatile int queued;
    /** Streams of this backend open now, over all loops (for smax). */
    private final java.util.concurrent.atomic.AtomicInteger streams = new java.util.concurrent.atomic.AtomicInteger();
    private final SharedMax smax;
    private final SharedMax qmax;
    /** Highest stream rate (rate_max), raised at a stream's start by its loop. */
    final SharedMax rateMax;

    Backend(BackendConfig config, int statsRow, Server[] servers, SharedMax smax, SharedMax qmax, SharedMax rateMax) {
        this.smax = smax;
        this.qmax = qmax;
        this.rateMax = rateMax;
        this.config = config;
        this.statsRow = statsRow;
        this.servers = servers;
        this.balance = config.balance();
    }

    public BackendConfig config() { return config; }
    public String name() { return config.name(); }
    public Server[] servers() { return servers; }
    /** Streams waiting for a slot now, over all loops. */
    public int queued() { return queued; }

    /** A stream of this backend started (any loop): raises smax. */
    void streamStarted() {
        smax.update(streams.incrementAndGet());
    }

    /** Streams of this backend open now, over all loops (HAProxy's beconn). */
    public int streams() { return streams.get(); }

    /** A stream of this backend ended (any loop). */
    void streamEnded() {
        streams.decrementAndGet();
    }

    /** True when some server can take new streams at all (ready, weight > 0). */
    public boolean hasUsableServer() {
        return usableServers() > 0;
    }

    // ---- slots ------------------------------------------------------------------------------

    /**
     * A slot for {@code s}: a server with a free one, its slot taken, when nobody waits before it;
     * otherwise null, and {@code s} is at the end of the queue (first come, first served across
     * loops). The caller checked {@link #hasUsableServer()}.
     */
    Server assign(Session s, LoopCounters counters) {
        synchronized (lock) {
            if (queue.size() == 0) {
                Server sv = pick();
                if (sv != null) {
                    sv.take();
                    return sv;
                }
            }
            queue.add(s);
            queued = queue.size();
            qmax.update(queued);
        }
        CounterBlock<ProxyCounter> stats = counters.row(statsRow);
        stats.inc(ProxyCounter.QTOT);
        stats.add(ProxyCounter.QCUR, 1);
        return null;
    }

    /** The slot granted to waiter {@code s} since it queued, or null; taken by {@code s} on its loop. */
    Server collect(Session s) {
        synchronized (lock) {
            Server g = s.granted;
            s.granted = null;
            return g;
        }
    }

    /**
     * {@code s} stops waiting (it ends, or its client left): out of the queue, or, when a slot
     * was granted to it meanwhile and not yet collected, that slot goes to the next waiter.
     */
    void leave(Session s, LoopCounters counters) {
        int dequeued = 0;
        synchronized (lock) {
            if (s.inQueue()) {
                queue.remove(s);
                queued = queue.size();
                dequeued = 1;
            } else if (s.granted != null) {
                Server g = s.granted;
                s.granted = null;
                g.release();
                dequeued = grantWaiters();
            } else {
                return;
            }
        }
        counters.row(statsRow).add(ProxyCounter.QCUR, -dequeued);
    }

    /** Gives back a slot of {@code sv}: it goes to the oldest waiter, if any, on any loop. */
    void release(Server sv, LoopCounters counters) {
        int granted;
        synchronized (lock) {
            sv.release();
            granted = grantWaiters();
        }
        if (granted > 0) counters.row(statsRow).add(ProxyCounter.QCUR, -granted);
    }

    /**
     * Under the lock: while slots are free, the queue head gets one, taken on its behalf; its
     * loop is woken to collect it. Returns how many left the queue.
     */
    private int grantWaiters() {
        int n = 0;
        Session s;
        while ((s = queue.head()) != null) {
            Server sv = pick();
            if (sv == null) break;
            queue.remove(s);
            sv.take();
            s.granted = sv;
            s.wakeForGrant();
            n++;
        }
        if (n > 0) queued = queue.size();
        return n;
    }

    /** A server with a free slot, or null when all are full (or none is usable). Under the lock. */
    private Server pick() {
        return balance == Balance.LEASTCONN ? pickLeastConn() : pickRoundRobin();
    }

    private Server pickRoundRobin() {
        // smooth weighted round-robin: every candidate gains its weight, the richest is chosen
        // and pays the total back; it interleaves servers in proportion to their weights
        Server best = null;
        int total = 0;
        int tier = tier();
        long now = System.nanoTime();
        for (Server s : servers) {
            if (!eligible(s, tier) || !s.hasSlot()) continue;
            int w = s.effectiveWeight(now);
            s.rrCurrent += w;
            total += w;
            if (best == null || s.rrCurrent > best.rrCurrent) best = s;
        }
        if (best != null) best.rrCurrent -= total;
        return best;
    }

    private Server pickLeastConn() {
        Server best = null;
        int bestIndex = -1;
        int n = servers.length;
        int tier = tier();
        long now = System.nanoTime();
        int bestWeight = 0;
        // start after the last choice so ties rotate instead of piling on the first server
        for (int k = 0; k < n; k++) {
            int i = (rrStart + k) % n;
            Server s = servers[i];
            if (!eligible(s, tier) || !s.hasSlot()) continue;
            int w = s.effectiveWeight(now);
            if (best == null || (long) s.current() * bestWeight < (long) best.current() * w) {
                best = s;
                bestWeight = w;
                bestIndex = i;
            }
        }
        if (best != null) rrStart = bestIndex + 1;
        return best;
    }

    /** {@link #tier}: the active servers are the candidates. */
    private static final int ACTIVE = -1;
    /** {@link #tier}: every usable backup server is a candidate (option allbackups). */
    private static final int ALL_BACKUPS = -2;
    /** {@link #tier}: no server is usable. */
    private static final int NONE = -3;

    /**
     * Which servers a pick may choose, as HAProxy decides it: the active ones while any of them
     * is usable (even when all are full: newcomers then queue rather than spill onto a backup);
     * when none is, the first usable backup in declaration order ({@code >= 0}: its index), or
     * every usable backup with {@code option allbackups}. Under the lock; no allocation.
     */
    private int tier() {
        int firstBackup = NONE;
        for (int i = 0; i < servers.length; i++) {
            Server s = servers[i];
            if (!s.usable()) continue;
            if (!s.backup()) return ACTIVE;
            if (firstBackup == NONE) firstBackup = i;
        }
        if (firstBackup != NONE && config.healthCheck().allBackups()) return ALL_BACKUPS;
        return firstBackup;
    }

    private boolean eligible(Server s, int tier) {
        return switch (tier) {
            case ACTIVE -> !s.backup();
            case ALL_BACKUPS -> s.backup();
            case NONE -> false;
            default -> s.index == tier;
        };
    }

    /** Usable servers now: {@code backup} false for the active ones, true for the backups. */
    public int usableServers(boolean backup) {
        int n = 0;
        for (Server s : servers) if (s.usable() && s.backup() == backup) n++;
        return n;
    }

    // ---- operational state (checks, passive observation) -----------------------------------

    /** The backend had a usable server at the last look (under the lock). */
    private boolean wasUp = true;
    /** Times the backend lost its last usable server (chkdown), time spent so (downtime). */
    private volatile long downs;
    private volatile long downSince;
    private volatile long downtimeNs;

    /** Under the lock, after any server change: counts the backend's own falls and time down. */
    private void noteBackendState() {
        boolean up = tier() != NONE;
        if (wasUp && !up) {
            downs++;
            downSince = System.nanoTime();
        } else if (!wasUp && up && downSince != 0) {
            downtimeNs += System.nanoTime() - downSince;
            downSince = 0;
        }
        wasUp = up;
    }

    /** Times the backend lost its last usable server. */
    public long downs() { return downs; }

    /** Seconds the backend spent without a usable server, the current stretch included. */
    public long downtimeSeconds() {
        long since = downSince;
        return (downtimeNs + (since != 0 ? System.nanoTime() - since : 0)) / 1_000_000_000L;
    }

    /**
     * A health check of {@code sv} passed ({@code ok}) or failed: its health counter moves, and
     * with it maybe its state. Returns +1 when it came UP, -1 when it went DOWN, else 0. When it
     * came up the waiters get its free slots at once ({@code counters}: the caller's loop's);
     * while its slowstart ramps its maxconn up, {@link Warmup} gives them the slots it adds.
     */
    public int checkResult(Server sv, boolean ok, LoopCounters counters) {
        int change;
        int granted = 0;
        synchronized (lock) {
            OpState op = sv.op;
            change = ok ? op.passed() : op.failed();
            if (change != 0) {
                sv.changedAt = System.nanoTime();
                noteBackendState();
                if (change > 0) {
                    sv.rrCurrent = 0;
                    sv.startRamp();
                    granted = grantWaiters();
                }
            }
        }
        if (granted > 0) counters.row(statsRow).add(ProxyCounter.QCUR, -granted);
        return change;
    }

    /** Sets {@code sv}'s health to its top ({@code up}) or 0; +1 came UP, -1 went DOWN, 0 no change (always in maintenance). */
    int forceHealth(Server sv, boolean up) {
        synchronized (lock) {
            OpState op = sv.op;
            int change = 0;
            op.health = up ? op.rise + op.fall - 1 : 0;
            // in maintenance the state stays as it is (HAProxy's srv_set_running/stopped return
            // at once): leaving maintenance decides it
            if (sv.inMaintenance()) return 0;
            if (up && !op.up) {
                op.up = true;
                long since = op.downSince;
                if (since != 0) {
                    op.downtimeNs += System.nanoTime() - since;
                    op.downSince = 0;
                }
                sv.rrCurrent = 0;
                sv.startRamp();
                change = 1;
            } else if (!up && op.up) {
                op.up = false;
                op.downs++;
                op.downSince = System.nanoTime();
                change = -1;
            }
            if (change != 0) {
                sv.changedAt = System.nanoTime();
                noteBackendState();
            }
            return change;
        }
    }

    /**
     * {@code observe layer4}: a connect of a stream to {@code sv} succeeded ({@code ok}) or
     * failed. After {@code error-limit} failures in a row, {@code on-error} acts. Returns what
     * {@link #checkResult} returns for the state (0 while nothing changed).
     */
    public int observed(Server sv, boolean ok, LoopCounters counters) {
        org.forwarder.config.ServerCheck c = sv.check;
        if (!c.observeLayer4() || !sv.op.checked) return 0;
        OpState op = sv.op;
        if (ok) {
            if (op.consecutiveErrors == 0) return 0; // a racy read: at worst one more lock below
            synchronized (lock) {
                op.consecutiveErrors = 0;
            }
            return 0;
        }
        int change = 0;
        synchronized (lock) {
            if (++op.consecutiveErrors < c.errorLimit()) return 0;
            op.consecutiveErrors = 0;
            switch (c.onError()) {
                case FASTINTER -> { }
                case SUDDEN_DEATH -> {
                    if (op.health > op.rise) op.health = op.rise + 1;
                    change = op.failed();
                }
                case FAIL_CHECK -> change = op.failed();
                case MARK_DOWN -> {
                    op.health = op.rise; // as HAProxy: then the failure (counted) drops it to 0
                    change = op.failed();
                }
            }
            op.hurry = true;
            op.status = "HANA";
            if (change != 0) {
                sv.changedAt = System.nanoTime();
                noteBackendState();
            }
        }
        // as HAProxy, every on-error mode brings the pending check forward to now + fastinter
        sv.hastenCheck(c.fastinterMs());
        return change;
    }

    // ---- retries -------------------------------------------------------------------------

    /**
     * Whether retry {@code retry} (1 for the first) of a failed connect goes to another server,
     * as HAProxy decides it: only with 'option redispatch'; with round-robin over more than one
     * usable server on every retry (which server does not matter there); otherwise on every P-th
     * retry for a positive interval P, or on the N-th retry before the last for a negative N
     * (-1, the default, being the last). An interval reaching before the first retry means every
     * retry.
     */
    public boolean redispatchOnRetry(int retry) {
        int after = config.redispatchAfter();
        if (after == 0) return false;
        if (balance == Balance.ROUNDROBIN && usableServers() > 1) return true;
        int every = after > 0 ? after : Math.max(1, config.retries() + 1 + after);
        return retry % every == 0;
    }

    /**
     * Whether a stream that gave its server up after a connect error still pauses before picking
     * again: HAProxy skips the pause only when round-robin has other servers to offer.
     */
    public boolean waitsBeforeRedispatch() {
        return balance != Balance.ROUNDROBIN || usableServers() <= 1;
    }

    private int usableServers() {
        int n = 0;
        for (Server s : servers) if (s.usable()) n++;
        return n;
    }

    /** Server {@code name}, or null. */
    public Server server(String name) {
        for (Server s : servers) if (s.name.equals(name)) return s;
        return null;
    }

    // ---- runtime changes (control loop) ---------------------------------------------------

    /**
     * Sets what the runtime API changes on {@code sv} ({@code adminState}, {@code weight},
     * {@code maxconn}; a negative value leaves that one as it is), under the lock, so a pick
     * never sees half of a change. Returns true when streams wait and the server has a free slot
     * now, in which case the caller serves the queue ({@link #serveQueue}) on a loop.
     */
    public boolean change(Server sv, int adminState, int weight, int maxconn) {
        boolean recheck = false;
        boolean serve;
        synchronized (lock) {
            if (adminState >= 0 && adminState != sv.adminState) {
                if (!sv.usable()) sv.rrCurrent = 0; // back in the rotation: no credit from before
                boolean maintBefore = sv.inMaintenance();
                sv.adminState = adminState;
                if ((adminState & Server.MAINT) != 0) sv.wasInMaintenance = true;
                OpState op = sv.op;
                if (op.checked && maintBefore && !sv.inMaintenance()) {
                    // HAProxy starts a server out of maintenance UP at health = rise (UP 1/fall)
                    // and checks it at once (the checker is hastened after the lock)
                    op.health = op.rise;
                    if (!op.up) {
                        op.up = true;
                        long since = op.downSince;
                        if (since != 0) {
                            op.downtimeNs += System.nanoTime() - since;
                            op.downSince = 0;
                        }
                    }
                    recheck = true;
                }
                if (maintBefore && !sv.inMaintenance() && op.up) sv.startRamp(); // back in service
                if (op.checked && !maintBefore && sv.inMaintenance()) {
                    // HAProxy zeroes the health of a server put in maintenance (back out of it,
                    // it restarts at rise, see above)
                    op.health = 0;
                    if (op.up) {
                        op.up = false;
                        op.downSince = System.nanoTime();
                    }
                }
                sv.changedAt = System.nanoTime();
            }
            if (weight >= 0 && sv.weight == 0 && weight > 0) sv.rrCurrent = 0;
            if (weight >= 0) sv.weight = weight;
            if (maxconn >= 0) sv.maxconn = maxconn;
            noteBackendState();
            serve = queue.size() > 0 && sv.hasSlot();
        }
        if (recheck) sv.hastenCheck(0);
        return serve;
    }

    /**
     * Gives free slots to the waiters, oldest first, as a release does; run on an event loop
     * (its counters count the streams that left the queue) after a runtime change made room.
     */
    public void serveQueue(LoopCounters counters) {
        int granted;
        synchronized (lock) {
            granted = grantWaiters();
        }
        if (granted > 0) counters.row(statsRow).add(ProxyCounter.QCUR, -granted);
    }
}
