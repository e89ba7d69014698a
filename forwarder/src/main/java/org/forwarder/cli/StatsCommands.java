package org.forwarder.cli;

import org.forwarder.config.StatsConfig.Level;
import org.forwarder.proxy.LiveFigures;
import org.forwarder.stats.ShowInfo;
import org.forwarder.stats.ShowStat;


import java.util.List;

/**
 * Commands that read figures: {@code show info}, {@code show stat}. Answered from the counter
 * registry alone (summed over the loops, {@link LiveFigures}, the same as the Prometheus page),
 * so no forwarding loop is asked anything. Formats are HAProxy 2.6's ({@link ShowInfo},
 * {@link ShowStat}).
 */
final class StatsCommands {
    private final LiveFigures figures;
    private final String node = hostname(); // once: the lookup may be slow

    StatsCommands(CliContext ctx) {
        this.figures = ctx.figures();
    }

    void addTo(CliCommands t) {
        t.add(new String[] {"show", "info"}, Level.USER, "show info", "report information about the running process",
                (a, s) -> s.answer(figures.info(figures.snapshot(), node).render())); // words after it are ignored, as HAProxy does
        t.add(new String[] {"show", "stat"}, Level.USER, "show stat", "report counters for each proxy and server",
                (a, s) -> s.answer(stat(s.level)));
    }

    /** HAProxy leaves a server's address and a backend's algorithm out below level operator. */
    private String stat(Level level) {
        List<ShowStat.Row> rows = figures.rows(figures.snapshot());
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
