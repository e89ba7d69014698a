package org.forwarder.proxy;

import org.forwarder.stats.ShowStat;

import java.util.List;

/**
 * The figures of {@code show stat} (and of the exporter) that the runtime API changes, read from
 * the shared proxies rather than from the configuration (the Prometheus page reads the same rows): a server's status (MAINT, DRAIN, or
 * "no check" as long as there are no health checks), weight, maxconn and time since its last
 * change; a backend's usable weight, active servers and UP/DOWN; a frontend's maxconn. HAProxy
 * counts in a backend's weight and "act" only the servers that take new streams (ready, with a
 * weight above zero), and calls a backend UP while that weight is above zero.
 */
public final class RuntimeFigures {
    private RuntimeFigures() {}

    /** Sets those figures in {@code rows} (HAProxy's order, as {@link ShowStat#rows} makes them). */
    public static List<ShowStat.Row> apply(List<ShowStat.Row> rows, Proxies proxies) {
        for (ShowStat.Row r : rows) {
            switch (r.svname()) {
                case "FRONTEND" -> {
                    Frontend fe = proxies.frontend(r.pxname());
                    if (fe != null) r.set("slim", fe.maxconn());
                }
                case "BACKEND" -> {
                    Backend be = proxies.backend(r.pxname());
                    if (be == null) continue;
                    long weight = 0;
                    int active = 0;
                    for (Server s : be.servers()) {
                        if (!s.usable()) continue;
                        weight += s.weight();
                        active++;
                    }
                    r.set("status", weight > 0 ? "UP" : "DOWN").set("weight", weight).set("uweight", weight).set("act", active);
                }
                default -> {
                    Backend be = proxies.backend(r.pxname());
                    Server s = be == null ? null : be.server(r.svname());
                    if (s == null) continue;
                    r.set("status", s.inMaintenance() ? "MAINT" : s.draining() ? "DRAIN" : "no check");
                    r.set("weight", s.weight()).set("uweight", s.weight());
                    r.set("slim", s.maxconn() > 0 ? Integer.toString(s.maxconn()) : "");
                    r.set("lastchg", s.secondsSinceChange());
                }
            }
        }
        return rows;
    }
}
