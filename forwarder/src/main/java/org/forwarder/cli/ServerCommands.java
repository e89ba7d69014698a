package org.forwarder.cli;

/** Placeholder while written. */
final class ServerCommands {
    private final CliContext ctx;

    ServerCommands(CliContext ctx) {
        this.ctx = ctx;
    }

    void addTo(CliCommands t) {
    }
}
