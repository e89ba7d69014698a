package org.forwarder.cli;

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
 * The CLI's commands, answered from the counter registry only. Today: {@code help},
 * {@code show info}, {@code show stat}, {@code prompt}, {@code quit}, all at level user (a
 * socket's level is kept for the operator and admin commands to come: set server, shutdown
 * session, clear counters). Texts follow HAProxy 2.6 (its help layout, its unknown-command line).
 */
final class CliCommands {
    private static final String[][] HELP = {
            {"help", "list the commands"},
            {"prompt", "toggle interactive mode with prompt"},
            {"quit", "disconnect"},
            {"show info", "report information about the running process"},
            {"show stat", "report counters for each proxy and server"},
    };

    private final Config config;
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

    CliCommands(Config config, StatsRegistry registry) {
        this.config = config;
        this.registry = registry;
        this.layout = ShowStat.layout(config);
        long soft = Syscalls.get().getNofileLimit()[0];
        this.ulimitN = soft;
        this.maxsock = FdBudget.needed(config);
        int n = 0;
        for (FrontendConfig fe : config.frontends()) n += fe.binds().size();
        this.listeners = n * config.global().loops();
    }

    void run(String cmd, CliSession s) {
        String[] w = cmd.isEmpty() ? new String[0] : cmd.split("\\s+");
        if (w.length == 0) {
            s.answer("");
            return;
        }
        switch (w[0]) {
            case "help" -> s.answer(help("The following commands are valid at this level:\n"));
            case "prompt" -> {
                s.togglePrompt();
                s.answer("");
            }
            case "quit" -> s.quit();
            case "show" -> {
                String what = w.length > 1 ? w[1] : "";
                if (what.equals("info") && w.length == 2) s.answer(info());
                else if (what.equals("stat") && w.length == 2) s.answer(stat());
                else unknown(s);
            }
            default -> unknown(s);
        }
    }

    /** HAProxy's answer to an unknown command, then the commands there are. */
    private static void unknown(CliSession s) {
        s.answer(help("Unknown command, but maybe one of the following ones is a better match:\n"));
    }

    private static String help(String first) {
        StringBuilder sb = new StringBuilder(first);
        for (String[] h : HELP) sb.append(String.format("  %-40s: %s%n", h[0], h[1]));
        return sb.toString();
    }

    private String info() {
        StatsSnapshot snap = registry.snapshot();
        long now = startSec + (System.nanoTime() - startNanos) / 1_000_000_000L;
        ShowInfo.Process p = new ShowInfo.Process("forwarder", version, "", pid, startSec, now, config.global().loops(),
                ulimitN, maxsock, config.global().maxconn(), config.global().maxpipes(), listeners, node, false);
        return ShowInfo.of(p, snap).render();
    }

    private String stat() {
        StatsSnapshot snap = registry.snapshot();
        long uptime = (System.nanoTime() - startNanos) / 1_000_000_000L;
        List<ShowStat.Row> rows = ShowStat.withLiveFigures(ShowStat.rows(layout, ShowStat.figures(snap), uptime), snap);
        StringBuilder sb = new StringBuilder(ShowStat.HEADER).append('\n');
        for (ShowStat.Row r : rows) sb.append(r.csv()).append('\n');
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
