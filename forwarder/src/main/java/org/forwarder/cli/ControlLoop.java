package org.forwarder.cli;

import org.forwarder.config.Config;
import org.forwarder.config.PrometheusConfig;
import org.forwarder.config.StatsConfig;
import org.forwarder.metrics.Exporter;
import org.forwarder.metrics.Scrape;
import org.forwarder.poll.Poller;
import org.forwarder.proxy.Proxies;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.sys.SockAddr;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The control loop: one more {@link Poller}, on its own thread, that serves the stats sockets
 * and the Prometheus exporter frontends ({@link Exporter}).
 * Why apart from the forwarding loops: a CLI client that is slow, idle or hostile costs this
 * loop's time and a bounded buffer ({@code stats maxconn} clients, a line limit, {@code stats
 * timeout}), never a forwarding loop's pass. It reads figures from the {@link StatsRegistry}
 * only, so no forwarding loop is ever asked anything.
 */
public final class ControlLoop {
    private final Poller poller;
    private final List<CliListener> listeners = new ArrayList<>();
    private final Thread thread;
    private final Consumer<String> log;
    private final CliSessions sessions;
    private final List<Exporter> exporters = new ArrayList<>();

    private ControlLoop(Config config, StatsRegistry registry, Proxies proxies, Consumer<String> log, int maxFds) {
        this.log = log;
        this.poller = new Poller(maxFds); // fd numbers are process-wide: the table covers the loops' fds too
        StatsConfig sc = config.global().stats();
        org.forwarder.proxy.LiveFigures figures = new org.forwarder.proxy.LiveFigures(config, registry, proxies);
        this.sessions = new CliSessions(poller, sc, new CliCommands(new CliContext(config, registry, proxies, log, figures)));
        try {
            for (StatsConfig.Socket s : sc.sockets()) {
                CliListener l = CliListener.open(poller, s, sessions);
                listeners.add(l);
                sessions.addListener(l);
            }
            if (!config.prometheus().isEmpty()) {
                Scrape scrape = new Scrape(figures);
                for (PrometheusConfig p : config.prometheus()) exporters.add(Exporter.open(poller, p, scrape));
            }
        } catch (RuntimeException e) {
            for (CliListener l : listeners) l.close();
            for (Exporter x : exporters) x.close();
            poller.close();
            throw e;
        }
        this.thread = new Thread(this::run, "forwarder-control");
        thread.setDaemon(true);
    }

    /**
     * Binds every stats socket of {@code config} and starts the loop, whose fd table has
     * {@code maxFds} entries (as the forwarding loops'); null when there is no stats socket and
     * no Prometheus exporter.
     */
    public static ControlLoop start(Config config, StatsRegistry registry, Proxies proxies, Consumer<String> log, int maxFds) {
        if (config.global().stats().sockets().isEmpty() && config.prometheus().isEmpty()) return null;
        ControlLoop c = new ControlLoop(config, registry, proxies, log, maxFds);
        c.thread.start();
        return c;
    }

    private void run() {
        try {
            poller.run();
        } catch (Throwable t) {
            log.accept("control loop stopped: " + t);
        } finally {
            sessions.closeAll();
            for (CliListener l : listeners) l.close();
            for (Exporter x : exporters) x.close();
        }
    }

    /** Where the Prometheus exporters listen, in configuration order (the kernel's port for port 0). */
    public List<SockAddr> metricsAddresses() {
        List<SockAddr> out = new ArrayList<>();
        for (Exporter x : exporters) out.addAll(x.boundAddresses());
        return out;
    }

    /** Stops the loop, closes its clients and sockets (removing the Unix socket files), and its poller. */
    public void stop() {
        poller.stop();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (!thread.isAlive()) poller.close();
    }
}
