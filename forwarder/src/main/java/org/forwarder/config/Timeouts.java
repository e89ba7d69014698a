package org.forwarder.config;

/**
 * The seven timeouts of a proxy, in milliseconds; 0 means not set, which means "wait forever".
 * Every proxy keeps all seven so that sections can inherit them from {@code defaults} uniformly;
 * which side each one really applies to is decided by {@link #effective}.
 */
public record Timeouts(long connectMs, long clientMs, long serverMs, long queueMs, long tunnelMs,
                       long clientFinMs, long serverFinMs) {

    public static final Timeouts NONE = new Timeouts(0, 0, 0, 0, 0, 0, 0);

    /** The timeout names as written after the {@code timeout} keyword. */
    public enum Kind {
        CONNECT("connect", false), CLIENT("client", true), SERVER("server", false), QUEUE("queue", false),
        TUNNEL("tunnel", false), CLIENT_FIN("client-fin", true), SERVER_FIN("server-fin", false);

        private final String keyword;
        private final boolean frontendSide;

        Kind(String keyword, boolean frontendSide) {
            this.keyword = keyword;
            this.frontendSide = frontendSide;
        }

        public String keyword() { return keyword; }

        /** True when the frontend's value is used for a stream, false when the backend's is. */
        public boolean frontendSide() { return frontendSide; }

        /** The kind written as {@code word} after {@code timeout}, or null. */
        public static Kind fromKeyword(String word) {
            for (Kind k : values()) {
                if (k.keyword.equals(word)) return k;
            }
            return null;
        }
    }

    public Timeouts {
        if (connectMs < 0 || clientMs < 0 || serverMs < 0 || queueMs < 0 || tunnelMs < 0
                || clientFinMs < 0 || serverFinMs < 0) {
            throw new IllegalArgumentException("timeouts cannot be negative");
        }
    }

    /** The value of one timeout (0 = not set). */
    public long get(Kind kind) {
        return switch (kind) {
            case CONNECT -> connectMs;
            case CLIENT -> clientMs;
            case SERVER -> serverMs;
            case QUEUE -> queueMs;
            case TUNNEL -> tunnelMs;
            case CLIENT_FIN -> clientFinMs;
            case SERVER_FIN -> serverFinMs;
        };
    }

    /** A copy with one timeout replaced. */
    public Timeouts with(Kind kind, long ms) {
        return new Timeouts(
                kind == Kind.CONNECT ? ms : connectMs,
                kind == Kind.CLIENT ? ms : clientMs,
                kind == Kind.SERVER ? ms : serverMs,
                kind == Kind.QUEUE ? ms : queueMs,
                kind == Kind.TUNNEL ? ms : tunnelMs,
                kind == Kind.CLIENT_FIN ? ms : clientFinMs,
                kind == Kind.SERVER_FIN ? ms : serverFinMs);
    }

    /**
     * The timeouts a stream from {@code fe} to {@code be} runs with: client and client-fin from the
     * frontend, connect, server, queue, tunnel and server-fin from the backend (as HAProxy does).
     * No fallbacks are applied: in HAProxy an unset queue timeout uses the connect timeout, and
     * a set tunnel timeout replaces client/server once connected; both are left to the caller.
     */
    public static Timeouts effective(FrontendConfig fe, BackendConfig be) {
        Timeouts f = fe.timeouts();
        Timeouts b = be.timeouts();
        return new Timeouts(b.connectMs, f.clientMs, b.serverMs, b.queueMs, b.tunnelMs, f.clientFinMs, b.serverFinMs);
    }
}
