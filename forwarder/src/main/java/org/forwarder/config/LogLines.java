package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.List;

/**
 * Parses the arguments of a {@code log} line as HAProxy does:
 * {@code ADDRESS [len N] [format F] FACILITY [MAXLEVEL [MINLEVEL]]}. The address is
 * {@code stdout}, {@code stderr}, a path ({@code /dev/log}, or {@code unix@PATH}) for a Unix
 * datagram socket, or {@code HOST[:PORT]} for UDP syslog (port 514 by default), optionally
 * prefixed {@code udp@}, {@code udp4@}, {@code ipv4@}, {@code udp6@} or {@code ipv6@}.
 * {@code log global} and {@code no log} are the proxy sections' business ({@link ProxyKeywords}).
 */
final class LogLines {

    private LogLines() {}

    /** The target of {@code log ARGS}, or throws with a one-line reason. */
    static LogTarget parse(List<String> args, String where) {
        if (args.size() < 2) {
            throw new IllegalArgumentException("expects an address and a facility, as in 'log 127.0.0.1:514 local0'"
                    + " or 'log stdout format raw local0'");
        }
        String addr = args.getFirst();
        int i = 1;
        int len = LogTarget.DEFAULT_LEN;
        LogTarget.Format format = LogTarget.Format.RFC3164;
        boolean seenLen = false;
        boolean seenFormat = false;
        while (i < args.size() && (args.get(i).equals("len") || args.get(i).equals("format") || args.get(i).equals("sample"))) {
            String opt = args.get(i);
            if (i + 1 >= args.size()) throw new IllegalArgumentException("'" + opt + "' expects a value");
            String value = args.get(i + 1);
            switch (opt) {
                case "len" -> {
                    if (seenLen) throw new IllegalArgumentException("'len' is given twice");
                    seenLen = true;
                    try {
                        len = Values.integer(value, LogTarget.MIN_LEN, LogTarget.MAX_LEN);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("invalid log length '" + value + "', must be between "
                                + LogTarget.MIN_LEN + " and " + LogTarget.MAX_LEN);
                    }
                }
                case "format" -> {
                    if (seenFormat) throw new IllegalArgumentException("'format' is given twice");
                    seenFormat = true;
                    format = format(value);
                }
                default -> throw new IllegalArgumentException("'sample' is not supported by forwarder (every line is sent)");
            }
            i += 2;
        }
        if (i >= args.size()) {
            throw new IllegalArgumentException("expects a facility after the address and options (e.g. local0)");
        }
        String fac = args.get(i++);
        int facility = LogTarget.FACILITIES.indexOf(fac);
        if (facility < 0) {
            throw new IllegalArgumentException("unknown log facility '" + fac + "' (expected one of " + String.join(" ", LogTarget.FACILITIES) + ")");
        }
        int maxLevel = LogTarget.DEBUG;
        int minLevel = LogTarget.EMERG;
        if (i < args.size()) {
            maxLevel = LogTarget.LEVELS.indexOf(args.get(i));
            if (maxLevel < 0) {
                throw new IllegalArgumentException("unknown optional log level '" + args.get(i) + "' (expected one of "
                        + String.join(" ", LogTarget.LEVELS) + ")");
            }
            i++;
        }
        if (i < args.size()) {
            minLevel = LogTarget.LEVELS.indexOf(args.get(i));
            if (minLevel < 0) {
                throw new IllegalArgumentException("unknown optional minimum log level '" + args.get(i) + "' (expected one of "
                        + String.join(" ", LogTarget.LEVELS) + ")");
            }
            i++;
        }
        if (i < args.size()) throw new IllegalArgumentException("unexpected argument '" + args.get(i) + "'");
        return target(addr, format, facility, maxLevel, minLevel, len, where);
    }

    private static LogTarget.Format format(String value) {
        for (LogTarget.Format f : LogTarget.Format.values()) {
            if (f.keyword.equals(value)) return f;
        }
        if (List.of("local", "priority", "timed", "iso").contains(value)) {
            throw new IllegalArgumentException("log format '" + value + "' is not supported by forwarder (supported: raw, short, rfc3164, rfc5424)");
        }
        throw new IllegalArgumentException("unknown log format '" + value + "' (supported: raw, short, rfc3164, rfc5424)");
    }

    private static LogTarget target(String addr, LogTarget.Format format, int facility, int maxLevel, int minLevel,
                                    int len, String where) {
        if (addr.equals("stdout") || addr.equals("stderr")) {
            return new LogTarget(addr.equals("stdout") ? LogTarget.Kind.STDOUT : LogTarget.Kind.STDERR, null, null,
                    format, facility, maxLevel, minLevel, len, where);
        }
        String path = addr.startsWith("unix@") ? addr.substring(5) : addr.startsWith("/") ? addr : null;
        if (path != null) {
            if (path.isEmpty()) throw new IllegalArgumentException("'" + addr + "' names no socket path");
            if (path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > SockAddr.UNIX_PATH_MAX) {
                throw new IllegalArgumentException("socket path '" + path + "' is longer than " + SockAddr.UNIX_PATH_MAX + " bytes");
            }
            return new LogTarget(LogTarget.Kind.UNIX, SockAddr.unix(path), path, format, facility, maxLevel, minLevel, len, where);
        }
        int at = addr.indexOf('@');
        String host = addr;
        boolean v6 = false;
        if (at >= 0) {
            String prefix = addr.substring(0, at);
            switch (prefix) {
                case "udp", "udp4", "ipv4" -> { }
                case "udp6", "ipv6" -> v6 = true;
                case "ring", "fd", "stream", "tcp", "tcp4", "tcp6", "abns", "unix", "sockpair" ->
                    throw new IllegalArgumentException("'" + prefix + "@' log targets are not supported by forwarder"
                            + " (supported: stdout, stderr, a Unix datagram path, a UDP address)");
                default -> throw new IllegalArgumentException("unknown address prefix '" + prefix + "@' in '" + addr + "'");
            }
            host = addr.substring(at + 1);
        }
        boolean hasPort = host.startsWith("[") ? host.contains("]:") : (host.indexOf(':') >= 0 && host.indexOf(':') == host.lastIndexOf(':'));
        if (!hasPort) {
            if (host.contains(":") && !host.startsWith("[")) host = "[" + host + "]";
            host = host + ":" + LogTarget.SYSLOG_PORT;
        }
        SockAddr a;
        try {
            a = SockAddr.parse((v6 ? "ipv6@" : "") + host);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("log address '" + addr + "': " + e.getMessage());
        }
        if (a.port() == 0) throw new IllegalArgumentException("log address '" + addr + "' needs a port other than 0");
        return new LogTarget(LogTarget.Kind.UDP, a, null, format, facility, maxLevel, minLevel, len, where);
    }
}
