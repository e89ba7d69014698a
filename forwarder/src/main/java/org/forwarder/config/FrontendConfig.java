package org.forwarder.config;

import java.util.List;
import java.util.Objects;

/**
 * A proxy that accepts client connections on {@code binds} and hands them to {@code defaultBackend}.
 * {@code maxconn} is already resolved (the global maxconn when the configuration did not set one).
 */
public record FrontendConfig(String name, String where, List<BindConfig> binds, String defaultBackend,
                             int maxconn, Timeouts timeouts, SpliceOptions splice) {
    public FrontendConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(where, "where");
        Objects.requireNonNull(defaultBackend, "defaultBackend");
        Objects.requireNonNull(timeouts, "timeouts");
        Objects.requireNonNull(splice, "splice");
        binds = List.copyOf(binds);
        if (maxconn < 1) {
            throw new IllegalArgumentException("frontend '" + name + "': maxconn must be at least 1");
        }
    }

    public FrontendConfig withMaxconn(int newMaxconn) {
        return new FrontendConfig(name, where, binds, defaultBackend, newMaxconn, timeouts, splice);
    }
}
