package org.forwarder.config;

import org.forwarder.config.ProxyDraft.Kind;
import org.forwarder.sys.SockAddr;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies the keywords of {@code defaults}, {@code listen}, {@code frontend} and {@code backend}
 * sections to a ProxyDraft, reporting each bad line to the Diagnostics and going on.
 */
final class ProxyKeywords {

    private static final Set<Kind> ALL = EnumSet.allOf(Kind.class);

    /** Logging keywords ({@code no} also takes {@code no log}). */
    private static final Map<String, Set<Kind>> SECTIONS = Map.ofEntries(
            Map.entry("log", ALL),
            Map.entry("log-format", EnumSet.of(Kind.DEFAULTS, Kind.FRONTEND, Kind.LISTEN)),
            Map.entry("no", ALL),
            Map.entry("default-server", EnumSet.of(Kind.DEFAULTS, Kind.BACKEND, Kind.LISTEN)),
            // backend settings that HAProxy ignores with a warning in a frontend; so does forwarder
            Map.entry("tcp-check", ALL),
            Map.entry("load-server-state-from-file", ALL),
            Map.entry("server-state-file-name", ALL));

    /** Which sections accept each supported keyword (the same sections as in HAProxy). */
    private static final Map<String, Set<Kind>> CORE_SECTIONS = Map.of(
            "mode", ALL,
            "bind", EnumSet.of(Kind.FRONTEND, Kind.LISTEN),
            "server", EnumSet.of(Kind.BACKEND, Kind.LISTEN),
            "default_backend", EnumSet.of(Kind.DEFAULTS, Kind.FRONTEND, Kind.LISTEN),
            "balance", EnumSet.of(Kind.DEFAULTS, Kind.BACKEND, Kind.LISTEN),
            "timeout", ALL,
            "retries", EnumSet.of(Kind.DEFAULTS, Kind.BACKEND, Kind.LISTEN),
            "maxconn", EnumSet.of(Kind.DEFAULTS, Kind.FRONTEND, Kind.LISTEN),
            "option", ALL);

    private static final Map<String, Set<Kind>> ALL_SECTIONS;

    static {
        // one table: the core keywords, then the logging ones above
        java.util.HashMap<String, Set<Kind>> all = new java.util.HashMap<>(CORE_SECTIONS);
        all.putAll(SECTIONS);
        ALL_SECTIONS = Map.copyOf(all);
    }

    private final Diagnostics diag;

    ProxyKeywords(Diagnostics diag) {
        this.diag = diag;
    }

    static boolean handles(String keyword) {
        return ALL_SECTIONS.containsKey(keyword) || keyword.equals("http-request");
    }

    /** "'frontend' and 'listen' sections": where {@code keyword} may appear. */
    static String allowedSections(String keyword) {
        Set<Kind> kinds = ALL_SECTIONS.getOrDefault(keyword, ALL);
        StringBuilder sb = new StringBuilder();
        int i = 0;
        for (Kind k : kinds) {
            if (i > 0) sb.append(i == kinds.size() - 1 ? " and " : ", ");
            sb.append('\'').append(k.keyword).append('\'');
            i++;
        }
        return sb.append(kinds.size() == 1 ? " section" : " sections").toString();
    }

    /** Applies one line whose first word satisfies {@link #handles}. */
    void apply(ProxyDraft p, Line line) {
        String kw = line.first();
        if (kw.equals("http-request")) { // any section, as in HAProxy; only the exporter's rule is accepted
            PrometheusFrontend.httpRequest(p, line, diag);
            return;
        }
        if (!ALL_SECTIONS.get(kw).contains(p.kind)) {
            diag.error(line.number(), kw, "is only allowed in " + allowedSections(kw) + ", not in '" + p.kind.keyword + "'");
            return;
        }
        switch (kw) {
            case "mode" -> mode(p, line);
            case "bind" -> bind(p, line);
            case "server" -> server(p, line);
            case "default-server" -> defaultServer(p, line);
            case "tcp-check" -> tcpCheck(p, line);
            case "load-server-state-from-file" -> loadServerState(p, line);
            case "server-state-file-name" -> serverStateFileName(p, line);
            case "default_backend" -> defaultBackend(p, line);
            case "balance" -> balance(p, line);
            case "timeout" -> timeout(p, line);
            case "retries" -> {
                Integer n = oneNumber(line, 0, "a number of retries");
                if (n != null) p.retries = n;
            }
            case "maxconn" -> {
                Integer n = oneNumber(line, 1, "a number of connections");
                if (n != null) p.maxconn = n;
            }
            case "option" -> option(p, line, 1, true);
            case "no" -> negated(p, line);
            case "log" -> log(p, line);
            case "log-format" -> logFormat(p, line);
            default -> throw new IllegalStateException("not a proxy keyword: " + kw);
        }
    }

