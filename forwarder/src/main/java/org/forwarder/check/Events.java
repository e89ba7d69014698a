package org.forwarder.check;

import org.forwarder.proxy.Backend;
import org.forwarder.proxy.Server;
import org.forwarder.proxy.Worker;

/**
 * What a check's result or a passive error does beyond the counter: HAProxy's log lines (a
 * server DOWN at alert, UP at notice, "no server available" at emerg)
 * and the actions the server asked for ({@code on-marked-down shutdown-sessions},
 * {@code on-marked-up shutdown-backup-sessions}), which run on every loop, each ending its own
 * streams. Rare: it may allocate.
 */
final class Events {
    // the words of the statuses live in CheckStatusText
    private Events() {}

    static String reason(String status) {
        return CheckStatusText.reason(status);
    }

    /** HAProxy adds " Running on backup." while only backups serve. */
    private static String onBackup(int act, int bck) {
        return act == 0 && bck > 0 ? " Running on backup." : "";
    }

    private static String who(Server sv) {
        return sv.backup() ? "Backup Server " : "Server ";
    }

    private static String append(String status, int code, String info, long durationMs) {
        StringBuilder sb = new StringBuilder(", reason: ").append(reason(status));
        if (CheckStatusText.hasCode(status)) sb.append(", code: ").append(code);
        if (info != null) sb.append(", info: \"").append(info).append('"');
        if (durationMs >= 0) sb.append(", check duration: ").append(durationMs).append("ms");
        return sb.toString();
    }

    /** {@code sv} went UP ({@code up}) or DOWN after a check (or a passive error: status HANA). */
    static void stateChanged(Worker w, Backend be, Server sv, boolean up, String status, String info, long durationMs) {
        String name = be.name() + "/" + sv.name();
        int act = be.usableServers(false), bck = be.usableServers(true);
        if (up) {
            w.log().accept(who(sv) + name + " is UP" + append(status, sv.op.code, info, durationMs) + ". " + act + " active and "
                    + bck + " backup servers online." + onBackup(act, bck) + " 0 sessions requeued, " + be.queued() + " total in queue.");
            w.proxies().followRamp(be, sv);
            w.proxies().markedUp(be, sv);
        } else {
            w.log().accept("alert: " + who(sv) + name + " is DOWN" + append(status, sv.op.code, info, durationMs) + ". " + act
                    + " active and " + bck + " backup servers left." + onBackup(act, bck) + " " + sv.current()
                    + " sessions active, 0 requeued, 0 remaining in queue.");
            if (act + bck == 0) {
                // HAProxy names the section's kind: "proxy" for a listen section, "backend" for a backend
                String kind = w.proxies().frontend(be.name()) != null ? "proxy " : "backend ";
                w.log().accept("emerg: " + kind + be.name() + " has no server available!");
            }
            w.proxies().markedDown(sv);
        }
    }
}
