package org.forwarder.proxy;

import org.forwarder.config.Balance;
import org.forwarder.config.BackendConfig;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.LoopCounters;
import org.forwarder.stats.ProxyCounter;

import java.util.List;

/**
 * A backend at run time: picks a server (smooth weighted round-robin, or least connections per
 * weight) and keeps the FIFO of streams waiting for a server slot when every server is at its
 * {@code maxconn}. A freed slot goes to the oldest waiter.
 */
public final class Backend {
    private final BackendConfig config;
    private final Server[] servers;
    private final Balance balance;
    private final Session.WaitQueue queue = new Session.WaitQueue();
    private final CounterBlock<ProxyCounter> stats;
    private int rrStart;

    /** {@code counters}: the loop's, where this backend and its servers find their blocks by name. */
    public Backend(BackendConfig config, LoopCounters counters) {
        this.config = config;
        this.stats = counters.backend(config.name());
        List<Server> list = config.servers().stream()
                .map(s -> new Server(s.name(), s.address(), s.weight(), s.maxconn(), counters.server(config.name(), s.name())))
                .toList();
        this.servers = list.toArray(new Server[0]);
        this.balance = config.balance();
    }

    public BackendConfig config() { return config; }
    public String name() { return config.name(); }
    public Server[] servers() { return servers; }
    public int queued() { return queue.size(); }
    /** This backend's figures as this loop counts them. */
    public CounterBlock<ProxyCounter> stats() { return stats; }

    /** A stream of this backend started (accepted by a frontend that uses it). */
    void streamOpened() {
        stats.inc(ProxyCounter.STOT);
        stats.add(ProxyCounter.SCUR, 1);
    }

    /** A stream of this backend ended. */
    void streamClosed() {
        stats.add(ProxyCounter.SCUR, -1);
    }

    /** True when some server can take traffic at all (weight > 0). */
    public boolean hasUsableServer() {
        return usableServers() > 0;
    }

    /** A server with a free slot, or null when all are full (or none is usable). */
    public Server pick() {
        return balance == Balance.LEASTCONN ? pickLeastConn() : pickRoundRobin();
    }

    private Server pickRoundRobin() {
        // smooth weighted round-robin: every candidate gains its weight, the richest is chosen
        // and pays the total back; it interleaves servers in proportion to their weights
        Server best = null;
        int total = 0;
        for (Server s : servers) {
            if (!s.hasSlot()) continue;
            s.rrCurrent += s.weight;
            total += s.weight;
            if (best == null || s.rrCurrent > best.rrCurrent) best = s;
        }
        if (best != null) best.rrCurrent -= total;
        return best;
    }

    private Server pickLeastConn() {
        Server best = null;
        int bestIndex = -1;
        int n = servers.length;
        // start after the last choice so ties rotate instead of piling on the first server
        for (int k = 0; k < n; k++) {
            int i = (rrStart + k) % n;
            Server s = servers[i];
            if (!s.hasSlot()) continue;
            if (best == null || (long) s.current * best.weight < (long) best.current * s.weight) {
                best = s;
                bestIndex = i;
            }
        }
        if (best != null) rrStart = bestIndex + 1;
        return best;
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
        for (Server s : servers) if (s.weight > 0) n++;
        return n;
    }

    // ---- the queue of streams waiting for a slot -------------------------------------------

    void enqueue(Session s) {
        queue.add(s);
        stats.inc(ProxyCounter.QTOT);
        stats.add(ProxyCounter.QCUR, 1);
    }

    /** Takes {@code s} out of the queue if it is there. */
    void dequeue(Session s) {
        int before = queue.size();
        queue.remove(s);
        stats.add(ProxyCounter.QCUR, queue.size() - before);
    }

    /**
     * A server slot was freed: it goes straight to the oldest waiter (taken on its behalf, so
     * nobody arriving meanwhile can have it), and so on while slots remain.
     */
    public void slotFreed() {
        while (queue.head() != null) {
            Server sv = pick();
            if (sv == null) return;
            Session s = queue.head();
            queue.remove(s);
            stats.add(ProxyCounter.QCUR, -1);
            sv.take();
            s.grantSlot(sv);
        }
    }
}
