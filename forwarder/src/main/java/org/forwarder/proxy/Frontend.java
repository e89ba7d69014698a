package org.forwarder.proxy;

import org.forwarder.config.FrontendConfig;
import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.ProxyCounter;


/**
 * A frontend at run time: its backend, its effective timeouts and splice options, its connection
 * count against maxconn, and its loop's counter block.
 */
public final class Frontend {
    private final FrontendConfig config;
    private final Backend backend;
    private final Timeouts timeouts;
    private final SpliceOptions splice;
    private final CounterBlock<ProxyCounter> stats;
    private int current;

    public Frontend(FrontendConfig config, Backend backend, boolean noSplice, CounterBlock<ProxyCounter> stats) {
        this.config = config;
        this.stats = stats;
        this.backend = backend;
        this.timeouts = Timeouts.effective(config, backend.config());
        this.splice = noSplice ? SpliceOptions.NONE : SpliceOptions.effective(config, backend.config());
    }

    public FrontendConfig config() { return config; }
    public String name() { return config.name(); }
    public Backend backend() { return backend; }
    public Timeouts timeouts() { return timeouts; }
    public SpliceOptions splice() { return splice; }
    public int current() { return current; }
    /** This frontend's figures as this loop counts them. */
    public CounterBlock<ProxyCounter> stats() { return stats; }

    boolean atLimit() {
        return config.maxconn() > 0 && current >= config.maxconn();
    }

    void opened() {
        current++;
        stats.inc(ProxyCounter.STOT);
        stats.add(ProxyCounter.SCUR, 1);
    }

    /** A stream of this frontend ended. */
    public void closed() {
        current--;
        stats.add(ProxyCounter.SCUR, -1);
    }
}
