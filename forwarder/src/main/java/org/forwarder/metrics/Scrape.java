package org.forwarder.metrics;

import org.forwarder.config.CommandLine;
import org.forwarder.config.Config;
import org.forwarder.config.FdBudget;
import org.forwarder.config.FrontendConfig;
import org.forwarder.proxy.Proxies;
import org.forwarder.proxy.RuntimeFigures;
import org.forwarder.stats.ShowInfo;
import org.forwarder.stats.ShowStat;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.Syscalls;

import java.util.List;
import java.util.Set;

/**
 * Makes the metrics page from the registry, on the control loop: one snapshot, then the same
 * {@code show info} fields and {@code show stat} rows as the CLI, rendered by
 * {@link MetricsText}. What no counter holds (pid, start time, fd limit, listeners) is read
 * once here, as the CLI does; no forwarding loop is asked anything.
 */
public final class Scrape {
    private final Config config;
    private final StatsRegistry registry;
    /** For what the runtime API changes (server state, weights, limits): {@link RuntimeFigures}. */
    private final Proxies proxies;
    private final List<ShowStat.Proxy> layout;
    private final long startSec = System.currentTimeMillis() / 1000;
    private final long startNanos = System.nanoTime();
    private final String version = CommandLine.version();
    private final long pid = ProcessHandle.current().pid();
    private final long ulimitN;
    private final long maxsock;
    private final int listeners;

    public Scrape(Config config, StatsRegistry registry, Proxies proxies) {
        this.config = config;
        this.proxies = proxies;
        this.registry = registry;
        this.layout = ShowStat.layout(config);
        this.ulimitN = Syscalls.get().getNofileLimit()[0];
        this.maxsock = FdBudget.needed(config);
        int n = 0;
        for (FrontendConfig fe : config.frontends()) n += fe.binds().size();
        this.listeners = n * config.global().loops();
    }

    /** The page now, limited to {@code sections}. */
    public String text(Set<MetricsText.Section> sections) {
        StatsSnapshot snap = registry.snapshot();
        long uptime = (System.nanoTime() - startNanos) / 1_000_000_000L;
        ShowInfo.Process p = new ShowInfo.Process("forwarder", version, "", pid, startSec, startSec + uptime,
                config.global().loops(), ulimitN, maxsock, proxies.maxconn(), config.global().maxpipes(),
                listeners, "", false);
        List<ShowStat.Row> rows = RuntimeFigures.apply(
                ShowStat.withLiveFigures(ShowStat.rows(layout, ShowStat.figures(snap), uptime), snap), proxies);
        return MetricsText.render(ShowInfo.of(p, snap).set(ShowInfo.Field.HARD_MAXCONN, config.global().maxconn()), rows, snap, registry::perLoop, sections);
    }
}
