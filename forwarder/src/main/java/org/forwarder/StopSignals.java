package org.forwarder;

/**
 * SIGTERM and SIGINT start a graceful stop. {@code sun.misc.Signal} (exported by jdk.unsupported)
 * is used rather than a shutdown hook so the process can finish the grace period and exit 0.
 */
final class StopSignals {
    private StopSignals() {}

    static void install(Runnable onStop) {
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> onStop.run());
            } catch (IllegalArgumentException e) {
                // the signal is reserved by the VM (e.g. -Xrs): the default action stays
            }
        }
    }
}
