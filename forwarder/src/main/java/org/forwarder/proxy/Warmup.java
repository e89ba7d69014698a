package org.forwarder.proxy;

import org.forwarder.poll.TimerTask;

/**
 * {@code slowstart}'s queue service. While a server's maxconn ramps up ({@link Server#rampedMaxconn}),
 * the streams the ramp holds back wait in the backend's queue, and nothing else would let them
 * in before some stream ends: a server that came back from maintenance may have no checks at all.
 * As HAProxy's warm-up task, this timer gives them the slots the ramp added every max(1 s,
 * slowstart / 20), and once more when the ramp is over. One per server, on loop 0 (as the other
 * runtime changes that serve the queue), armed by {@link Proxies#followRamp}; loop 0's thread only.
 */
final class Warmup extends TimerTask {
    private static final long MIN_STEP_MS = 1_000;

    private final Backend backend;
    private final Server server;
    private final Worker loop;

    Warmup(Backend backend, Server server, Worker loop) {
        this.backend = backend;
        this.server = server;
        this.loop = loop;
    }

    /** Arms the timer for the ramp under way, unless it already runs. */
    void follow() {
        if (!isScheduled()) loop.poller().timers().schedule(this, loop.poller().now() + nextStepMs());
    }

    /** A step, or less when the ramp ends sooner: the last service comes right after its end. */
    private long nextStepMs() {
        long step = Math.max(MIN_STEP_MS, server.check.slowstartMs() / 20);
        return Math.max(1, Math.min(step, server.rampLeftMs(System.nanoTime()) + 1));
    }

    @Override
    protected void onTimer(long nowMs) {
        // whether the ramp is over is read before serving, so a last service that the ramp's end
        // overtakes while it runs (granting by the ramp's share, then found over) gets another
        boolean over = server.rampOver(System.nanoTime());
        backend.serveQueue(loop.counters());
        if (!over) loop.poller().timers().schedule(this, nowMs + nextStepMs());
    }
}
