package org.forwarder.bench.load;

import java.io.IOException;
import java.util.Locale;

/**
 * Errors seen by a driver, by kind. Every failed operation lands in exactly one kind, so the
 * summary can say what went wrong (refused, reset, short read, wrong bytes, timeout, no local
 * port, no fd) instead of a bare count; the first unclassified exception is kept verbatim.
 */
final class ErrorCounts {
    enum Kind {
        /** connect() got ECONNREFUSED. */
        REFUSED,
        /** The peer reset the connection (ECONNRESET, EPIPE). */
        RESET,
        /** End of stream before the whole echo came back. */
        SHORT,
        /** The echo differs from what was sent, or bytes came that were not asked for. */
        MISMATCH,
        /** An operation did not finish within the per-operation timeout. */
        TIMEOUT,
        /** No local address/port for a new connection (EADDRNOTAVAIL: ephemeral ports used up). */
        ADDR,
        /** Out of file descriptors (EMFILE/ENFILE). */
        FDS,
        /** A held idle connection was closed by the other side. */
        DROPPED,
        /** Anything else; the first one is kept in {@link #firstOther()}. */
        OTHER;

        final String key = "err_" + name().toLowerCase(Locale.ROOT);
    }

    private static final Kind[] KINDS = Kind.values();

    private final long[] counts = new long[KINDS.length];
    private String firstOther;

    void add(Kind kind) {
        counts[kind.ordinal()]++;
    }

    /** Classifies and counts {@code e}. */
    void add(IOException e) {
        Kind k = classify(e);
        if (k == Kind.OTHER && firstOther == null) firstOther = String.valueOf(e);
        add(k);
    }

    long get(Kind kind) {
        return counts[kind.ordinal()];
    }

    long total() {
        long t = 0;
        for (long c : counts) t += c;
        return t;
    }

    String firstOther() {
        return firstOther;
    }

    void merge(ErrorCounts other) {
        for (int i = 0; i < counts.length; i++) counts[i] += other.counts[i];
        if (firstOther == null) firstOther = other.firstOther;
    }

    static Kind[] kinds() {
        return KINDS.clone();
    }

    static Kind classify(IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
        if (m.contains("refused")) return Kind.REFUSED;
        if (m.contains("reset") || m.contains("broken pipe")) return Kind.RESET;
        if (m.contains("timed out")) return Kind.TIMEOUT;
        if (m.contains("assign requested address")) return Kind.ADDR;
        if (m.contains("too many open files")) return Kind.FDS;
        return Kind.OTHER;
    }
}
