package org.forwarder.proxy;

import org.forwarder.stats.ShowStat;

import java.util.List;

/**
 * The figures of {@code show stat} (and of the exporter) that the runtime API changes, read from
 * the shared proxies rather than from the configuration (the Prometheus page reads the same rows): a server's status (MAINT, DRAIN,
 * its health-check state UP, "UP 1/3", DOWN, "DOWN 1/2", "DRAIN 1/3", or "no check" without checks or with them disabled), its check
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
                    // the backups serve: their weight counts, only the first's without allbackups (the one served)
                    if (active == 0) weight = be.config().healthCheck().allBackups() ? backupWeight : firstBackupWeight(be);
                    r.set("status", weight > 0 ? "UP" : "DOWN").set("weight", weight).set("uweight", weight)
                            .set("act", active).set("bck", backups);
                    r.set("chkdown", be.downs()).set("downtime", be.downtimeSeconds());
                }
                default -> {
                    Backend be = proxies.backend(r.pxname());
                    Server s = be == null ? null : be.server(r.svname());
                    if (s == null) continue;
                    OpState op = s.op;
                    boolean checking = op.checked() && op.enabled();
                    r.set("status", status(s, op, checking));
                    r.set("act", s.backup() ? 0 : 1).set("bck", s.backup() ? 1 : 0);
                    int throttle = s.throttlePercent();
                    if (throttle >= 0) r.set("throttle", throttle);
                    if (op.checked()) {
                        String last = op.status;
                        // HAProxy: status, code and duration only while the checks run (not in MAINT,
                        // not disabled); the layer 5-7 code (a MySQL error number, else 0) for L7OK and L7STS
                        if (checking && !s.inMaintenance()) {
                            r.set("check_status", (op.inProgress ? "* " : "") + (last == null ? "INI" : last));
                            if (org.forwarder.check.CheckStatusText.hasCode(last)) r.set("check_code", op.code);
                            if (op.durationMs >= 0) r.set("check_duration", op.durationMs);
                        }
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

    /**
     * HAProxy's status word: MAINT; up: "DRAIN" (or "DRAIN 1/3" on its way down), "no check"
     * when not checked or its checks are disabled, else UP or "UP 1/3"; down: DOWN, or
     * "DOWN 1/2" on its way up while checked.
     */
    private static String status(Server s, OpState op, boolean checking) {
        if (s.inMaintenance()) return "MAINT";
        if (op.up()) {
            int top = op.rise() + op.fall() - 1;
            boolean goingDown = checking && op.health() < top;
            if (s.draining()) return goingDown ? "DRAIN " + (op.health() - op.rise() + 1) + "/" + op.fall() : "DRAIN";
            if (!checking) return "no check";
            return op.statusText();
        }
        if (checking) return op.statusText();
        return "DOWN"; // unchecked (set server health down), or checks disabled
    }

    /** The weight of the first usable backup (the one that serves without allbackups), 0 none. */
    private static long firstBackupWeight(Backend be) {
        for (Server s : be.servers()) if (s.backup() && s.usable()) return s.weight();
        return 0;
    }
}
