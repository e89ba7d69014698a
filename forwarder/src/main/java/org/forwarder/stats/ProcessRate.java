package org.forwarder.stats;

/** Rates of the process as a whole (HAProxy's {@code show info}), one {@link FreqCtr} per loop. */
public enum ProcessRate {
    CONN_RATE("ConnRate", "MaxConnRate", "client connections accepted per second"),
    BYTES_OUT_RATE("BytesOutRate", null, "bytes forwarded per second (read from one side to be sent on to the other)");

    private final String haproxy;
    private final String haproxyMax;
    private final String help;

    ProcessRate(String haproxy, String haproxyMax, String help) {
        this.haproxy = haproxy;
        this.haproxyMax = haproxyMax;
        this.help = help;
    }

    public String haproxy() { return haproxy; }
    /** HAProxy's name for the highest rate seen, or null when none is kept. */
    public String haproxyMax() { return haproxyMax; }
    public String help() { return help; }
}
