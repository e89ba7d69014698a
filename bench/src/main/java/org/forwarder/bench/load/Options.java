package org.forwarder.bench.load;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The load client's command line, checked in full before anything runs: one line per problem,
 * naming the flag; a flag given twice is an error. Times are seconds (fractions allowed).
 */
record Options(String mode, InetAddress host, int port, int conns, int threads, int size,
               double warmupS, double durationS, double holdS, double openTimeoutS, double opTimeoutS,
               double deadlineS, long maxOps, long maxErrors, int inflight, long cpuPid, int clkTck) {

    static final String USAGE = String.join("\n",
            "usage: LoadClient --mode pingpong|connrate|idle --port PORT [options]",
            "  --host ADDR        loopback address to connect to [127.0.0.1]",
            "  --conns N          connections (pingpong), concurrent workers (connrate), connections to hold (idle) [50]",
            "  --threads N        client threads, each with its own selector [1]",
            "  --size BYTES       message size [64]",
            "  --warmup S         seconds before measuring (pingpong, connrate) [2]",
            "  --duration S       seconds measured (pingpong, connrate) [10]",
            "  --hold S           seconds to hold the idle connections after READY (idle) [10]",
            "  --open-timeout S   time allowed to open the idle connections (idle) [60]",
            "  --inflight N       idle: connection attempts at a time per thread [200]",
            "  --op-timeout S     one round trip / connection attempt must finish within [5]",
            "  --deadline S       hard deadline for the whole run [warm-up + duration (+ hold) + 30]",
            "  --max-ops N        stop after N measured operations per thread [1000000000]",
            "  --max-errors N     stop after N errors per thread [100000]",
            "  --cpu-pid PID      report this process's CPU time over the measurement window",
            "  --clk-tck N        clock ticks per second of /proc/PID/stat [100]");

    static Options parse(String[] args) {
        String mode = null;
        String host = "127.0.0.1";
        Integer port = null;
        int conns = 50, threads = 1, size = 64, inflight = 200, clkTck = 100;
        double warmup = 2, duration = 10, hold = 10, openTimeout = 60, opTimeout = 5, deadline = 0;
        long maxOps = 1_000_000_000L, maxErrors = 100_000, cpuPid = -1;
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            String value = null;
            int eq = flag.indexOf('=');
            if (flag.startsWith("--") && eq > 0) {
                value = flag.substring(eq + 1);
                flag = flag.substring(0, eq);
            }
            if (!flag.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + flag + "' (see --help)");
            if (!seen.add(flag)) throw new IllegalArgumentException("'" + flag + "' given twice");
            if (value == null) {
                if (i + 1 >= args.length) throw new IllegalArgumentException("'" + flag + "' needs a value");
                value = args[++i];
            }
            switch (flag) {
                case "--mode" -> {
                    mode = value.toLowerCase(Locale.ROOT);
                    if (!Set.of("pingpong", "connrate", "idle").contains(mode))
                        throw new IllegalArgumentException("'--mode' '" + value + "': use pingpong, connrate or idle");
                }
                case "--host" -> host = value;
                case "--port" -> port = (int) integer(flag, value, 1, 65535);
                case "--conns" -> conns = (int) integer(flag, value, 1, 1_000_000);
                case "--threads" -> threads = (int) integer(flag, value, 1, 64);
                case "--size" -> size = (int) integer(flag, value, 1, 1 << 20);
                case "--inflight" -> inflight = (int) integer(flag, value, 1, 100_000);
                case "--clk-tck" -> clkTck = (int) integer(flag, value, 1, 1_000_000);
                case "--max-ops" -> maxOps = integer(flag, value, 1, Long.MAX_VALUE);
                case "--max-errors" -> maxErrors = integer(flag, value, 1, Long.MAX_VALUE);
                case "--cpu-pid" -> cpuPid = integer(flag, value, 1, Integer.MAX_VALUE);
                case "--warmup" -> warmup = seconds(flag, value, 0);
                case "--duration" -> duration = seconds(flag, value, 0.001);
                case "--hold" -> hold = seconds(flag, value, 0);
                case "--open-timeout" -> openTimeout = seconds(flag, value, 0.001);
                case "--op-timeout" -> opTimeout = seconds(flag, value, 0.001);
                case "--deadline" -> deadline = seconds(flag, value, 0.001);
                default -> throw new IllegalArgumentException("unknown option '" + flag + "' (see --help)");
            }
        }
        if (mode == null) throw new IllegalArgumentException("'--mode' is missing (pingpong, connrate or idle)");
        if (port == null) throw new IllegalArgumentException("'--port' is missing");
        if (threads > conns) throw new IllegalArgumentException("'--threads' " + threads + " is more than '--conns' " + conns);
        InetAddress addr;
        try {
            addr = InetAddress.ofLiteral(host);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'--host' '" + host + "' is not an IP address");
        }
        if (!addr.isLoopbackAddress()) throw new IllegalArgumentException("'--host' '" + host + "' is not a loopback address: this client only loads 127.0.0.1");
        return new Options(mode, addr, port, conns, threads, size, warmup, duration, hold, openTimeout, opTimeout,
                deadline, maxOps, maxErrors, inflight, cpuPid, clkTck);
    }

    /** Options for a run from code (tests): pingpong/connrate/idle against 127.0.0.1:port. */
    static Options of(String mode, int port, int conns, int threads, double warmupS, double durationS) {
        try {
            return new Options(mode, InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), port, conns, threads, 64,
                    warmupS, durationS, 0, 10, 5, 0, 1_000_000_000L, 100_000, 200, -1, 100);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    Options withHold(double s) {
        return new Options(mode, host, port, conns, threads, size, warmupS, durationS, s, openTimeoutS, opTimeoutS,
                deadlineS, maxOps, maxErrors, inflight, cpuPid, clkTck);
    }

    /** Seconds until the hard deadline, counted from the start of the run. */
    double effectiveDeadlineS() {
        if (deadlineS > 0) return deadlineS;
        return mode.equals("idle") ? openTimeoutS + holdS + 30 : warmupS + durationS + 30;
    }

    private static long integer(String flag, String v, long min, long max) {
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + flag + "' '" + v + "' is not a whole number");
        }
        if (n < min || n > max) throw new IllegalArgumentException("'" + flag + "' " + v + " is out of range " + min + ".." + max);
        return n;
    }

    private static double seconds(String flag, String v, double min) {
        double d;
        try {
            d = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + flag + "' '" + v + "' is not a number of seconds");
        }
        if (!(d >= min && d <= 86_400)) throw new IllegalArgumentException("'" + flag + "' " + v + " is out of range " + min + "..86400 s");
        return d;
    }
}
