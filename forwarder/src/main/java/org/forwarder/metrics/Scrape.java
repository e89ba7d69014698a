package org.forwarder.metrics;

import org.forwarder.proxy.LiveFigures;
import org.forwarder.stats.StatsSnapshot;

import java.util.Set;

/**
 * Makes the metrics page from the registry, on the control loop: one snapshot, then the same
 * {@code show info} fields and {@code show stat} rows as the CLI, rendered by
 * {@link MetricsText} ({@link LiveFigures}, shared with the CLI); no forwarding loop is asked
 * anything.
 */
public final class Scrape {
    private final LiveFigures figures;

    public Scrape(LiveFigures figures) {
        this.figures = figures;
    }

    /** The page now, limited to {@code sections}. */
    public String text(Set<MetricsText.Section> sections) {
        StatsSnapshot snap = figures.snapshot();
        return MetricsText.render(figures.info(snap, ""), figures.rows(snap), snap, figures.registry()::perLoop, sections);
    }
}
