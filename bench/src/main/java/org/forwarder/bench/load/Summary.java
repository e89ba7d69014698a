package org.forwarder.bench.load;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The outcome of one run, merged over its driver threads, and its two renderings: one
 * machine-readable line ({@code RESULT key=value ...}, no spaces inside a value) for scripts, one
 * sentence for people. Latencies are kept in nanoseconds and printed in microseconds.
 */
public final class Summary {
    public final String mode;
    public final int conns;
    public final int threads;
    public final int size;
    public final LatencyHistogram latency = new LatencyHistogram();
    final ErrorCounts errors = new ErrorCounts();
    public long ops;
    public long allOps;
    /** Operations per second: the sum over threads of each one's measured operations over its own window. */
    public double rate;
    public double windowS;
    public String stop = "";
    public String failure;
    /** Forwarder (or any --cpu-pid) CPU ticks over the measurement window; -1 if not sampled. */
    public long cpuTicks = -1;
    public int clkTck = 100;
    /** idle mode: connections verified, failed, still held at the end; seconds the opening took. */
    public long opened;
    public long openFailed;
    public long held;
    public double openS;
    public boolean stuck;

    Summary(Options o) {
        this.mode = o.mode();
        this.conns = o.conns();
        this.threads = o.threads();
        this.size = o.size();
        this.clkTck = o.clkTck();
    }

    public long errors() {
        return errors.total();
    }

    public long errors(String kind) {
        return errors.get(ErrorCounts.Kind.valueOf(kind.toUpperCase(Locale.ROOT)));
    }

    void add(Driver d) {
        latency.merge(d.histogram);
        errors.merge(d.errors);
        ops += d.measuredOps;
        allOps += d.allOps;
        double w = d.windowSeconds();
        if (w > 0) rate += d.measuredOps / w;
        windowS = Math.max(windowS, w);
        if (!stop.contains(d.stopReason)) stop = stop.isEmpty() ? d.stopReason : stop + "," + d.stopReason;
        if (failure == null && d.failure != null) failure = String.valueOf(d.failure);
    }

    public double cpuSeconds() {
        return cpuTicks < 0 ? -1 : (double) cpuTicks / clkTck;
    }

    /** Microseconds of sampled CPU per measured operation, or -1. */
    public double cpuMicrosPerOp() {
        return cpuTicks < 0 || ops == 0 ? -1 : cpuSeconds() * 1e6 / ops;
    }

    public String keyValues() {
        List<String> kv = new ArrayList<>();
        kv.add("mode=" + mode);
        kv.add("conns=" + conns);
        kv.add("threads=" + threads);
        kv.add("size=" + size);
        if (mode.equals("idle")) {
            kv.add("opened=" + opened);
            kv.add("open_failed=" + openFailed);
            kv.add("held=" + held);
            kv.add("open_s=" + f(openS, 3));
        } else {
            kv.add("window_s=" + f(windowS, 3));
            kv.add("ops=" + ops);
            kv.add("all_ops=" + allOps);
            kv.add("rate=" + f(rate, 1));
        }
        kv.add("samples=" + latency.count());
        kv.add("p50_us=" + us(latency.percentile(50)));
        kv.add("p90_us=" + us(latency.percentile(90)));
        kv.add("p99_us=" + us(latency.percentile(99)));
        kv.add("p999_us=" + us(latency.percentile(99.9)));
        kv.add("max_us=" + us(latency.max()));
        kv.add("mean_us=" + f(latency.mean() / 1000, 1));
        kv.add("errors=" + errors.total());
        for (ErrorCounts.Kind k : ErrorCounts.kinds()) kv.add(k.key + "=" + errors.get(k));
        if (cpuTicks >= 0) {
            kv.add("cpu_ticks=" + cpuTicks);
            kv.add("cpu_s=" + f(cpuSeconds(), 2));
            kv.add("cpu_us_per_op=" + (ops == 0 ? "n/a" : f(cpuMicrosPerOp(), 2)));
        }
        kv.add("stop=" + (stop.isEmpty() ? "none" : stop));
        kv.add("stuck=" + (stuck ? 1 : 0));
        if (failure != null) kv.add("failure=" + token(failure));
        if (errors.firstOther() != null) kv.add("first_other=" + token(errors.firstOther()));
        return "RESULT " + String.join(" ", kv);
    }

    public String human() {
        String lat = "p50 " + us(latency.percentile(50)) + ", p99 " + us(latency.percentile(99)) + ", p99.9 "
                + us(latency.percentile(99.9)) + ", max " + us(latency.max()) + " us";
        String err = errors.total() == 0 ? "no errors" : errors.total() + " errors (" + errorList() + ")";
        String what = switch (mode) {
            case "pingpong" -> String.format(Locale.ROOT, "pingpong: %d conns x %d B, %d thread(s): %,.0f round trips/s over %.2f s; latency %s; %s",
                    conns, size, threads, rate, windowS, lat, err);
            case "connrate" -> String.format(Locale.ROOT, "connrate: %d concurrent, %d B each, %d thread(s): %,.0f connections/s over %.2f s; connection time %s; %s",
                    conns, size, threads, rate, windowS, lat, err);
            default -> String.format(Locale.ROOT, "idle: %d of %d connections opened and verified in %.2f s, %d held to the end; open time %s; %s",
                    opened, conns, openS, held, lat, err);
        };
        if (cpuTicks >= 0 && ops > 0) what += String.format(Locale.ROOT, "; watched process CPU %.2f s = %.2f us/op", cpuSeconds(), cpuMicrosPerOp());
        if (stuck) what += "; DRIVER THREADS DID NOT STOP BY THE DEADLINE";
        if (failure != null) what += "; failure: " + failure;
        return what;
    }

    private String errorList() {
        List<String> parts = new ArrayList<>();
        for (ErrorCounts.Kind k : ErrorCounts.kinds()) {
            if (errors.get(k) > 0) parts.add(k.name().toLowerCase(Locale.ROOT) + " " + errors.get(k));
        }
        if (errors.firstOther() != null) parts.add("first other: " + errors.firstOther());
        return String.join(", ", parts);
    }

    private static String us(long nanos) {
        return f(nanos / 1000.0, 1);
    }

    private static String f(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String token(String s) {
        return s.replaceAll("\\s+", "_");
    }
}
