package org.forwarder.stats;

/** Rates of a frontend, backend or server row (HAProxy's {@code show stat}), one {@link FreqCtr} per loop. */
public enum ProxyRate {
    RATE("rate", "streams started per second (on a server: slots taken per second)");

    private final String haproxy;
    private final String help;

    ProxyRate(String haproxy, String help) {
        this.haproxy = haproxy;
        this.help = help;
    }

    public String haproxy() { return haproxy; }
    public String help() { return help; }
}
