package org.forwarder.proxy;

import org.forwarder.config.BackendConfig;
import org.forwarder.config.Config;
import org.forwarder.config.FrontendConfig;
import org.forwarder.config.GlobalConfig;
import org.forwarder.config.ServerConfig;
import org.forwarder.stats.ProxyMax;
import org.forwarder.stats.StatsRegistry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What every event loop of the process shares: the frontends and backends (with their servers,
 * slot counts and queues), the global connection limit, and the list of loops, so that one loop
 * can wake another (a server slot handed over, a listener paused at a limit that another loop's
 * close lifted). Built once from the configuration; the loops each own everything else.
 */
public final class Proxies {
    private final GlobalConfig global;
    private final List<Frontend> frontends;
    private final Map<String, Backend> backends;
    final ConnLimit connections;
    /** System.nanoTime() before which another fd-shortage warning would only repeat the last one, from any loop. */
    private final java.util.concurrent.atomic.AtomicLong nextFdWarning = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
    /** Where process events go besides standard error (the global log targets); set once at start. */
    private volatile org.forwarder.log.EventLog events = org.forwarder.log.EventLog.NONE;
    /** The loops, set once before any runs. */
    private Worker[] loops = new Worker[0];

    private Proxies(GlobalConfig global, List<Frontend> frontends, Map<String, Backend> backends) {
        this.global = global;
        this.frontends = frontends;
        this.backends = backends;
        this.connections = new ConnLimit(global.maxconn());
    }

    /** The run-time objects of {@code config}, counting into {@code registry}'s rows. */
    public static Proxies of(Config config, StatsRegistry registry) {
        Map<String, Backend> backends = new LinkedHashMap<>();
        for (BackendConfig bc : config.backends().values()) {
            List<Server> servers = new ArrayList<>();
            for (ServerConfig s : bc.servers()) {
                int row = registry.server(bc.name(), s.name()).index();
                servers.add(new Server(s.name(), s.address(), s.weight(), s.maxconn(), s.check(), row, servers.size(),
                        registry.max(row, ProxyMax.SMAX), registry.max(row, ProxyMax.RATE_MAX)));
            }
            int row = registry.backend(bc.name()).index();
            backends.put(bc.name(), new Backend(bc, row, servers.toArray(new Server[0]),
                    registry.max(row, ProxyMax.SMAX), registry.max(row, ProxyMax.QMAX), registry.max(row, ProxyMax.RATE_MAX)));
        }
        List<Frontend> frontends = new ArrayList<>();
        for (FrontendConfig fc : config.frontends()) {
            frontends.add(new Frontend(fc, backends.get(fc.defaultBackend()), config.global().noSplice(),
                    registry.frontend(fc.name()).index(), registry));
        }
        return new Proxies(config.global(), List.copyOf(frontends), backends);
    }

    public GlobalConfig global() { return global; }
    public List<Frontend> frontends() { return frontends; }
    /** Backend {@code name}, or null. */
    public Backend backend(String name) { return backends.get(name); }
    /** Every backend, in configuration order. */
    public java.util.Collection<Backend> backends() { return backends.values(); }
    /** Connections open now in the whole process. */
    public int current() { return connections.current(); }

    /** The loops. */
    public Worker[] loops() { return loops.clone(); }

    /** Frontend {@code name}, or null. */
    public Frontend frontend(String name) {
        for (Frontend f : frontends) if (f.name().equals(name)) return f;
        return null;
    }

    /** The global maxconn now. */
    public int maxconn() { return connections.max(); }

    // ---- runtime changes (the control loop) ------------------------------------------------

    /** {@code set maxconn frontend}: the new limit, and the loops paused at the old one look again. */
    public void setMaxconn(Frontend fe, int max) {
        fe.connections.setMax(max);
        wakeLimitPaused();
    }

    /** {@code set maxconn global}. */
    public void setGlobalMaxconn(int max) {
        connections.setMax(max);
        wakeLimitPaused();
    }

