package org.forwarder.proxy;

import org.forwarder.stats.ShowStat;

import java.util.List;

/**
 * The figures of {@code show stat} (and of the exporter) that the runtime API changes, read from
 * the shared proxies rather than from the configuration (the Prometheus page reads the same rows): a server's status (MAINT, DRAIN,
 * its health-check state UP, "UP 1/3", DOWN, "DOWN 1/2", or "no check" without checks), its check
 * columns (last status, "* " while a check runs, duration, failures, falls, downtime, rise, fall,
 * health), weight, maxconn and time since its last change; a backend's usable weight, active servers and UP/DOWN; a frontend's maxconn. HAProxy
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
                    long weight = 0, backupWeight = 0;
                    int active = 0, backups = 0;
                    for (Server s : be.servers()) {
                        if (!s.usable()) continue;
                        if (s.backup()) {
                            backupWeight += s.weight();
                            backups++;
                        } else {
                            weight += s.weight();
                            active++;
                        }
                    }
                    if (active == 0) weight = backupWeight; // the backups serve: their weight counts
                    r.set("status", weight > 0 ? "UP" : "DOWN").set("weight", weight).set("uweight", weight)
                            .set("act", active).set("bck", backups);
                    r.set("chkdown", be.downs()).set("downtime", be.downtimeSeconds());
                }
                default -> {
                    Backend be = proxies.backend(r.pxname());
                    Server s = be == null ? null : be.server(r.svname());
                    if (s == null) continue;
                    OpState op = s.op;
                    String status;
                    if (s.inMaintenance()) status = "MAINT";
                    else if (s.draining() && (!op.checked() || op.up())) status = "DRAIN";
                    else if (op.checked()) status = op.statusText();
                    else status = op.up() ? "no check" : "DOWN"; // set server health down
                    r.set("status", status);
                    r.set("act", s.backup() ? 0 : 1).set("bck", s.backup() ? 1 : 0);
                    int throttle = s.throttlePercent();
                    if (throttle >= 0) r.set("throttle", throttle);
                    if (op.checked()) {
                        String last = op.status;
                        r.set("check_status", (op.inProgress ? "* " : "") + (last == null ? "INI" : last));
                        if (op.durationMs >= 0) r.set("check_duration", op.durationMs);
                        if (org.forwarder.check.CheckStatusText.hasCode(last)) r.set("check_code", op.code);
                        r.set("check_desc", last == null ? "Initializing" : org.forwarder.check.CheckStatusText.reason(last));
                        r.set("chkfail", op.failures()).set("chkdown", op.downs()).set("downtime", op.downtimeSeconds());
                        r.set("check_rise", op.rise()).set("check_fall", op.fall()).set("check_health", op.health());
                    }
                    r.set("weight", s.weight()).set("uweight", s.weight());
                    r.set("slim", s.maxconn() > 0 ? Integer.toString(s.maxconn()) : "");
                    r.set("lastchg", s.secondsSinceChange());
                }
            }
        }
        return rows;
    }
}
