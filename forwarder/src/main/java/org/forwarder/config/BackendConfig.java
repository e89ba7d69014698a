package org.forwarder.config;

import java.util.List;
import java.util.Objects;

/**
 * A pool of servers, how to spread connections over them and how to check them; {@code stateLoad}
 * says where their state after a reload comes from.
 */
public record BackendConfig(String name, String where, Balance balance, List<ServerConfig> servers,
                            Timeouts timeouts, int retries, SpliceOptions splice,
                            int redispatchAfter, HealthCheck healthCheck, ServerStateLoad stateLoad) {

    /** A backend that loads no server state at start. */
    public BackendConfig(String name, String where, Balance balance, List<ServerConfig> servers,
                         Timeouts timeouts, int retries, SpliceOptions splice, int redispatchAfter, HealthCheck healthCheck) {
        this(name, where, balance, servers, timeouts, retries, splice, redispatchAfter, healthCheck, ServerStateLoad.NONE);
    }

    /** A backend with HAProxy's default check (a TCP connect, for servers with {@code check}). */
    public BackendConfig(String name, String where, Balance balance, List<ServerConfig> servers,
                         Timeouts timeouts, int retries, SpliceOptions splice, int redispatchAfter) {
        this(name, where, balance, servers, timeouts, retries, splice, redispatchAfter, HealthCheck.DEFAULT);
    }

    public static final int DEFAULT_RETRIES = 3;
    /** {@code option redispatch} without an interval: move to another server on the last retry. */
    public static final int REDISPATCH_ON_LAST_RETRY = -1;

    public BackendConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(where, "where");
        Objects.requireNonNull(balance, "balance");
        Objects.requireNonNull(timeouts, "timeouts");
        Objects.requireNonNull(splice, "splice");
        Objects.requireNonNull(healthCheck, "healthCheck");
        Objects.requireNonNull(stateLoad, "stateLoad");
        servers = List.copyOf(servers);
        if (retries < 0) {
            throw new IllegalArgumentException("backend '" + name + "': retries cannot be negative");
        }
    }

    /** The server called {@code serverName}, or null. */
    public ServerConfig server(String serverName) {
        for (ServerConfig s : servers) {
            if (s.name().equals(serverName)) return s;
        }
        return null;
    }
}