    /**
     * {@code set server}, {@code set weight}, {@code set maxconn server}: changes {@code sv}
     * (see {@link Backend#change}); when that gave waiting streams a chance, loop 0 serves the
     * backend's queue (the grants wake the waiters on their own loops).
     */
    public void changeServer(Backend be, Server sv, int adminState, int weight, int maxconn) {
        boolean maintBefore = sv.inMaintenance();
        if (be.change(sv, adminState, weight, maxconn) && loops.length > 0) {
            Worker w = loops[0];
            w.poller().execute(() -> be.serveQueue(w.counters()));
        }
        followRamp(be, sv);
        if (!maintBefore && sv.inMaintenance()) {
            markedDown(sv);
        } else if (maintBefore && !sv.inMaintenance() && sv.op.up) {
            markedUp(be, sv);
        }
    }

    /**
     * {@code sv} went DOWN (its checks, the runtime API, or into maintenance): with {@code
     * on-marked-down shutdown-sessions} its streams end, logged "D" (HAProxy's SF_ERR_DOWN, for
     * every way a server stops, as its srv_update_status). Any thread.
     */
    public void markedDown(Server sv) {
        if (sv.check().shutdownSessionsOnDown()) killStreamsOn(sv, 'D');
    }

    /**
     * Active server {@code sv} came UP (its checks, the runtime API, or out of maintenance): with
     * {@code on-marked-up shutdown-backup-sessions} the backups' streams end, logged "U"
     * (HAProxy's SF_ERR_UP), but only if it can take them (HAProxy: a non-zero effective weight;
     * not drained, not weighted 0). Any thread.
     */
    public void markedUp(Backend be, Server sv) {
        if (sv.backup() || !sv.usable() || !sv.check().shutdownBackupSessionsOnUp()) return;
        for (Server b : be.servers()) if (b.backup()) killStreamsOn(b, 'U');
    }

    /** Ends the streams on {@code sv} on every loop, logged with termination state {@code cause}. */
    public void killStreamsOn(Server sv, char cause) {
        for (Worker w : loops) w.poller().execute(() -> w.killSessionsOn(sv, cause));
    }

    /**
     * A server that came back UP or READY with {@code slowstart} ramps its maxconn: loop 0's
     * {@link Warmup} serves the queue as the ramp grows. Any thread; a no-op when it does not ramp.
     */
    public void followRamp(Backend be, Server sv) {
        if (!sv.ramping() || loops.length == 0) return;
        Worker w = loops[0];
        w.poller().execute(() -> {
            Warmup t = sv.warmup;
            if (t == null) sv.warmup = t = new Warmup(be, sv, w);
            t.follow();
        });
    }

    /**
     * {@code set server b/s health up|down}: {@code sv}'s health to its top (UP) or 0 (DOWN);
     * true when its state changed. A server that came up serves the queue from loop 0.
     */
    public boolean forceHealth(Backend be, Server sv, boolean up) {
        int change = be.forceHealth(sv, up);
        if (change > 0) {
            if (loops.length > 0) {
                Worker w = loops[0];
                w.poller().execute(() -> be.serveQueue(w.counters()));
            }
            followRamp(be, sv);
            markedUp(be, sv);
        } else if (change < 0) {
            markedDown(sv);
        }
        return change != 0;
    }

    private void wakeLimitPaused() {
        for (Worker w : loops) if (w.hasLimitPausedListener()) w.wakeToResume();
    }

    /**
     * The process's event log (global {@code log} targets): the runtime API reports server state
     * changes here, e.g. {@code events().alert("Server b/s is going DOWN for maintenance. ...")}.
     */
    public org.forwarder.log.EventLog events() { return events; }

    public void setEvents(org.forwarder.log.EventLog events) { this.events = events; }

    /** Records the loops (once, before any of them runs). */
    public void setLoops(Worker[] loops) {
        this.loops = loops.clone();
    }

    /** Whether the caller should log that accepts ran out of fds: at most once per 10 s for the process. */
    boolean warnFdShortage() {
        long now = System.nanoTime();
        long next = nextFdWarning.get();
        return now - next >= 0 && nextFdWarning.compareAndSet(next, now + 10_000_000_000L);
    }

    /**
     * A place under the connection limits was given back on loop {@code from} (a connection
     * closed, or an accept found nothing after taking one): loops whose listeners paused at a
     * limit may accept again. Each such loop resumes them on its own thread; {@code from} does its
     * own at once. One volatile read per loop when none is paused.
     */
    void placeFreed(Worker from) {
        for (Worker w : loops) {
            if (!w.hasLimitPausedListener()) continue;
            if (w == from) w.resumeLimitPaused();
            else w.wakeToResume();
        }
    }
}
