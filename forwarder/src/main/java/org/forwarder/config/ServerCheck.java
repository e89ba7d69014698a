package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.Objects;

/**
 * A server's health-check and state options, HAProxy's names and defaults: {@code check},
 * {@code inter} (2 s), {@code fastinter} and {@code downinter} (both {@code inter} unless set),
 * {@code rise} (2), {@code fall} (3), {@code port}, {@code addr}, {@code disabled}, {@code backup},
 * {@code slowstart}, {@code observe layer4}, {@code error-limit} (10), {@code on-error}
 * ({@code fail-check}), {@code on-marked-down shutdown-sessions},
 * {@code on-marked-up shutdown-backup-sessions}. Times in ms; {@code port} 0 and {@code addr}
 * null mean the server's own.
 */
public record ServerCheck(boolean check, long interMs, long fastinterMs, long downinterMs, int rise, int fall,
                          int port, SockAddr addr, boolean disabled, boolean backup, long slowstartMs,
                          boolean observeLayer4, int errorLimit, OnError onError,
                          boolean shutdownSessionsOnDown, boolean shutdownBackupSessionsOnUp) {

    /** What {@code observe layer4} does once {@code error-limit} errors came in a row. */
    public enum OnError {
        FASTINTER("fastinter"), FAIL_CHECK("fail-check"), SUDDEN_DEATH("sudden-death"), MARK_DOWN("mark-down");

        private final String keyword;

        OnError(String keyword) {
            this.keyword = keyword;
        }

        public String keyword() { return keyword; }
    }

    public static final long DEFAULT_INTER_MS = 2000;
    public static final int DEFAULT_RISE = 2;
    public static final int DEFAULT_FALL = 3;
    public static final int DEFAULT_ERROR_LIMIT = 10;

    /** No check, HAProxy's defaults for the rest. */
    public static final ServerCheck NONE = new ServerCheck(false, DEFAULT_INTER_MS, DEFAULT_INTER_MS, DEFAULT_INTER_MS,
            DEFAULT_RISE, DEFAULT_FALL, 0, null, false, false, 0, false, DEFAULT_ERROR_LIMIT, OnError.FAIL_CHECK,
            false, false);

    public ServerCheck {
        Objects.requireNonNull(onError, "onError");
        if (interMs < 1 || fastinterMs < 1 || downinterMs < 1) throw new IllegalArgumentException("check intervals must be positive");
        if (rise < 1 || fall < 1) throw new IllegalArgumentException("rise and fall must be at least 1");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("check port " + port + " is outside 0..65535");
        if (errorLimit < 1) throw new IllegalArgumentException("error-limit must be at least 1");
        if (slowstartMs < 0) throw new IllegalArgumentException("slowstart cannot be negative");
    }

    /** HAProxy's health counter: 0..rise+fall-1, up from rise on. */
    public int maxHealth() {
        return rise + fall - 1;
    }
}
