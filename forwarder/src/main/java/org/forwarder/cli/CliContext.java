package org.forwarder.cli;

import org.forwarder.config.Config;
import org.forwarder.proxy.LiveFigures;
import org.forwarder.proxy.Proxies;
import org.forwarder.stats.StatsRegistry;

import java.util.function.Consumer;

/**
 * What the runtime API's commands reach: the configuration as started, the counter registry
 * (read from any thread), the shared proxies (backends, servers, limits; their loops) and the
 * process's event log, and the figures every reader shows ({@link LiveFigures}).
 */
record CliContext(Config config, StatsRegistry registry, Proxies proxies, Consumer<String> log, LiveFigures figures) {
}
