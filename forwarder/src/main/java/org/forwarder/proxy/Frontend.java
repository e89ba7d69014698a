package org.forwarder.proxy;

import org.forwarder.config.FrontendConfig;
import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;

import java.util.ArrayList;
import java.util.List;

/** A frontend at run time: its listeners, its backend, its connection count against maxconn. */
public final class Frontend {
    private final FrontendConfig config;
    private final Backend backend;
    private final Timeouts timeouts;
    private final SpliceOptions splice;
    final List<Listener> listeners = new ArrayList<>();
    private int current;
    private long total;

    public Frontend(FrontendConfig config, Backend backend, boolean noSplice) {
        this.config = config;
        this.backend = backend;
        this.timeouts = Timeouts.effective(config, backend.config());
        this.splice = noSplice ? SpliceOptions.NONE : config.splice().or(backend.config().splice());
    }

    public FrontendConfig config() { return config; }
    public String name() { return config.name(); }
    public Backend backend() { return backend; }
    public Timeouts timeouts() { return timeouts; }
    public SpliceOptions splice() { return splice; }
    public int current() { return current; }
    public long total() { return total; }
    public List<Listener> listeners() { return listeners; }

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
