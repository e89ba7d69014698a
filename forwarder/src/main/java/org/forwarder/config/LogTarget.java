package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.List;

/**
 * One {@code log} line: where the lines go ({@link Kind}: standard output or error, a UDP syslog
 * address, a Unix datagram socket such as {@code /dev/log}), the header each line gets
 * ({@link Format}), the syslog facility, the levels it passes ({@code maxLevel}: lines less
 * severe are not sent; {@code minLevel}: more severe ones are sent at that level) and the longest
 * line it takes ({@code maxLen}, the newline included). HAProxy's syntax:
 * {@code log ADDRESS [len N] [format F] FACILITY [MAXLEVEL [MINLEVEL]]}.
 */
public record LogTarget(Kind kind, SockAddr address, String path, Format format, int facility, int maxLevel,
                        int minLevel, int maxLen, String where) {

    public enum Kind { STDOUT, STDERR, UDP, UNIX }

    /** The syslog header formats forwarder writes (HAProxy's names). */
    public enum Format {
        RAW("raw"), SHORT("short"), RFC3164("rfc3164"), RFC5424("rfc5424");

        public final String keyword;

        Format(String keyword) {
            this.keyword = keyword;
        }
    }

    /** HAProxy's facility names, in syslog's numbering. */
    public static final List<String> FACILITIES = List.of(
            "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp",
            "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
            "local7");
    /** Syslog's levels, most severe first (their numbers). */
    public static final List<String> LEVELS = List.of("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug");
    public static final int EMERG = 0;
    public static final int ALERT = 1;
    public static final int ERR = 3;
    public static final int WARNING = 4;
    public static final int NOTICE = 5;
    public static final int INFO = 6;
    public static final int DEBUG = 7;
    /** HAProxy's default and bounds for {@code len}. */
    public static final int DEFAULT_LEN = 1024;
    public static final int MIN_LEN = 80;
    public static final int MAX_LEN = 65535;
    /** The syslog port when the address names none. */
    public static final int SYSLOG_PORT = 514;

    /** The target as written, for messages: {@code 127.0.0.1:514}, {@code /dev/log}, {@code stdout}. */
    public String label() {
        return switch (kind) {
            case STDOUT -> "stdout";
            case STDERR -> "stderr";
            case UDP -> address.toString();
            case UNIX -> path;
        };
    }
}
