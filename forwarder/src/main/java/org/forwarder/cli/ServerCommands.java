package org.forwarder.cli;

import org.forwarder.config.StatsConfig.Level;
import org.forwarder.proxy.Backend;
import org.forwarder.proxy.Frontend;
import org.forwarder.proxy.Proxies;
import org.forwarder.proxy.Server;
import org.forwarder.stats.ShowStat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Commands on servers and limits, with HAProxy 2.6's words, answers and errors:
 * {@code set server <b>/<s> state ready|drain|maint}, {@code set server <b>/<s> weight W[%]},
 * {@code set weight}, {@code get weight}, {@code enable server}, {@code disable server},
 * {@code set maxconn server|frontend|global}, {@code show servers state [<backend>]}.
 *
 * <p>A change is made where the state lives: a server's settings under its backend's lock
 * ({@link Proxies#changeServer}), which also serves the backend's queue when the server may now
 * take more; a frontend's or the global limit in its shared count, waking the loops paused at it.
 * Streams already on a server are kept whatever its new state, as in HAProxy.
 *
 * <p>Where we differ from HAProxy on purpose: a negative or non-numeric maxconn is refused with
 * an error (HAProxy stores a negative server maxconn as unlimited and reads a non-numeric one
 * as 0), and every error answer ends with the empty line (four of HAProxy's weight and maxconn
 * parse errors lack it, which leaves a client reading for the end of the answer).
 */
final class ServerCommands {
    /** A server named on the command line, with its backend. */
    record Target(Backend backend, Server server) {}

    private final CliContext ctx;
    /** HAProxy's proxy numbers (be_id, #id), as show stat numbers them. */
    private final Map<String, Integer> proxyIds = new HashMap<>();

    ServerCommands(CliContext ctx) {
        this.ctx = ctx;
        for (ShowStat.Proxy p : ShowStat.layout(ctx.config())) proxyIds.put(p.name(), p.iid());
    }

    void addTo(CliCommands t) {
        t.add(new String[] {"set", "server"}, Level.ADMIN, "set server <bk>/<srv> [opts]",
                "change a server's state or weight", this::setServer);
        t.add(new String[] {"set", "weight"}, Level.ADMIN, "set weight <bk>/<srv>  (DEPRECATED)",
                "change a server's weight (use 'set server' instead)", (a, s) -> {
                    Target tg = findServer(arg(a, 2));
                    setWeight(tg, arg(a, 3));
                    s.answer("");
                });
        t.add(new String[] {"get", "weight"}, Level.USER, "get weight <bk>/<srv>", "report a server's current weight",
                (a, s) -> {
                    Server sv = findServer(arg(a, 2)).server();
                    s.answer(sv.weight() + " (initial " + sv.initialWeight() + ")\n");
                });
        t.add(new String[] {"enable", "server"}, Level.ADMIN, "enable server  (DEPRECATED)",
                "enable a disabled server (use 'set server' instead)", (a, s) -> {
                    Target tg = findServer(arg(a, 2));
                    setState(tg, Server.READY);
                    s.answer("");
                });
        t.add(new String[] {"disable", "server"}, Level.ADMIN, "disable server (DEPRECATED)",
                "disable a server for maintenance (use 'set server' instead)", (a, s) -> {
                    Target tg = findServer(arg(a, 2));
                    setState(tg, Server.MAINT);
                    s.answer("");
                });
        t.add(new String[] {"enable", "health"}, Level.ADMIN, "enable health", "enable health checks",
                (a, s) -> setHealth(a, s, true));
        t.add(new String[] {"disable", "health"}, Level.ADMIN, "disable health", "disable health checks",
                (a, s) -> setHealth(a, s, false));
        t.add(new String[] {"set", "maxconn", "server"}, Level.ADMIN, "set maxconn server <bk>/<srv>",
                "change a server's maxconn setting", this::setMaxconnServer);
        t.add(new String[] {"set", "maxconn", "frontend"}, Level.ADMIN, "set maxconn frontend <frontend> <value>",
                "change a frontend's maxconn setting", this::setMaxconnFrontend);
        t.add(new String[] {"set", "maxconn", "global"}, Level.ADMIN, "set maxconn global <value>",
                "change the per-process maxconn setting", this::setMaxconnGlobal);
        t.add(new String[] {"show", "servers", "state"}, Level.USER, "show servers state [<backend>]",
                "dump volatile server information (all or for a single backend)", this::showServersState);
    }

    private static String arg(String[] a, int i) {
        return i < a.length ? a[i] : "";
    }

    // ---- set server ----------------------------------------------------------------------

    private void setServer(String[] a, CliSession s) {
        Target tg = findServer(arg(a, 2));
        switch (arg(a, 3)) {
            case "state" -> {
                switch (arg(a, 4)) {
                    case "ready" -> setState(tg, Server.READY);
                    case "drain" -> setState(tg, Server.DRAIN);
                    case "maint" -> setState(tg, Server.MAINT);
                    default -> throw new CliError("'set server <srv> state' expects 'ready', 'drain' and 'maint'.");
                }
            }
            case "weight" -> setWeight(tg, arg(a, 4));
            case "health" -> {
                switch (arg(a, 4)) {
                    case "up" -> setHealth(tg, true);
                    case "down" -> setHealth(tg, false);
                    case "stopping" -> throw new CliError("'set server <srv> health stopping' is not supported (no NOLB state).");
                    default -> throw new CliError("'set server <srv> health' expects 'up', 'stopping', or 'down'.");
                }
            }
            default -> throw new CliError("usage: set server <backend>/<server> health | state | weight");
        }
        s.answer("");
    }

    /** The target's new administrative state. */
    private void setState(Target tg, int bits) {
        Server sv = tg.server();
        int before = sv.adminState();
        ctx.proxies().changeServer(tg.backend(), sv, bits, -1, -1);
        String event = stateChange(tg, before, bits);
        if (event != null) ctx.log().accept(event); // standard error, and the global log at its level
        if (event != null && !tg.backend().hasUsableServer()) {
            ctx.log().accept("emerg: proxy " + tg.backend().name() + " has no server available!");
        }
    }

    /**
     * The event line of a state change, in HAProxy's words and at its level (HAProxy 2.6.12 logs
     * a maintenance at alert, the rest at notice); null when nothing changed.
     */
    private String stateChange(Target tg, int before, int after) {
        String name = tg.backend().name() + "/" + tg.server().name();
        boolean maintBefore = (before & Server.MAINT) != 0, maintAfter = (after & Server.MAINT) != 0;
        boolean drainBefore = (before & Server.DRAIN) != 0, drainAfter = (after & Server.DRAIN) != 0;
        int up = tg.backend().usableServers(false), bck = tg.backend().usableServers(true);
        if (maintAfter && !maintBefore) {
            return "alert: Server " + name + " is going DOWN for maintenance. " + up + " active and " + bck + " backup servers left. "
                    + tg.server().current() + " sessions active, 0 requeued, " + tg.backend().queued() + " remaining in queue.";
        }
        if (drainAfter && !drainBefore) {
            return "Server " + name + " enters drain state. " + up + " active and " + bck + " backup servers online. 0 sessions requeued, "
                    + tg.backend().queued() + " total in queue.";
        }
        if (maintBefore && !maintAfter) {
            // a checked server leaves maintenance DOWN: its checks must pass rise times first
            return "Server " + name + (tg.server().up() ? " is UP/READY" : " is DOWN") + " (leaving forced maintenance).";
        }
        if (drainBefore && !drainAfter) return "Server " + name + " is UP (leaving forced drain).";
        return null;
    }

    private void setWeight(Target tg, String text) {
        Server sv = tg.server();
        int w = parseWeight(text, sv.initialWeight());
        ctx.proxies().changeServer(tg.backend(), sv, -1, w, -1);
    }

    /**
     * HAProxy's weight argument: {@code N} (0..256) or {@code N%} of the configured weight
     * (rounded down, at most 256), checked in HAProxy's order so the same input gets the same
     * error.
     */
    static int parseWeight(String text, int initial) {
        if (text.isEmpty()) throw new CliError("Require <weight> or <weight%>.");
        int i = 0;
        boolean neg = false;
        if (text.charAt(0) == '-' || text.charAt(0) == '+') {
            neg = text.charAt(0) == '-';
            i++;
        }
        int start = i;
        long v = 0;
        while (i < text.length() && isAsciiDigit(text.charAt(i))) {
            v = Math.min(v * 10 + (text.charAt(i) - '0'), Integer.MAX_VALUE);
            i++;
        }
        if (i == start) throw new CliError("Empty weight string empty or preceded by garbage");
        if (neg) v = -v;
        long w;
        if (i < text.length() && text.charAt(i) == '%') {
            if (v < 0) throw new CliError("Relative weight must be positive.");
            w = Math.min(256, initial * Math.min(v, 25600) / 100);
            i++;
        } else {
            if (v < 0 || v > Server.MAX_WEIGHT) throw new CliError("Absolute weight can only be between 0 and 256 inclusive.");
            w = v;
        }
        if (i != text.length()) throw new CliError("Trailing garbage in weight string");
        return (int) w;
    }

    // ---- maxconn -------------------------------------------------------------------------

    private void setMaxconnServer(String[] a, CliSession s) {
        Target tg = findServer(arg(a, 3));
        String v = arg(a, 4);
        if (v.isEmpty()) throw new CliError("Require <maxconn>.");
        int n = parseCount(v, "maxconn string empty or preceded by garbage", "Trailing garbage in maxconn string");
        ctx.proxies().changeServer(tg.backend(), tg.server(), -1, -1, n);
        s.answer("");
    }

    private void setMaxconnFrontend(String[] a, CliSession s) {
        String name = arg(a, 3);
        if (name.isEmpty()) throw new CliError("A frontend name is expected.");
        Frontend fe = findFrontend(name);
        if (fe == null) throw new CliError("No such frontend.");
        String v = arg(a, 4);
        if (v.isEmpty()) throw new CliError("Integer value expected.");
        int n = parseCount(v, "Integer value expected.", "Integer value expected.");
        ctx.proxies().setMaxconn(fe, n); // 0 stops accepting, as in HAProxy
        s.answer("");
    }

    private void setMaxconnGlobal(String[] a, CliSession s) {
        String v = arg(a, 3);
        if (v.isEmpty()) throw new CliError("Expects an integer value.");
        int n = parseCount(v, "Expects an integer value.", "Expects an integer value.");
        int hard = ctx.config().global().maxconn();
        if (n > hard) throw new CliError("Value out of range.");
        ctx.proxies().setGlobalMaxconn(n == 0 ? hard : n); // as HAProxy: 0 is the configured (hard) limit
        s.answer("");
    }

    private static boolean isAsciiDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** A count: ASCII digits, after an optional '+'; a '-' makes it out of range. */
    private static int parseCount(String v, String garbage, String trailing) {
        if (v.charAt(0) == '-') throw new CliError("Value out of range.");
        int i = v.charAt(0) == '+' ? 1 : 0;
        int start = i;
        long n = 0;
        while (i < v.length() && isAsciiDigit(v.charAt(i))) {
            n = n * 10 + (v.charAt(i) - '0');
            if (n > Integer.MAX_VALUE) throw new CliError("Value out of range.");
            i++;
        }
        if (i == start) throw new CliError(garbage);
        if (i != v.length()) throw new CliError(trailing);
        return (int) n;
    }

    // ---- show servers state --------------------------------------------------------------

    private static final String STATE_HEADER = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state"
            + " srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health"
            + " srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl"
            + " srv_check_port srv_check_addr srv_agent_addr srv_agent_port";

    /**
     * HAProxy's server-state dump (version 1 of its state file): op state 2 (running) or 0
     * (stopped, in maintenance), admin state bits 0x01 (forced maintenance) and 0x08 (forced
     * drain), check fields as HAProxy shows them for a server without health checks.
     */
    private void showServersState(String[] a, CliSession s) {
        String only = arg(a, 3);
        List<Backend> backends = new java.util.ArrayList<>();
        if (!only.isEmpty()) {
            Backend be = findBackend(only);
            if (be == null) throw new CliError("Can't find backend.");
            backends.add(be);
        } else {
            for (ShowStat.Proxy p : ShowStat.layout(ctx.config())) {
                if (p.backend() != null) backends.add(ctx.proxies().backend(p.name()));
            }
        }
        StringBuilder sb = new StringBuilder("1\n").append(STATE_HEADER).append('\n');
        for (Backend be : backends) {
            for (Server sv : be.servers()) {
                boolean maint = sv.inMaintenance();
                var addr = sv.address();
                sb.append(proxyIds.get(be.name())).append(' ').append(be.name()).append(' ').append(sv.index() + 1)
                        .append(' ').append(sv.name()).append(' ').append(org.forwarder.sys.SockAddr.hostText(addr.address()))
                        .append(' ').append(maint || !sv.up() ? 0 : 2)
                        .append(' ').append(sv.adminState())
                        .append(' ').append(sv.weight()).append(' ').append(sv.initialWeight())
                        .append(' ').append(sv.secondsSinceChange());
                var op = sv.op;
                if (op.checked()) {
                    // HAProxy's HCHK_STATUS_* and CHK_RES_* numbers, the CHK_ST_* bits (configured 0x2, enabled 0x4, paused 0x8)
                    String st = op.status;
                    int result = st == null ? 0 : st.endsWith("OK") ? 3 : 2;
                    int flags = 0x2 | (op.enabled() ? 0x4 : 0) | (maint ? 0x8 : 0);
                    sb.append(' ').append(checkStatusNumber(st)).append(' ').append(result).append(' ').append(op.health())
                            .append(' ').append(flags).append(" 0 0 0 - ").append(addr.port()).append(" - 0 ")
                            .append(sv.check().port()).append(" - - 0\n");
                } else {
                    sb.append(" 1 0 ").append(sv.wasInMaintenance() ? 0 : 2) // check health, see Server#wasInMaintenance
                            .append(" 0 0 0 0 - ").append(addr.port()).append(" - 0 0 - - 0\n");
                }
            }
        }
        s.answer(sb.toString());
    }

    /** HAProxy 2.6's HCHK_STATUS_* number of a check status (INI 1, L4OK 6, L4CON 8, L7OKD 15, L7STS 17, ...). */
    static int checkStatusNumber(String status) {
        if (status == null) return 1;
        return switch (status) {
            case "HANA" -> 4;
            case "SOCKERR" -> 5;
            case "L4OK" -> 6;
            case "L4TOUT" -> 7;
            case "L4CON" -> 8;
            case "L7TOUT" -> 12;
            case "L7RSP" -> 13;
            case "L7OK" -> 15; // L7OKD (14 is the dummy L57DATA)
            case "L7STS" -> 17;
            default -> 0;
        };
    }

    /** {@code set server b/s health up|down}: the health counter to its top or 0, the state with it. */
    private void setHealth(Target tg, boolean up) {
        Server sv = tg.server();
        Backend be = tg.backend();
        if (!ctx.proxies().forceHealth(be, sv, up)) return;
        String name = be.name() + "/" + sv.name();
        int act = be.usableServers(false), bck = be.usableServers(true);
        if (up) {
            ctx.log().accept("Server " + name + " is UP, changed from CLI. " + act + " active and " + bck
                    + " backup servers online. 0 sessions requeued, " + be.queued() + " total in queue.");
        } else {
            ctx.log().accept("alert: Server " + name + " is DOWN, changed from CLI. " + act + " active and " + bck
                    + " backup servers left. " + sv.current() + " sessions active, 0 requeued, 0 remaining in queue.");
            if (!be.hasUsableServer()) ctx.log().accept("emerg: proxy " + be.name() + " has no server available!");
        }
    }

    /** {@code enable health} / {@code disable health}: the server's health checks run or pause. */
    private void setHealth(String[] a, CliSession s, boolean on) {
        Target tg = findServer(arg(a, 2));
        tg.server().op.setEnabled(on);
        s.answer("");
    }

    // ---- names ---------------------------------------------------------------------------

    /** {@code <backend>/<server>}, each by name or {@code #id}, with HAProxy's errors. */
    Target findServer(String arg) {
        int slash = arg.indexOf('/');
        if (slash <= 0 || slash == arg.length() - 1) throw new CliError("Require 'backend/server'.");
        Backend be = findBackend(arg.substring(0, slash));
        if (be == null) throw new CliError("No such backend.");
        String name = arg.substring(slash + 1);
        Server sv = null;
        if (name.startsWith("#")) {
            int id = idOf(name);
            if (id >= 1 && id <= be.servers().length) sv = be.servers()[id - 1];
        } else {
            sv = be.server(name);
        }
        if (sv == null) throw new CliError("No such server.");
        return new Target(be, sv);
    }

    private Backend findBackend(String name) {
        if (name.startsWith("#")) {
            int id = idOf(name);
            for (Map.Entry<String, Integer> e : proxyIds.entrySet()) {
                if (e.getValue() == id) return ctx.proxies().backend(e.getKey());
            }
            return null;
        }
        return ctx.proxies().backend(name);
    }

    private Frontend findFrontend(String name) {
        if (name.startsWith("#")) {
            int id = idOf(name);
            for (Map.Entry<String, Integer> e : proxyIds.entrySet()) {
                if (e.getValue() == id) return ctx.proxies().frontend(e.getKey());
            }
            return null;
        }
        return ctx.proxies().frontend(name);
    }

    private static int idOf(String hashId) {
        try {
            return Integer.parseInt(hashId.substring(1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
