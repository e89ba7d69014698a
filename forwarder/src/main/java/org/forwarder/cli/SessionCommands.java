package org.forwarder.cli;

/** Placeholder while written. */
final class SessionCommands {
    private final CliContext ctx;

    SessionCommands(CliContext ctx) {
        this.ctx = ctx;
    }

    void addTo(CliCommands t) {
    }
}
