package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.Objects;

/**
 * One server of a backend. {@code weight} is 0..256 (0 = receives no new connections),
 * {@code maxconn} 0 means unlimited; {@code check} its health-check and state options;
 * {@code where} is "file:line" of its {@code server} line.
 */
public record ServerConfig(String name, SockAddr address, int weight, int maxconn, ServerCheck check, String where) {

    /** A server without health-check options. */
    public ServerConfig(String name, SockAddr address, int weight, int maxconn, String where) {
        this(name, address, weight, maxconn, ServerCheck.NONE, where);
    }

    public static final int DEFAULT_WEIGHT = 1;
    public static final int MAX_WEIGHT = 256;

    public ServerConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(where, "where");
        Objects.requireNonNull(check, "check");
        if (weight < 0 || weight > MAX_WEIGHT) {
            throw new IllegalArgumentException("server '" + name + "': weight " + weight + " is outside 0.." + MAX_WEIGHT);
        }
        if (maxconn < 0) {
            throw new IllegalArgumentException("server '" + name + "': maxconn cannot be negative");
        }
    }
}
