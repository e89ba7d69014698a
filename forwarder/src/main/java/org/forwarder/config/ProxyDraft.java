package org.forwarder.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The mutable state of one {@code defaults}, {@code listen}, {@code frontend} or {@code backend}
 * section while its lines are read. A new proxy starts as a copy of the defaults in effect,
 * which is how HAProxy's inheritance works: later changes to that defaults section do not reach
 * proxies already started.
 */
final class ProxyDraft {

    enum Kind {
        DEFAULTS("defaults", false, false), FRONTEND("frontend", true, false),
        BACKEND("backend", false, true), LISTEN("listen", true, true);

        final String keyword;
        final boolean frontend;
        final boolean backend;

        Kind(String keyword, boolean frontend, boolean backend) {
            this.keyword = keyword;
            this.frontend = frontend;
            this.backend = backend;
        }

        static Kind fromKeyword(String word) {
            for (Kind k : values()) {
                if (k.keyword.equals(word)) return k;
            }
            return null;
        }
    }

    final Kind kind;
    final String name;
    final int line;

    /** Set when the section header was unusable: its lines are still checked, but it yields no proxy. */
    boolean broken;
    /** Set when a bind or server line failed, so "no bind"/"no server" would only repeat that error. */
    boolean brokenBind;
    boolean brokenServer;

    Timeouts timeouts = Timeouts.NONE;
    SpliceOptions splice = SpliceOptions.NONE;
    Balance balance = Balance.ROUNDROBIN;
    int retries = BackendConfig.DEFAULT_RETRIES;
    /** {@code option redispatch [interval]}: 0 = off, else HAProxy's interval (-1 = on the last retry). */
    int redispatchAfter;
    int maxconn;                       // 0 = not set: the global maxconn applies
    String defaultBackend;             // null = not set
    int defaultBackendLine;
    /** {@code log} lines of this section (or inherited), and whether {@code log global} adds the global ones. */
    List<LogTarget> logs = new ArrayList<>();
    boolean logGlobal;
    /** {@code option tcplog} or {@code log-format}: the line written per connection; null = none. */
    LogFormat logFormat;
    boolean dontLogNull;
    final List<BindConfig> binds = new ArrayList<>();
    /** Lines of the Prometheus exporter's shape in this section, 0 = absent (see PrometheusFrontend). */
    int modeHttpLine;
    int useServiceLine;
    /** The first {@code option} or {@code no option} line of this section itself, 0 = none. */
    int optionLine;
    final Map<String, ServerConfig> servers = new LinkedHashMap<>();
    /** What {@code default-server} lines have set: where this section's servers start from. */
    ServerOptions defaultServer = new ServerOptions();
    /** {@code timeout check}, 0 = not set. */
    long timeoutCheckMs;
    /** {@code option allbackups}. */
    boolean allBackups;
    /** The last {@code option tcp-check|redis-check|pgsql-check|mysql-check} (HAProxy: the last one wins). */
    HealthCheck.Kind checkKind = HealthCheck.Kind.CONNECT;
    String checkUser;
    /** {@code tcp-check} rules in order; when copied from defaults, this section's first own rule replaces them all. */
    List<HealthCheck.TcpCheckRule> tcpCheckRules = new ArrayList<>();
    boolean tcpCheckRulesInherited;
    /** {@code load-server-state-from-file} and {@code server-state-file-name}. */
    ServerStateLoad.Mode stateLoadMode = ServerStateLoad.Mode.NONE;
    String stateFileName;

    /** The built-in defaults, in effect before any {@code defaults} section. */
    ProxyDraft() {
        this(Kind.DEFAULTS, "", 0);
    }

    private ProxyDraft(Kind kind, String name, int line) {
        this.kind = kind;
        this.name = name;
        this.line = line;
    }

    /** A new section inheriting everything a {@code defaults} section can set from {@code from}. */
    ProxyDraft(Kind kind, String name, int line, ProxyDraft from) {
        this(kind, name, line);
        timeouts = from.timeouts;
        splice = from.splice;
        balance = from.balance;
        retries = from.retries;
        redispatchAfter = from.redispatchAfter;
        maxconn = from.maxconn;
        logs = new ArrayList<>(from.logs);
        logGlobal = from.logGlobal;
        logFormat = from.logFormat;
        dontLogNull = from.dontLogNull;
        defaultServer = from.defaultServer.copy();
        timeoutCheckMs = from.timeoutCheckMs;
        allBackups = from.allBackups;
        checkKind = from.checkKind;
        checkUser = from.checkUser;
        tcpCheckRules = new ArrayList<>(from.tcpCheckRules);
        tcpCheckRulesInherited = !tcpCheckRules.isEmpty();
        stateLoadMode = from.stateLoadMode;
        stateFileName = from.stateFileName;
        // A listen section serves its own servers; only a pure frontend (or a defaults chained
        // to another defaults) takes default_backend from the defaults.
        if (kind != Kind.LISTEN) {
            defaultBackend = from.defaultBackend;
            defaultBackendLine = from.defaultBackendLine;
        }
    }

    /** The section as named in messages, e.g. {@code listen 'web'}. */
    String label() {
        return kind.keyword + " '" + name + "'";
    }
}
