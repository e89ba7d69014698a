package org.forwarder.config;

import java.util.List;
import java.util.Objects;

/**
 * A frontend that serves HAProxy's Prometheus exporter ({@code mode http} with
 * {@code http-request use-service prometheus-exporter if { path /metrics }}) instead of
 * forwarding: where it listens, how many scrapers may be connected at once ({@code maxconn} of
 * the section, else {@link #DEFAULT_MAXCONN}) and how long an idle one may stay
 * ({@code timeout client}, else {@link #DEFAULT_TIMEOUT_MS}). {@code where} is its file:line.
 */
public record PrometheusConfig(String name, String where, List<BindConfig> binds, int maxconn, long timeoutMs) {

    /** The path the exporter answers on, as in HAProxy's documented frontend. */
    public static final String PATH = "/metrics";
    /** Scrapers at once when the section sets no maxconn: a handful, as for the stats socket. */
    public static final int DEFAULT_MAXCONN = 10;
    /** Idle limit when no {@code timeout client} applies (HAProxy would wait forever). */
    public static final long DEFAULT_TIMEOUT_MS = 10_000;

    public PrometheusConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(where, "where");
        binds = List.copyOf(binds);
        if (maxconn < 1) throw new IllegalArgumentException("maxconn must be at least 1");
        if (timeoutMs < 1) throw new IllegalArgumentException("timeout must be positive");
    }
}
