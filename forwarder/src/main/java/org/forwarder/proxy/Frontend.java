package org.forwarder.proxy;

import org.forwarder.config.FrontendConfig;
import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;

/**
 * A frontend at run time, shared by every event loop: its backend, its effective timeouts and
 * splice options, and its connection count against its {@code maxconn}, process-wide. Its
 * counters are per loop (row {@link #statsRow} of each loop's block).
 */
public final class Frontend {
    private final FrontendConfig config;
    private final Backend backend;
    private final Timeouts timeouts;
    private final SpliceOptions splice;
    /** The frontend's row in the stats registry. */
    final int statsRow;
    final ConnLimit connections;

    Frontend(FrontendConfig config, Backend backend, boolean noSplice, int statsRow) {
        this.config = config;
        this.backend = backend;
        this.statsRow = statsRow;
        this.connections = new ConnLimit(config.maxconn());
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
}
