package org.forwarder;

import org.forwarder.config.CommandLine;
import org.forwarder.config.Config;
import org.forwarder.config.ConfigException;
import org.forwarder.config.FdBudget;
import org.forwarder.config.FrontendConfig;
import org.forwarder.stats.StatsSnapshot;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** Command-line entry point: parse, check, start, and stop gracefully on SIGTERM/SIGINT. */
public final class Main {
    /** How long established streams may go on after a stop signal. */
    private static final Duration GRACE = Duration.ofMillis(Long.getLong("forwarder.grace.ms", 10_000));

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        CommandLine cl;
        Config config;
        try {
            cl = CommandLine.parse(args);
            switch (cl.action()) {
                case HELP -> {
                    System.out.println(CommandLine.usage());
                    return 0;
                }
                case VERSION -> {
                    System.out.println(CommandLine.version());
                    return 0;
                }
                default -> { }
            }
        } catch (ConfigException e) {
            System.err.println(e.getMessage());
            System.err.println("(forwarder --help lists the options)");
            return 1;
        } catch (RuntimeException e) {
            return internalError(e);
        }
        try {
            config = cl.config();
        } catch (ConfigException e) {
            System.err.println(e.getMessage());
            if (cl.configFile() == null) System.err.println("(forwarder --help lists the options)");
            return 1;
        } catch (RuntimeException e) {
            return internalError(e);
        }
        if (cl.action() == CommandLine.Action.CHECK) {
            config.warnings().forEach(w -> System.err.println("warning: " + w));
            System.out.println("Configuration " + (cl.configName() != null ? "file " + cl.configName() + " " : "") + "is valid");
            return 0;
        }
        return serve(fitToFdLimit(config));
    }

    /** A bug, not a user error: still one line, with where it happened, instead of a stack trace. */
    private static int internalError(RuntimeException e) {
        StackTraceElement[] at = e.getStackTrace();
        System.err.println("error: internal error while reading the configuration: " + e
                + (at.length > 0 ? " at " + at[0] : "") + " (please report this)");
        return 1;
    }

    private static Config fitToFdLimit(Config config) {
        Syscalls sys = Syscalls.get();
        long[] limit = sys.getNofileLimit();
        return FdBudget.fit(config, limit[0], limit[1], soft -> sys.setNofileLimit(soft, limit[1]) == 0);
    }

    private static int serve(Config config) {
        config = config.withWarnings(org.forwarder.config.HeapBudget.check(config.global().maxconn(), Runtime.getRuntime().maxMemory()));
        config.warnings().forEach(w -> System.err.println("warning: " + w));
        Forwarder fw;
        try {
            fw = Forwarder.start(config, System.err::println);
        } catch (IllegalStateException e) {
            System.err.println("error: " + e.getMessage());
            return 1;
        }
        List<SockAddr> bound = fw.boundAddresses();
        int i = 0;
        for (FrontendConfig fe : config.frontends()) {
            for (int b = 0; b < fe.binds().size(); b++) {
                System.err.println("forwarder: '" + fe.name() + "' listening on " + bound.get(i++)
                        + " -> backend '" + fe.defaultBackend() + "' "
                        + config.backend(fe.defaultBackend()).servers().stream().map(s -> s.address().toString()).toList());
            }
        }
        for (SockAddr m : fw.metricsAddresses()) {
            System.err.println("forwarder: Prometheus exporter listening on http://" + m + "/metrics");
        }
        System.err.println("forwarder: " + fw.loops() + (fw.loops() == 1 ? " event loop" : " event loops")
                + " (nbthread" + (config.global().nbthread() == 0 ? " not set: one per usable CPU" : " " + config.global().nbthread()) + ")");
        CountDownLatch stop = new CountDownLatch(1);
        StopSignals.install(stop::countDown);
        try {
            while (!stop.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
                if (fw.failure() != null || !fw.isRunning()) {
                    System.err.println("error: the event loop stopped unexpectedly: " + fw.failure());
                    return 1;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.err.println("forwarder: stopping: no new connections; open ones get " + GRACE.toMillis() + " ms to finish");
        fw.shutdown(GRACE);
        StatsSnapshot last = fw.stats(); // after the grace period: what it closed is counted too
        System.err.println(last.render());
        if (fw.loops() > 1) {
            System.err.println("forwarder: connections accepted per event loop: "
                    + java.util.Arrays.toString(fw.counters().perLoop(org.forwarder.stats.ProcessCounter.CUM_CONNS)));
        }
        return 0;
    }
}
