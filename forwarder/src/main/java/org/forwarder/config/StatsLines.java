package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code stats} lines of {@code global}: {@code stats socket <path|ipv4@addr:port> [mode
 * <octal>] [level user|operator|admin]}, {@code stats timeout <time>}, {@code stats maxconn <n>}.
 * Each bad form throws IllegalArgumentException with a one-line reason; the caller adds file:line.
 */
final class StatsLines {
    private final List<StatsConfig.Socket> sockets = new ArrayList<>();
    private long timeoutMs = StatsConfig.DEFAULT_TIMEOUT_MS;
    private int maxconn = StatsConfig.DEFAULT_MAXCONN;

    void apply(List<String> args, String where) {
        if (args.isEmpty()) throw new IllegalArgumentException("expects 'socket', 'timeout' or 'maxconn'");
        String what = args.getFirst();
        List<String> rest = args.subList(1, args.size());
        switch (what) {
            case "socket" -> socket(rest, where);
            case "timeout" -> {
                one(what, rest, "a time (e.g. 10s)");
                long t = Values.timeMs(rest.getFirst());
                if (t < 1) throw new IllegalArgumentException("'stats timeout' must be greater than 0");
                timeoutMs = t;
            }
            case "maxconn" -> {
                one(what, rest, "a number of CLI clients");
                maxconn = Values.integer(rest.getFirst(), 1, Integer.MAX_VALUE);
            }
            default -> throw new IllegalArgumentException("'" + what + "' is not supported here:"
                    + " only 'stats socket', 'stats timeout' and 'stats maxconn' are (other 'stats' words belong to proxies)");
        }
    }

    private static void one(String what, List<String> rest, String expected) {
        if (rest.size() != 1) {
            throw new IllegalArgumentException("'stats " + what + "' expects " + expected
                    + (rest.isEmpty() ? "" : ", got " + rest.size() + " arguments"));
        }
    }

    private void socket(List<String> args, String where) {
        if (args.isEmpty()) throw new IllegalArgumentException("'stats socket' expects a path or ipv4@ADDR:PORT");
        String addr = args.getFirst();
        SockAddr a;
        boolean unix;
        if (addr.startsWith("ipv4@")) {
            a = Addresses.server(addr.substring(5));
            if (a.family() != org.forwarder.sys.SockConst.AF_INET) {
                throw new IllegalArgumentException("'" + addr + "' is not an IPv4 address");
            }
            unix = false;
        } else {
            String path = addr.startsWith("unix@") ? addr.substring(5) : addr;
            if (path.isEmpty() || path.contains("@")) {
                throw new IllegalArgumentException("'" + addr + "': expected a Unix socket path or ipv4@ADDR:PORT");
            }
            a = SockAddr.unix(path);
            unix = true;
        }
        int mode = StatsConfig.Socket.NO_MODE;
        StatsConfig.Level level = null;
        for (int i = 1; i < args.size(); i += 2) {
            String opt = args.get(i);
            if (!opt.equals("mode") && !opt.equals("level")) {
                throw new IllegalArgumentException("'stats socket' has unknown option '" + opt
                        + "': supported are 'mode <octal>' (Unix sockets) and 'level user|operator|admin'");
            }
            if (i + 1 >= args.size()) throw new IllegalArgumentException("'" + opt + "' expects a value");
            String v = args.get(i + 1);
            if (opt.equals("mode")) {
                if (mode != StatsConfig.Socket.NO_MODE) throw new IllegalArgumentException("'mode' is given twice");
                if (!unix) throw new IllegalArgumentException("'mode' applies to Unix sockets only, not to '" + addr + "'");
                if (!v.matches("[0-7]{1,4}")) {
                    throw new IllegalArgumentException("bad mode '" + v + "': expected an octal number such as 600");
                }
                mode = Integer.parseInt(v, 8);
            } else {
                if (level != null) throw new IllegalArgumentException("'level' is given twice");
                level = switch (v) {
                    case "user" -> StatsConfig.Level.USER;
                    case "operator" -> StatsConfig.Level.OPERATOR;
                    case "admin" -> StatsConfig.Level.ADMIN;
                    default -> throw new IllegalArgumentException("bad level '" + v + "': expected user, operator or admin");
                };
            }
        }
        for (StatsConfig.Socket s : sockets) {
            if (s.address().equals(a)) {
                throw new IllegalArgumentException("'" + addr + "' is already a stats socket (" + s.where() + ")");
            }
        }
        // HAProxy's default level for a stats socket is operator
        sockets.add(new StatsConfig.Socket(a, mode, level == null ? StatsConfig.Level.OPERATOR : level, where));
    }

    StatsConfig build() {
        return new StatsConfig(sockets, timeoutMs, maxconn);
    }
}
