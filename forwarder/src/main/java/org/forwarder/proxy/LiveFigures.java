package org.forwarder.proxy;

import org.forwarder.config.CommandLine;
import org.forwarder.config.Config;
import org.forwarder.config.FdBudget;
import org.forwarder.config.FrontendConfig;
import org.forwarder.stats.ShowInfo;
import org.forwarder.stats.ShowStat;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.Syscalls;

import java.util.List;

/**
 * {@code show info}'s fields and {@code show stat}'s rows as they stand now, for every reader
 * (the CLI, the Prometheus page): one snapshot of the registry, the process facts no counter
 * holds (pid, start, fd limit, socket budget, listeners: read once, at start), and what the
 * runtime API changes (limits, server states: {@link RuntimeFigures}). No forwarding loop is
 * asked anything.
 */
public final class LiveFigures {
    private final Config config;
    private final StatsRegistry registry;
    private final Proxies proxies;
    private final List<ShowStat.Proxy> layout;
    private final long startSec = System.currentTimeMillis() / 1000;
    private final long startNanos = System.nanoTime();
    private final String version = CommandLine.version();
    private final long pid = ProcessHandle.current().pid();
    private final long ulimitN;
    private final long maxsock;
    private final int listeners;

    public LiveFigures(Config config, StatsRegistry registry, Proxies proxies) {
        this.config = config;
        this.registry = registry;
        this.proxies = proxies;
        this.layout = ShowStat.layout(config);
        this.ulimitN = Syscalls.get().getNofileLimit()[0];
        this.maxsock = FdBudget.needed(config);
        int n = 0;
        for (FrontendConfig fe : config.frontends()) n += fe.binds().size();
        this.listeners = n * config.global().loops();
    }

    public StatsRegistry registry() { return registry; }

    public StatsSnapshot snapshot() {
        return registry.snapshot();
    }

    /** Seconds since start. */
    public long uptime() {
        return (System.nanoTime() - startNanos) / 1_000_000_000L;
    }

    /** {@code show info} from {@code snap}: Maxconn the limit now, Hard_maxconn the configured one. */
    public ShowInfo info(StatsSnapshot snap, String node) {
        var g = config.global();
        ShowInfo.Process p = new ShowInfo.Process("forwarder", version, "", pid, startSec, startSec + uptime(), g.loops(),
                ulimitN, maxsock, proxies.maxconn(), g.maxpipes(), listeners, node, false);
        return ShowInfo.of(p, snap).set(ShowInfo.Field.HARD_MAXCONN, g.maxconn());
    }

    /** {@code show stat}'s rows from {@code snap}, HAProxy's order, with the live figures and runtime states. */
    public List<ShowStat.Row> rows(StatsSnapshot snap) {
        long uptime = uptime();
        return RuntimeFigures.apply(ShowStat.withLiveFigures(ShowStat.rows(layout, ShowStat.figures(snap), uptime), snap), proxies);
    }
}
