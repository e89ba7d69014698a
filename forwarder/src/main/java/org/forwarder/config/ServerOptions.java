package org.forwarder.config;

import org.forwarder.config.ServerCheck.OnError;
import org.forwarder.sys.SockAddr;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The options of one {@code server} line, or what the {@code default-server} lines in effect
 * have set. Why mutable and copied: as in HAProxy, a server starts from a copy of its section's
 * {@code default-server} settings (which a backend in turn copied from its defaults section) and
 * its own words override them one by one. {@code fastinter} and {@code downinter} stay 0 ("as
 * inter") until a server is built, so that a later {@code inter} still moves them.
 */
final class ServerOptions {

    int weight = ServerConfig.DEFAULT_WEIGHT;
    int maxconn;
    boolean check;
    long interMs = ServerCheck.DEFAULT_INTER_MS;
    long fastinterMs;                  // 0 = inter
    long downinterMs;                  // 0 = inter
    int rise = ServerCheck.DEFAULT_RISE;
    int fall = ServerCheck.DEFAULT_FALL;
    int port;
    SockAddr addr;
    boolean disabled;
    boolean backup;
    long slowstartMs;
    boolean observeLayer4;
    int errorLimit = ServerCheck.DEFAULT_ERROR_LIMIT;
    OnError onError = OnError.FAIL_CHECK;
    boolean shutdownSessionsOnDown;
    boolean shutdownBackupSessionsOnUp;

    /** rise + fall - 1 is the health counter's top; keep it far from overflowing. */
    private static final int MAX_COUNT = Integer.MAX_VALUE / 2;

    /** The options that take a value, and what the value is (for "expects ..." messages). */
    private static final Map<String, String> VALUED = Map.ofEntries(
            Map.entry("weight", "a number"), Map.entry("maxconn", "a number"),
            Map.entry("inter", "a delay as argument"), Map.entry("fastinter", "a delay as argument"),
            Map.entry("downinter", "a delay as argument"), Map.entry("slowstart", "a delay as argument"),
            Map.entry("rise", "an integer argument"), Map.entry("fall", "an integer argument"),
            Map.entry("error-limit", "an integer argument"), Map.entry("port", "a port number as argument"),
            Map.entry("addr", "<ipv4|ipv6> as argument"), Map.entry("observe", "<mode> as argument"),
            Map.entry("on-error", "one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down'"),
            Map.entry("on-marked-down", "'shutdown-sessions'"),
            Map.entry("on-marked-up", "'shutdown-backup-sessions'"));

    /** Flags, and the setting each one decides (two flags of one setting on a line contradict each other). */
    private static final Map<String, String> FLAGS = Map.of(
            "check", "check", "no-check", "check", "backup", "backup", "no-backup", "backup",
            "disabled", "disabled", "enabled", "disabled");

    static final String SUPPORTED = "supported: weight, maxconn, check, inter, fastinter, downinter, rise, fall, port, addr,"
            + " disabled, enabled, backup, slowstart, observe layer4, error-limit, on-error, on-marked-down, on-marked-up";

    ServerOptions copy() {
        ServerOptions c = new ServerOptions();
        c.weight = weight;
        c.maxconn = maxconn;
        c.check = check;
        c.interMs = interMs;
        c.fastinterMs = fastinterMs;
        c.downinterMs = downinterMs;
        c.rise = rise;
        c.fall = fall;
        c.port = port;
        c.addr = addr;
        c.disabled = disabled;
        c.backup = backup;
        c.slowstartMs = slowstartMs;
        c.observeLayer4 = observeLayer4;
        c.errorLimit = errorLimit;
        c.onError = onError;
        c.shutdownSessionsOnDown = shutdownSessionsOnDown;
        c.shutdownBackupSessionsOnUp = shutdownBackupSessionsOnUp;
        return c;
    }

    /** The check settings of a server built from these options. */
    ServerCheck toCheck() {
        return new ServerCheck(check, interMs, fastinterMs == 0 ? interMs : fastinterMs,
                downinterMs == 0 ? interMs : downinterMs, rise, fall, port, addr, disabled, backup, slowstartMs,
                observeLayer4, errorLimit, onError, shutdownSessionsOnDown, shutdownBackupSessionsOnUp);
    }

    /**
     * Applies the options in {@code args} (the words after the name, or name and address),
     * reporting each bad one under {@code kw}. Returns false if any was bad. An unknown option
     * stops the scan: the words after it may be its values, and reporting them would mislead.
     * As in HAProxy, check options on a server without {@code check} are accepted (and unused).
     */
    boolean apply(List<String> args, Line line, String kw, Diagnostics diag) {
        boolean ok = true;
        Map<String, String> seen = new HashMap<>();   // setting -> the word that set it on this line
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            String setting = FLAGS.containsKey(option) ? FLAGS.get(option) : VALUED.containsKey(option) ? option : null;
            if (setting == null) {
                diag.error(line.number(), kw, Keywords.SERVER_OPTION_UNSUPPORTED.contains(option)
                        ? "option '" + option + "' " + Keywords.notSupported(option)
                        : "unknown option '" + option + "' (" + SUPPORTED + ")");
                return false;
            }
            String earlier = seen.putIfAbsent(setting, option);
            if (earlier != null) {
                diag.error(line.number(), kw, earlier.equals(option) ? "option '" + option + "' is given twice"
                        : "options '" + earlier + "' and '" + option + "' contradict each other");
                ok = false;
            }
            if (FLAGS.containsKey(option)) {
                flag(option);
                continue;
            }
            if (i + 1 >= args.size()) {
                diag.error(line.number(), kw, "option '" + option + "' expects " + VALUED.get(option));
                return false;
            }
            String value = args.get(++i);
            try {
                valued(option, value);
            } catch (IllegalArgumentException e) {
                diag.error(line.number(), kw, "option '" + option + "': " + e.getMessage());
                ok = false;
            }
        }
        return ok;
    }

    private void flag(String option) {
        switch (option) {
            case "check" -> check = true;
            case "no-check" -> check = false;
            case "backup" -> backup = true;
            case "no-backup" -> backup = false;
            case "disabled" -> disabled = true;
            case "enabled" -> disabled = false;
            default -> throw new IllegalStateException(option);
        }
    }

    private void valued(String option, String value) {
        switch (option) {
            case "weight" -> weight = Values.integer(value, 0, ServerConfig.MAX_WEIGHT);
            case "maxconn" -> maxconn = Values.integer(value, 0, Integer.MAX_VALUE);
            case "inter" -> interMs = interval(value);
            case "fastinter" -> fastinterMs = interval(value);
            case "downinter" -> downinterMs = interval(value);
            case "slowstart" -> slowstartMs = Values.timeMs(value);
            case "rise" -> rise = positive(value);
            case "fall" -> fall = positive(value);
            case "error-limit" -> errorLimit = positive(value);
            case "port" -> port = Values.integer(value, 0, 65535);
            case "addr" -> addr = address(value);
            case "observe" -> observeLayer4 = switch (value) {
                case "layer4" -> true;
                case "none" -> false;
                case "layer7" -> throw new IllegalArgumentException(
                        "'layer7' is not supported by forwarder (it needs mode http; use 'observe layer4')");
                default -> throw new IllegalArgumentException("expects one of 'none', 'layer4', 'layer7' but got '" + value + "'");
            };
            case "on-error" -> onError = onError(value);
            case "on-marked-down" -> {
                if (!value.equals("shutdown-sessions")) throw expects("'shutdown-sessions'", value);
                shutdownSessionsOnDown = true;
            }
            case "on-marked-up" -> {
                if (!value.equals("shutdown-backup-sessions")) throw expects("'shutdown-backup-sessions'", value);
                shutdownBackupSessionsOnUp = true;
            }
            default -> throw new IllegalStateException(option);
        }
    }

    private static OnError onError(String value) {
        for (OnError e : OnError.values()) {
            if (e.keyword().equals(value)) return e;
        }
        throw expects("one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down'", value);
    }

    private static IllegalArgumentException expects(String what, String got) {
        return new IllegalArgumentException("expects " + what + " but got '" + got + "'");
    }

    /** A check interval: HAProxy refuses 0. */
    private static long interval(String value) {
        long ms = Values.timeMs(value);
        if (ms == 0) throw new IllegalArgumentException("invalid value '" + value + "': the interval must be at least 1ms");
        return ms;
    }

    /** rise, fall, error-limit: HAProxy's "has to be > 0" for zero and negative numbers. */
    private static int positive(String value) {
        if (value.matches("-?[0-9]{1,10}") && Long.parseLong(value) <= 0) {
            throw new IllegalArgumentException("has to be > 0, got '" + value + "'");
        }
        return Values.integer(value, 1, MAX_COUNT);
    }

    /** {@code addr}: an IPv4 or IPv6 address, without a port (that is {@code port}'s job). */
    private static SockAddr address(String value) {
        String host = value.startsWith("[") && value.endsWith("]") ? value.substring(1, value.length() - 1) : value;
        try {
            return SockAddr.of(InetAddress.ofLiteral(host), 0);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid address '" + value + "': expected an IPv4 or IPv6 address"
                    + " (the check port goes in 'port')");
        }
    }
}
