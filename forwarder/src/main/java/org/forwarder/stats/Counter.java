package org.forwarder.stats;

/**
 * A named figure of the registry: one fixed index (its enum ordinal) in every block of its kind,
 * whether it only grows (a counter) or goes up and down (a gauge), and the name HAProxy gives it,
 * so a stats socket ({@code show info}, {@code show stat}) or a metrics page can label it without
 * a translation table of its own.
 */
public interface Counter {
    /** A counter only grows (rates come from differences); a gauge is a level now. */
    enum Kind { COUNTER, GAUGE }

    /** The index of this figure in its block. */
    int ordinal();

    String name();

    Kind kind();

    /** HAProxy's name for the same figure ({@code show info} or {@code show stat}), or null if it has none. */
    String haproxy();

    /** One line saying what is counted. */
    String help();
}
