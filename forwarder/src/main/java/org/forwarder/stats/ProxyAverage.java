package org.forwarder.stats;

/**
 * Time averages of a backend or server row over the last {@value SwRate#WINDOW} streams
 * (HAProxy's {@code show stat} columns), in milliseconds, one {@link SwRate} per loop. A sample is
 * taken per stream that reached its server, as HAProxy does (streams that never connected leave
 * the averages alone).
 */
public enum ProxyAverage {
    QTIME("qtime", "time spent waiting in the queue for a slot (0 when none was waited for)"),
    CTIME("ctime", "time from the first connect attempt to the server connection being up, retries included"),
    TTIME("ttime", "time from the accept to the end of the stream");

    private final String haproxy;
    private final String help;

    ProxyAverage(String haproxy, String help) {
        this.haproxy = haproxy;
        this.help = help;
    }

    public String haproxy() { return haproxy; }
    public String help() { return help; }
}
