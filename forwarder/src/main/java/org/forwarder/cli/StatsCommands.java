package org.forwarder.cli;

import org.forwarder.config.CommandLine;
import org.forwarder.config.FdBudget;
import org.forwarder.config.FrontendConfig;
import org.forwarder.config.StatsConfig.Level;
import org.forwarder.proxy.RuntimeFigures;
import org.forwarder.stats.ShowInfo;
import org.forwarder.stats.ShowStat;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.Syscalls;

import java.util.List;

/**
 * Commands that read figures: {@code show info}, {@code show stat}. Answered from the counter
 * registry alone (summed over the loops), so no forwarding loop is asked anything. Formats are
 * HAProxy 2.6's ({@link ShowInfo}, {@link ShowStat}).
 */
final class StatsCommands {
    private final CliContext ctx;
    private final StatsRegistry registry;
    private final List<ShowStat.Proxy> layout;
    private final long startSec = System.currentTimeMillis() / 1000;
    private final long startNanos = System.nanoTime();
    private final String version = CommandLine.version();
    private final long pid = ProcessHandle.current().pid();
    private final long ulimitN;
    private final long maxsock;
    private final int listeners;
    private final String node = hostname(); // once: the lookup may be slow

    StatsCommands(CliContext ctx) {
        this.ctx = ctx;
        this.registry = ctx.registry();
        this.layout = ShowStat.layout(ctx.config());
        this.ulimitN = Syscalls.get().getNofileLimit()[0];
        this.maxsock = FdBudget.needed(ctx.config());
        int n = 0;
        for (FrontendConfig fe : ctx.config().frontends()) n += fe.binds().size();
        this.listeners = n * ctx.config().global().loops();
    }

    void addTo(CliCommands t) {
        t.add(new String[] {"show", "info"}, Level.USER, "show info", "report information about the running process",
                (a, s) -> s.answer(info())); // words after it are ignored, as HAProxy ignores unknown options
        t.add(new String[] {"show", "stat"}, Level.USER, "show stat", "report counters for each proxy and server",
                (a, s) -> s.answer(stat(s.level)));
    }

    private String info() {
        StatsSnapshot snap = registry.snapshot();
        long now = startSec + (System.nanoTime() - startNanos) / 1_000_000_000L;
        var g = ctx.config().global();
        ShowInfo.Process p = new ShowInfo.Process("forwarder", version, "", pid, startSec, now, g.loops(),
                ulimitN, maxsock, ctx.proxies().maxconn(), g.maxpipes(), listeners, node, false);
        // Maxconn is the limit now (set maxconn global), Hard_maxconn the configured one
        return ShowInfo.of(p, snap).set(ShowInfo.Field.HARD_MAXCONN, g.maxconn()).render();
    }

    /** HAProxy leaves a server's address and a backend's algorithm out below level operator. */
    private String stat(org.forwarder.config.StatsConfig.Level level) {
        StatsSnapshot snap = registry.snapshot();
        long uptime = (System.nanoTime() - startNanos) / 1_000_000_000L;
        List<ShowStat.Row> rows = RuntimeFigures.apply(
                ShowStat.withLiveFigures(ShowStat.rows(layout, ShowStat.figures(snap), uptime), snap), ctx.proxies());
        StringBuilder sb = new StringBuilder(ShowStat.HEADER).append('\n');
        boolean hide = level.compareTo(Level.OPERATOR) < 0;
        for (ShowStat.Row r : rows) {
            if (hide) r.set("addr", "").set("algo", "");
            sb.append(r.csv()).append('\n');
        }
        return sb.toString();
    }

    private static String hostname() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
