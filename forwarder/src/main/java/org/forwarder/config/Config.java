package org.forwarder.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A complete, validated configuration: every frontend's {@code defaultBackend} is a key of
 * {@code backends}, and every such backend has at least one server. {@code backends} keeps the
 * order of the file. {@code warnings} are ready-to-print lines about things that work but are risky.
 * {@code prometheus} are the frontends that serve HAProxy's Prometheus exporter instead of
 * forwarding (not among {@code frontends}).
 */
public record Config(GlobalConfig global, List<FrontendConfig> frontends, Map<String, BackendConfig> backends,
                     List<String> warnings, List<PrometheusConfig> prometheus) {

    public Config {
        Objects.requireNonNull(global, "global");
        frontends = List.copyOf(frontends);
        prometheus = List.copyOf(prometheus);
        backends = Collections.unmodifiableMap(new LinkedHashMap<>(backends));
        warnings = List.copyOf(warnings);
    }

    /** A configuration without a Prometheus exporter. */
    public Config(GlobalConfig global, List<FrontendConfig> frontends, Map<String, BackendConfig> backends,
                  List<String> warnings) {
        this(global, frontends, backends, warnings, List.of());
    }

    /** The backend that {@code fe} sends its connections to. */
    public BackendConfig backendOf(FrontendConfig fe) {
        return backends.get(fe.defaultBackend());
    }

    /** The frontend called {@code name}, or null. */
    public FrontendConfig frontend(String name) {
        for (FrontendConfig fe : frontends) {
            if (fe.name().equals(name)) return fe;
        }
        return null;
    }

    /** The backend called {@code name}, or null. */
    public BackendConfig backend(String name) {
        return backends.get(name);
    }

    /** A copy with {@code g} as its global settings. */
    public Config withGlobal(GlobalConfig g) {
        return new Config(g, frontends, backends, warnings, prometheus);
    }

    /** A copy with {@code more} appended to the warnings. */
    public Config withWarnings(List<String> more) {
        List<String> all = new ArrayList<>(warnings);
        all.addAll(more);
        return new Config(global, frontends, backends, all, prometheus);
    }
}
