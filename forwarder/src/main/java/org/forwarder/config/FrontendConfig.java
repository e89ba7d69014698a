package org.forwarder.config;

import java.util.List;
import java.util.Objects;

/**
 * A proxy that accepts client connections on {@code binds} and hands them to {@code defaultBackend}.
 * {@code maxconn} is already resolved (the global maxconn when the configuration did not set one);
 * {@code logs}: what it logs per connection and where ({@link LogSettings#NONE}: nothing).
 */
public record FrontendConfig(String name, String where, List<BindConfig> binds, String defaultBackend,
                             int maxconn, Timeouts timeouts, SpliceOptions splice, LogSettings logs) {
    public FrontendConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(where, "where");
        Objects.requireNonNull(defaultBackend, "defaultBackend");
        Objects.requireNonNull(timeouts, "timeouts");
        Objects.requireNonNull(splice, "splice");
        Objects.requireNonNull(logs, "logs");
        binds = List.copyOf(binds);
        if (maxconn < 1) {
            throw new IllegalArgumentException("frontend '" + name + "': maxconn must be at least 1");
        }
    }

    /** A frontend that logs nothing. */
    public FrontendConfig(String name, String where, List<BindConfig> binds, String defaultBackend,
                          int maxconn, Timeouts timeouts, SpliceOptions splice) {
        this(name, where, binds, defaultBackend, maxconn, timeouts, splice, LogSettings.NONE);
    }

    public FrontendConfig withMaxconn(int newMaxconn) {
        return new FrontendConfig(name, where, binds, defaultBackend, newMaxconn, timeouts, splice, logs);
    }
}
