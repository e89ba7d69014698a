package org.forwarder.config;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Makes the configured limits fit the process's open-file limit (RLIMIT_NOFILE), so the forwarder
 * refuses excess connections by its own maxconn instead of failing accept/connect with EMFILE at
 * an unpredictable moment. Pure arithmetic: the caller reads and raises the real limit.
 */
public final class FdBudget {

    /** Fds in use besides connections, pipes and the loops' own: the JVM's files, stdio. */
    public static final long MARGIN = 32;

    private FdBudget() {}

    /**
     * Fds the configuration can use at its limits: a client and a server socket per connection,
     * two per pipe, and per event loop an epoll fd, an eventfd and one socket per bind; and the
     * Prometheus exporters' listening sockets and scrapers (on the control loop).
     */
    public static long needed(Config cfg) {
        return 2L * cfg.global().maxconn() + 2L * cfg.global().maxpipes() + fixed(cfg) + exporters(cfg) + MARGIN;
    }

    /** Each exporter's listening sockets and its maxconn scrapers. */
    private static long exporters(Config cfg) {
        long n = 0;
        for (PrometheusConfig p : cfg.prometheus()) n += p.binds().size() + p.maxconn();
        return n;
    }

    /**
     * The loops' own fds: epoll and eventfd, and a listening socket per bind, for each loop; and
     * one socket per health-checked server (each check holds at most one at a time).
     */
    private static long fixed(Config cfg) {
        long checks = 0;
        for (BackendConfig b : cfg.backends().values()) for (ServerConfig s : b.servers()) if (s.check().check()) checks++;
        return (long) cfg.global().loops() * (2 + binds(cfg)) + checks;
    }

    /**
     * Returns {@code cfg} adjusted to fit. If more fds are needed than {@code softLimit}, first asks
     * {@code raiseSoftLimit} to raise the soft limit to what is needed (at most {@code hardLimit};
     * it returns true if it did). If that is still too little, lowers maxpipes (down to 0), then
     * maxconn (global, and each frontend's clamped to it), adding a warning per lowered figure.
     * A negative limit means unlimited (RLIM_INFINITY read as a signed long).
     */
    public static Config fit(Config cfg, long softLimit, long hardLimit, LongPredicate raiseSoftLimit) {
        long soft = softLimit < 0 ? Long.MAX_VALUE : softLimit;
        long hard = hardLimit < 0 ? Long.MAX_VALUE : hardLimit;
        long need = needed(cfg);
        if (need <= soft) return cfg;
        long target = Math.min(need, hard);
        if (target > soft && raiseSoftLimit.test(target)) soft = target;
        if (need <= soft) return cfg;

        List<String> warnings = new ArrayList<>();
        String why = " to fit the open-file limit of " + soft + " (ulimit -n; hard limit "
                + (hard == Long.MAX_VALUE ? "unlimited" : String.valueOf(hard)) + "), which is below the " + need
                + " fds the configuration needs";
        GlobalConfig g = cfg.global();
        long fixed = fixed(cfg) + exporters(cfg) + MARGIN;

        long pipesRoom = Math.max(0, (soft - fixed - 2L * g.maxconn()) / 2);
        if (pipesRoom < g.maxpipes()) {
            warnings.add("maxpipes lowered from " + g.maxpipes() + " to " + pipesRoom + why
                    + (pipesRoom == 0 ? "; splicing is off" : ""));
            g = g.withMaxpipes((int) pipesRoom);
        }
        long connRoom = (soft - fixed - 2L * g.maxpipes()) / 2;
        List<FrontendConfig> frontends = cfg.frontends();
        if (connRoom < g.maxconn()) {
            int conns = (int) Math.max(1, connRoom);
            warnings.add("maxconn lowered from " + g.maxconn() + " to " + conns + why
                    + (connRoom < 1 ? "; even one connection may not fit, raise the limit" : ""));
            g = g.withMaxconn(conns);
            frontends = clampFrontends(frontends, conns, warnings);
        }
        return new Config(g, frontends, cfg.backends(), cfg.warnings(), cfg.prometheus()).withWarnings(warnings);
    }

    private static List<FrontendConfig> clampFrontends(List<FrontendConfig> frontends, int maxconn, List<String> warnings) {
        List<FrontendConfig> out = new ArrayList<>(frontends.size());
        for (FrontendConfig fe : frontends) {
            if (fe.maxconn() > maxconn) {
                warnings.add("frontend '" + fe.name() + "' maxconn lowered from " + fe.maxconn() + " to " + maxconn
                        + " to stay within the global maxconn lowered for the open-file limit");
                fe = fe.withMaxconn(maxconn);
            }
            out.add(fe);
        }
        return out;
    }

    private static long binds(Config cfg) {
        long n = 0;
        for (FrontendConfig fe : cfg.frontends()) n += fe.binds().size();
        return n;
    }
}
