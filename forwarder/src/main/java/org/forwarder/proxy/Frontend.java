package org.forwarder.proxy;

import org.forwarder.config.FrontendConfig;
import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;


/** A frontend at run time: its backend, its effective timeouts and splice options, its connection count against maxconn. */
public final class Frontend {
    private final FrontendConfig config;
    private final Backend backend;
    private final Timeouts timeouts;
    private final SpliceOptions splice;
    private int current;
    private long total;

    public Frontend(FrontendConfig config, Backend backend, boolean noSplice) {
        this.config = config;
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
    public long total() { return total; }

    boolean atLimit() {
        return config.maxconn() > 0 && current >= config.maxconn();
    }

    void opened() {
        current++;
        total++;
    }

    /** A stream of this frontend ended. */
    public void closed() {
        current--;
    }
}
