package org.forwarder.proxy;

import org.forwarder.config.FrontendConfig;
import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;
import org.forwarder.stats.ProxyMax;
import org.forwarder.stats.SharedMax;
import org.forwarder.stats.StatsRegistry;

/**
 * A frontend at run time, shared by every event loop: its backend, its effective timeouts and
 * splice options, and its connection count against its {@code maxconn}, process-wide. Its
 * counters are per loop (row {@link #statsRow} of each loop's block); its maxima (smax,
 * rate_max) are process-wide, raised at accepts by the accepting loop ({@link SharedMax}).
 */
public final class Frontend {
    private final FrontendConfig config;
    private final Backend backend;
    private final Timeouts timeouts;
    private final SpliceOptions splice;
    /** The frontend's row in the stats registry. */
    final int statsRow;
    final ConnLimit connections;
    /** Most connections open at once (smax) and the highest stream rate seen at an accept (rate_max). */
    final SharedMax smax;
    final SharedMax rateMax;
    /** Connections get a log line ({@code option tcplog} or {@code log-format} with somewhere to send it). */
    final boolean logs;
    /** The line shows the address the client connected to (%fi, %fp): read at accept. */
    final boolean logsFrontendAddress;

    Frontend(FrontendConfig config, Backend backend, boolean noSplice, int statsRow, StatsRegistry registry) {
        this.config = config;
        this.backend = backend;
        this.statsRow = statsRow;
        this.connections = new ConnLimit(config.maxconn());
        this.smax = registry.max(statsRow, ProxyMax.SMAX);
        this.rateMax = registry.max(statsRow, ProxyMax.RATE_MAX);
        this.logs = config.logs().active();
        this.logsFrontendAddress = logs && (config.logs().format().uses(org.forwarder.config.LogFormat.Var.FRONTEND_IP)
                || config.logs().format().uses(org.forwarder.config.LogFormat.Var.FRONTEND_PORT));
        this.timeouts = Timeouts.effective(config, backend.config());
        this.splice = noSplice ? SpliceOptions.NONE : SpliceOptions.effective(config, backend.config());
    }

    public FrontendConfig config() { return config; }
    public String name() { return config.name(); }
    public Backend backend() { return backend; }
    public Timeouts timeouts() { return timeouts; }
    public SpliceOptions splice() { return splice; }
    /** Connections open now, over all loops. */
    public int current() { return connections.current(); }
    /** Its maxconn now (the configured one until the runtime API changes it). */
    public int maxconn() { return connections.max(); }
}