    private void mode(ProxyDraft p, Line line) {
        String value = single(line, 1, "'tcp'");
        if (value == null) return;
        if (value.equals("tcp")) {
            p.modeHttpLine = 0;
            return;
        }
        if (value.equals("http")) {
            PrometheusFrontend.modeHttp(p, line, diag);
            return;
        }
        diag.error(line.number(), "mode", "'" + value + "' is not supported: forwarder only supports 'mode tcp'");
    }

    private void bind(ProxyDraft p, Line line) {
        List<String> args = line.args(1);
        if (args.isEmpty()) {
            p.brokenBind = true;
            diag.error(line.number(), "bind", "expects an address such as 127.0.0.1:8080 or :8080");
            return;
        }
        if (args.size() > 1) {
            // Only the first option: the words after it may be its values, not options.
            String option = args.get(1);
            p.brokenBind = true;
            diag.error(line.number(), "bind", Keywords.BIND_OPTION_UNSUPPORTED.contains(option)
                    ? "option '" + option + "' is not supported by forwarder"
                    : "unknown option '" + option + "' (forwarder's bind takes only addresses)");
        }
        try {
            for (SockAddr a : Addresses.bindList(args.getFirst())) {
                p.binds.add(new BindConfig(a, diag.where(line.number())));
            }
        } catch (IllegalArgumentException e) {
            p.brokenBind = true;
            diag.error(line.number(), "bind", e.getMessage());
        }
    }

    private void server(ProxyDraft p, Line line) {
        List<String> args = line.args(1);
        if (args.size() < 2) {
            p.brokenServer = true;
            diag.error(line.number(), "server", "expects a name and an address: server NAME ADDR:PORT [OPTIONS]");
            return;
        }
        String name = args.get(0);
        boolean ok = checkName(line, "server", name);
        ServerOptions options = p.defaultServer.copy();
        ok &= options.apply(args.subList(2, args.size()), line, "server", diag);
        SockAddr address = null;
        try {
            address = Addresses.server(args.get(1));
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), "server", e.getMessage());
            ok = false;
        }
        ServerConfig previous = p.servers.get(name);
        if (previous != null) {
            diag.error(line.number(), "server", "name '" + name + "' is already used in " + p.label()
                    + " by the server at " + previous.where());
            ok = false;
        }
        if (!ok) {
            p.brokenServer = true;
            return;
        }
        p.servers.put(name, new ServerConfig(name, address, options.weight, options.maxconn, options.toCheck(),
                diag.where(line.number())));
    }

    /**
     * {@code default-server OPTIONS}: what later {@code server} lines of this section (and, in
     * a defaults section, of the sections after it) start from; lines add up, as in HAProxy.
     * A bad line changes nothing.
     */
    private void defaultServer(ProxyDraft p, Line line) {
        ServerOptions options = p.defaultServer.copy();
        List<String> args = line.args(1);
        if (options.apply(args, line, "default-server", diag)) p.defaultServer = options;
    }

    private void defaultBackend(ProxyDraft p, Line line) {
        String name = single(line, 1, "a backend name");
        if (name == null) return;
        p.defaultBackend = name;
        p.defaultBackendLine = line.number();
    }

    private void balance(ProxyDraft p, Line line) {
        String algo = line.word(1);
        if (algo == null) {
            diag.error(line.number(), "balance", "expects an algorithm: roundrobin or leastconn");
            return;
        }
        Balance b = switch (algo) {
            case "roundrobin" -> Balance.ROUNDROBIN;
            case "leastconn" -> Balance.LEASTCONN;
            default -> null;
        };
        if (b == null) {
            diag.error(line.number(), "balance", (Keywords.BALANCE_UNSUPPORTED.contains(algo)
                    ? "'" + algo + "' is not supported by forwarder" : "unknown algorithm '" + algo + "'")
                    + ": supported are roundrobin and leastconn");
            return;
        }
        if (single(line, 1, "roundrobin or leastconn") != null) p.balance = b;
    }

    private void timeout(ProxyDraft p, Line line) {
        String which = line.word(1);
        if ("check".equals(which)) {
            timeoutCheck(p, line);
            return;
        }
        Timeouts.Kind kind = which == null ? null : Timeouts.Kind.fromKeyword(which);
        if (kind == null) {
            String kw = line.keyword(2);
            if (which != null && Keywords.TIMEOUT_UNSUPPORTED.contains(which)) {
                diag.error(line.number(), kw, Keywords.notSupported(kw));
            } else {
                diag.error(line.number(), kw, (which == null ? "expects" : "is unknown: expected")
                        + " one of connect, client, server, queue, tunnel, client-fin, server-fin, check");
            }
            return;
        }
        String value = single(line, 2, "a duration such as 5s (units: us, ms, s, m, h, d)");
        if (value == null) return;
        try {
            p.timeouts = p.timeouts.with(kind, Values.timeMs(value));
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), line.keyword(2), e.getMessage());
            return;
        }
        // As HAProxy does: say so when a timeout sits on the side that never uses it.
        if (p.kind == Kind.FRONTEND && !kind.frontendSide()) {
            diag.warn(line.number(), "'" + line.keyword(2) + "' is ignored in " + p.label()
                    + ": it applies to backends (set it in the backend or in defaults)");
        } else if (p.kind == Kind.BACKEND && kind.frontendSide()) {
            diag.warn(line.number(), "'" + line.keyword(2) + "' is ignored in " + p.label()
                    + ": it applies to frontends (set it in the frontend or in defaults)");
        }
    }

    /**
     * {@code timeout check T}: how long a health check may take once connected (its connect
     * is bounded by {@code timeout connect}); a backend's setting, ignored in a frontend with
     * HAProxy's warning.
     */
    private void timeoutCheck(ProxyDraft p, Line line) {
        String value = single(line, 2, "a duration such as 5s (units: us, ms, s, m, h, d)");
        if (value == null) return;
        long ms;
        try {
            ms = Values.timeMs(value);
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), "timeout check", e.getMessage());
            return;
        }
        if (p.kind == Kind.FRONTEND) {
            diag.warn(line.number(), "'timeout check' is ignored in " + p.label() + ": it applies to backends"
                    + " (set it in the backend or in defaults)");
            return;
        }
        p.timeoutCheckMs = ms;
    }

    /** {@code option NAME} (at word {@code at}), setting it to {@code on}. */
    private void option(ProxyDraft p, Line line, int at, boolean on) {
        String kw = line.keyword(at + 1);
        String name = line.word(at);
        if (p.optionLine == 0) p.optionLine = line.number();
        if (name == null) {
            diag.error(line.number(), kw, "expects an option name such as splice-request, splice-response or splice-auto");
            return;
        }
        boolean known = switch (name) {
            case "splice-request", "splice-response", "splice-auto", "redispatch", "tcplog", "dontlognull",
                 "allbackups", "tcp-check", "redis-check", "pgsql-check", "mysql-check" -> true;
            default -> false;
        };
        if (!known) {
            diag.error(line.number(), kw, Keywords.OPTION_UNSUPPORTED.contains(name)
                    ? Keywords.notSupported("option " + name)
                    : "is an unknown option (supported: splice-request, splice-response, splice-auto, redispatch, tcplog, dontlognull,"
                    + " allbackups, tcp-check, redis-check, pgsql-check, mysql-check)");
        } else if (name.equals("redispatch")) {
            redispatch(p, line, at, on);
        } else if (name.endsWith("-check")) {
            checkOption(p, line, at, on, name);
        } else if (line.words().size() > at + 1) {
            diag.error(line.number(), kw, "takes no argument, got '" + line.word(at + 1) + "'");
        } else {
            switch (name) {
                case "tcplog" -> logOption(p, line, kw, () -> p.logFormat = on ? LogFormat.TCPLOG : null);
                case "dontlognull" -> logOption(p, line, kw, () -> p.dontLogNull = on);
                case "allbackups" -> {
                    // as HAProxy: a backend's setting, ignored (with a warning) in a frontend
                    if (p.kind == Kind.FRONTEND) {
                        diag.warn(line.number(), "'" + kw + "' is ignored in " + p.label() + ": it applies to backends");
                    } else {
                        p.allBackups = on;
                    }
                }
                case "splice-request" -> p.splice = p.splice.withRequest(on);
                case "splice-response" -> p.splice = p.splice.withResponse(on);
                default -> p.splice = p.splice.withAuto(on);
            }
        }
    }

    /**
     * {@code option redispatch [interval]}, as in HAProxy: a positive P moves a failing connection
     * to another server on every P-th retry, a negative N on the N-th retry before the last (the
     * default, -1, is the last retry), and 0 never; {@code no option redispatch} turns it off.
     */
    private void redispatch(ProxyDraft p, Line line, int at, boolean on) {
        String kw = line.keyword(at + 1);
        List<String> args = line.args(at + 1);
        if (p.kind == Kind.FRONTEND) {
            diag.error(line.number(), kw, "is only allowed in 'defaults', 'backend' and 'listen' sections, not in '"
                    + p.kind.keyword + "'");
            return;
        }
        if (args.size() > (on ? 1 : 0)) {
            diag.error(line.number(), kw, on
                    ? "takes at most one argument (the redispatch interval), got " + args.size()
                    : "takes no argument, got '" + args.getFirst() + "'");
            return;
        }
        if (!on) {
            p.redispatchAfter = 0;
            return;
        }
        if (args.isEmpty()) {
            p.redispatchAfter = BackendConfig.REDISPATCH_ON_LAST_RETRY;
            return;
        }
        String value = args.getFirst();
        boolean negative = value.startsWith("-");
        try {
            int n = Values.integer(negative ? value.substring(1) : value, 0, Integer.MAX_VALUE);
            p.redispatchAfter = negative ? -n : n;
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), kw, "'" + value + "' is not a whole number (a retry interval such as 1, 3 or -1)");
        }
    }

    /**
     * {@code option tcp-check}, {@code option redis-check}, {@code option pgsql-check user U},
     * {@code option mysql-check user U [post-41]}: how the backend checks its servers; the last
     * such line of a section wins, as in HAProxy. A named check replaces the section's
     * {@code tcp-check} rules with its own, as in HAProxy.
     */
    private void checkOption(ProxyDraft p, Line line, int at, boolean on, String name) {
        String kw = line.keyword(at + 1);
        List<String> args = line.args(at + 1);
        if (!on) {
            diag.error(line.number(), kw, "cannot be negated (as in HAProxy): choose another check with a later 'option'");
            return;
        }
        String user = null;
        HealthCheck.Kind kind;
        switch (name) {
            case "tcp-check", "redis-check" -> {
                if (!args.isEmpty()) {
                    diag.error(line.number(), kw, "takes no argument, got '" + args.getFirst() + "'");
                    return;
                }
                kind = name.equals("tcp-check") ? HealthCheck.Kind.TCP_CHECK : HealthCheck.Kind.REDIS;
            }
            case "pgsql-check" -> {
                if (args.size() != 2 || !args.getFirst().equals("user") || args.get(1).isEmpty()) {
                    diag.error(line.number(), kw, args.size() > 2 && args.getFirst().equals("user")
                            ? "takes only 'user <username>', got '" + args.get(2) + "' after it"
                            : "expects 'user <username>' as argument");
                    return;
                }
                kind = HealthCheck.Kind.PGSQL;
                user = args.get(1);
            }
            case "mysql-check" -> {
                if (args.isEmpty()) {
                    diag.error(line.number(), kw, "without 'user <username>' is not supported by forwarder"
                            + " (its MySQL check logs in: add 'user <username>')");
                    return;
                }
                if (!args.getFirst().equals("user")) {
                    diag.error(line.number(), kw, "only supports 'user <username> [post-41]', got '" + args.getFirst() + "'");
                    return;
                }
                if (args.size() < 2 || args.get(1).isEmpty()) {
                    diag.error(line.number(), kw, "'user' expects <username> as argument");
                    return;
                }
                if (args.size() > 3 || args.size() == 3 && !args.get(2).equals("post-41")) {
                    String extra = args.get(2);
                    diag.error(line.number(), kw, extra.equals("pre-41") && args.size() == 3
                            ? "'pre-41' is not supported by forwarder (only the 4.1+ handshake, 'post-41')"
                            : "'user' only supports 'post-41' after the name, got '" + args.get(args.size() > 3 ? 3 : 2) + "'");
                    return;
                }
                kind = HealthCheck.Kind.MYSQL;
                user = args.get(1);
            }
            default -> {
                diag.error(line.number(), kw, "is an unknown option");
                return;
            }
        }
        if (p.kind == Kind.FRONTEND) {
            diag.warn(line.number(), "'" + kw + "' is ignored in " + p.label() + ": it applies to backends");
            return;
        }
        p.checkKind = kind;
        p.checkUser = user;
        if (kind != HealthCheck.Kind.TCP_CHECK) {
            p.tcpCheckRules = new java.util.ArrayList<>();
            p.tcpCheckRulesInherited = false;
        }
    }

    /** {@code tcp-check ACTION ...}: one more rule; the first own rule of a section replaces those of its defaults. */
    private void tcpCheck(ProxyDraft p, Line line) {
        List<HealthCheck.TcpCheckRule> rules = p.tcpCheckRulesInherited ? List.of() : p.tcpCheckRules;
        HealthCheck.TcpCheckRule rule;
        try {
            rule = TcpCheckRules.parse(line, rules, diag.where(line.number()));
        } catch (IllegalArgumentException e) {
            diag.errorAt(line.number(), e.getMessage());
            return;
        }
        if (p.kind == Kind.FRONTEND) {
            diag.warn(line.number(), "'tcp-check' is ignored in " + p.label() + ": it applies to backends");
            return;
        }
        if (p.tcpCheckRulesInherited) {
            p.tcpCheckRules = new java.util.ArrayList<>();
            p.tcpCheckRulesInherited = false;
        }
        p.tcpCheckRules.add(rule);
    }

    /** {@code load-server-state-from-file global|local|none}. */
    private void loadServerState(ProxyDraft p, Line line) {
        String value = line.word(1);
        ServerStateLoad.Mode mode = value == null ? null : switch (value) {
            case "global" -> ServerStateLoad.Mode.GLOBAL;
            case "local" -> ServerStateLoad.Mode.LOCAL;
            case "none" -> ServerStateLoad.Mode.NONE;
            default -> null;
        };
        if (mode == null) {
            diag.error(line.number(), line.first(), "expects 'global', 'local' or 'none', got '" + (value == null ? "" : value) + "'");
            return;
        }
        if (line.words().size() > 2) {
            diag.error(line.number(), line.first(), "takes exactly one argument ('global', 'local' or 'none'), got '"
                    + line.word(2) + "' after it");
            return;
        }
        if (p.kind == Kind.FRONTEND) {
            diag.warn(line.number(), "'" + line.first() + "' is ignored in " + p.label() + ": it applies to backends");
            return;
        }
        p.stateLoadMode = mode;
    }

    /** {@code server-state-file-name [<name>|use-backend-name]}: without a name (or with use-backend-name), the backend's name. */
    private void serverStateFileName(ProxyDraft p, Line line) {
        List<String> args = line.args(1);
        if (args.size() > 1) {
            diag.error(line.number(), line.first(), "takes at most one argument (a file name or 'use-backend-name'), got '"
                    + args.get(1) + "' after it");
            return;
        }
        if (!args.isEmpty() && args.getFirst().isEmpty()) {
            diag.error(line.number(), line.first(), "expects a file name or 'use-backend-name', got an empty word");
            return;
        }
        if (p.kind == Kind.FRONTEND) {
            diag.warn(line.number(), "'" + line.first() + "' is ignored in " + p.label() + ": it applies to backends");
            return;
        }
        p.stateFileName = args.isEmpty() || args.getFirst().equals("use-backend-name") ? null : args.getFirst();
    }

    /** {@code option tcplog} and {@code option dontlognull}: a frontend's settings, as in HAProxy. */
    private void logOption(ProxyDraft p, Line line, String kw, Runnable set) {
        if (p.kind == Kind.BACKEND) {
            diag.error(line.number(), kw, "is only allowed in 'defaults', 'frontend' and 'listen' sections, not in 'backend'");
            return;
        }
        set.run();
    }

    /**
     * {@code log global}, or {@code log ADDRESS [len N] [format F] FACILITY [MAX [MIN]]} (see
     * {@link LogLines}). Lines add up; a section inherits its defaults' lines, and {@code no log}
     * drops them all.
     */
    private void log(ProxyDraft p, Line line) {
        List<String> args = line.args(1);
        if (!args.isEmpty() && args.getFirst().equals("global")) {
            if (args.size() > 1) {
                diag.error(line.number(), "log", "'log global' takes no more argument, got '" + args.get(1) + "'");
                return;
            }
            p.logGlobal = true;
            return;
        }
        try {
            p.logs.add(LogLines.parse(args, diag.where(line.number())));
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), "log", e.getMessage());
        }
    }

    /** {@code log-format FORMAT}: one argument (quote it when it holds spaces), variables checked now. */
    private void logFormat(ProxyDraft p, Line line) {
        List<String> args = line.args(1);
        if (args.size() != 1) {
            diag.error(line.number(), "log-format", args.isEmpty() ? "expects a format, as in log-format \"%ci:%cp %ts\""
                    : "expects exactly one argument, got " + args.size() + ": quote the format or escape its spaces");
            return;
        }
        try {
            p.logFormat = LogFormat.parse(args.getFirst());
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), "log-format", e.getMessage());
        }
    }

    /** {@code no option NAME}: turns off an option, typically one inherited from defaults; {@code no log}: no log lines. */
    private void negated(ProxyDraft p, Line line) {
        String what = line.word(1);
        if ("option".equals(what)) {
            option(p, line, 2, false);
        } else if ("log".equals(what)) {
            if (line.words().size() > 2) {
                diag.error(line.number(), "no log", "takes no argument, got '" + line.word(2) + "'");
                return;
            }
            p.logs = new java.util.ArrayList<>();
            p.logGlobal = false;
        } else if (what == null) {
            diag.error(line.number(), "no", "expects 'option NAME' or 'log'");
        } else {
            diag.error(line.number(), line.keyword(2), Keywords.PROXY_UNSUPPORTED.contains(what) || handles(what)
                    ? Keywords.notSupported(line.keyword(2)) : "is unknown: only 'no option NAME' and 'no log' exist");
        }
    }

    /** The one argument after a keyword of {@code kwWords} words, or null after reporting why not. */
    private String single(Line line, int kwWords, String expected) {
        List<String> args = line.args(kwWords);
        if (args.size() == 1) return args.getFirst();
        String kw = line.keyword(kwWords);
        diag.error(line.number(), kw, args.isEmpty() ? "expects " + expected
                : "takes exactly one argument (" + expected + "), got " + args.size());
        return null;
    }

    private Integer oneNumber(Line line, int min, String expected) {
        String value = single(line, 1, expected);
        if (value == null) return null;
        try {
            return Values.integer(value, min, Integer.MAX_VALUE);
        } catch (IllegalArgumentException e) {
            diag.error(line.number(), line.first(), e.getMessage());
            return null;
        }
    }

    /** Proxy and server names use HAProxy's character set, so that they can appear in logs and commands unquoted. */
    boolean checkName(Line line, String kw, String name) {
        String bad = nameProblem(name);
        if (bad == null) return true;
        diag.error(line.number(), kw, "name '" + name + "' " + bad);
        return false;
    }

    static String nameProblem(String name) {
        if (name.isEmpty()) return "is empty";
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!(Character.isLetterOrDigit(c) && c < 128) && c != '-' && c != '_' && c != '.' && c != ':') {
                return "contains '" + c + "': use letters, digits, '-', '_', '.' and ':'";
            }
        }
        return null;
    }
}
