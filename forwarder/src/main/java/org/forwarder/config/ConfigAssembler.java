package org.forwarder.config;

import org.forwarder.config.ProxyDraft.Kind;
import org.forwarder.sys.SockAddr;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks what no single line can: names unique, every frontend bound and wired to an existing
 * backend with servers, no address bound twice. Then builds the immutable Config and adds the
 * warnings about missing timeouts.
 */
final class ConfigAssembler {

    private final Diagnostics diag;

    ConfigAssembler(Diagnostics diag) {
        this.diag = diag;
    }

    /** The Config for these drafts, or null if any error was found (the errors are in the Diagnostics). */
    Config assemble(GlobalConfig global, List<ProxyDraft> proxies) {
        if (proxies.stream().noneMatch(p -> p.kind.frontend && !PrometheusFrontend.claims(p))) {
            // Like HAProxy, refuse to start a process that would not listen anywhere.
            diag.errorAt(0, "no 'listen' or 'frontend' section: there is nothing to forward");
        }
        Map<String, ProxyDraft> frontends = unique(proxies, true);
        Map<String, ProxyDraft> backends = unique(proxies, false);
        Map<String, String> backendOf = new LinkedHashMap<>();
        List<PrometheusConfig> exporters = new ArrayList<>();
        for (ProxyDraft fe : frontends.values()) {
            if (PrometheusFrontend.claims(fe)) {
                PrometheusConfig p = PrometheusFrontend.assemble(fe, diag);
                if (p != null) exporters.add(p);
                continue;
            }
            String be = wire(fe, backends);
            if (be != null) backendOf.put(fe.name, be);
        }
        for (ProxyDraft be : backends.values()) {
            if (be.servers.isEmpty() && !be.brokenServer && backendOf.containsValue(be.name)) {
                diag.errorAt(be.line, "'" + be.kind.keyword + "' section '" + be.name + "' has no 'server' line, but "
                        + "frontend '" + firstUser(backendOf, be.name) + "' sends its connections there");
            }
        }
        checkBindsDistinct(frontends.values());
        for (ProxyDraft p : proxies) {
            if (!p.broken) warnMissingTimeouts(p);
        }
        for (ProxyDraft p : proxies) {
            if (!p.broken && p.kind.frontend && p.logFormat != null && p.logs.isEmpty()
                    && (!p.logGlobal || global.logs().targets().isEmpty())) {
                // as HAProxy: a log format with nowhere to send the lines
                diag.warn(p.line, "log format ignored for " + p.label() + " since it has no log address"
                        + (p.logGlobal ? " ('log global' but no 'log' line in 'global')" : " (add 'log global' or a 'log' line)"));
            }
        }
        for (ProxyDraft p : proxies) {
            if (!p.broken && p.kind.backend && !p.tcpCheckRules.isEmpty() && p.checkKind != HealthCheck.Kind.TCP_CHECK) {
                // as HAProxy
                diag.warn(p.line, "proxy '" + p.name + "' uses tcp-check rules without 'option tcp-check', so the rules are ignored");
            }
        }
        if (global.noSplice() && proxies.stream().anyMatch(p -> p.splice.any())) {
            diag.warn(0, "global 'nosplice' is set: the 'option splice-*' lines have no effect");
        }
        if (diag.hasErrors()) return null;

        List<FrontendConfig> fes = new ArrayList<>();
        for (ProxyDraft fe : frontends.values()) {
            if (PrometheusFrontend.claims(fe)) continue;
            fes.add(new FrontendConfig(fe.name, diag.where(fe.line), fe.binds, backendOf.get(fe.name),
                    fe.maxconn == 0 ? global.maxconn() : fe.maxconn, fe.timeouts, fe.splice, logSettings(fe, global)));
        }
        Map<String, BackendConfig> bes = new LinkedHashMap<>();
        for (ProxyDraft be : backends.values()) {
            bes.put(be.name, new BackendConfig(be.name, diag.where(be.line), be.balance,
                    List.copyOf(be.servers.values()), be.timeouts, be.retries, be.splice, be.redispatchAfter,
                    healthCheck(be), new ServerStateLoad(be.stateLoadMode, be.stateFileName)));
        }
        return new Config(global, fes, bes, diag.warnings(), exporters);
    }

    /** {@code be}'s check; tcp-check rules without {@code option tcp-check} are dropped (warned about before). */
    private static HealthCheck healthCheck(ProxyDraft be) {
        List<HealthCheck.TcpCheckRule> rules = be.checkKind == HealthCheck.Kind.TCP_CHECK ? be.tcpCheckRules : List.of();
        return new HealthCheck(be.checkKind, be.checkUser, rules, be.timeoutCheckMs, be.allBackups);
    }

    /** {@code fe}'s log lines ('log global' expanded to the global ones) and format. */
    private static LogSettings logSettings(ProxyDraft fe, GlobalConfig global) {
        List<LogTarget> targets = new ArrayList<>();
        if (fe.logGlobal) targets.addAll(global.logs().targets());
        targets.addAll(fe.logs);
        return new LogSettings(targets, fe.logFormat, fe.dontLogNull);
    }

    /** The frontend-side (or backend-side) proxies by name; a second proxy with a taken name is an error. */
    private Map<String, ProxyDraft> unique(List<ProxyDraft> proxies, boolean frontendSide) {
        Map<String, ProxyDraft> byName = new LinkedHashMap<>();
        String side = frontendSide ? "frontend" : "backend";
        for (ProxyDraft p : proxies) {
            if (p.broken || (frontendSide ? !p.kind.frontend : !p.kind.backend)) continue;
            ProxyDraft first = byName.putIfAbsent(p.name, p);
            if (first != null) {
                diag.error(p.line, p.kind.keyword, "name '" + p.name + "' is already used by the " + side + " declared at "
                        + diag.where(first.line) + " (" + first.kind.keyword + " '" + first.name + "')");
            }
        }
        return byName;
    }

    /** The backend {@code fe} sends to, after checking it has binds and that backend exists; null if not. */
    private String wire(ProxyDraft fe, Map<String, ProxyDraft> backends) {
        if (fe.binds.isEmpty() && !fe.brokenBind) {
            diag.errorAt(fe.line, "'" + fe.kind.keyword + "' section '" + fe.name
                    + "' has no 'bind' line: it would not listen anywhere");
        }
        if (fe.defaultBackend == null) {
            if (fe.kind == Kind.LISTEN) return fe.name;
            diag.errorAt(fe.line, "'frontend' section '" + fe.name
                    + "' has no backend: add 'default_backend NAME' (here or in a defaults section)");
            return null;
        }
        ProxyDraft be = backends.get(fe.defaultBackend);
        if (be == null) {
            diag.error(fe.defaultBackendLine, "default_backend", "backend '" + fe.defaultBackend
                    + "' (used by " + fe.label() + ") does not exist");
            return null;
        }
        return be.name;
    }

    private static String firstUser(Map<String, String> backendOf, String backend) {
        for (Map.Entry<String, String> e : backendOf.entrySet()) {
            if (e.getValue().equals(backend)) return e.getKey();
        }
        return "?";
    }

    /**
     * Two listeners on one address would fail at bind time; say where both are declared now. One
     * error per bind line: a repeated port range would otherwise give one per port.
     */
    private void checkBindsDistinct(Iterable<ProxyDraft> frontends) {
        Map<SockAddr, String> seen = new HashMap<>();
        Map<String, String> firstClash = new LinkedHashMap<>();   // bind line -> its first clash
        Map<String, Integer> moreClashes = new HashMap<>();
        for (ProxyDraft fe : frontends) {
            for (BindConfig b : fe.binds) {
                if (b.address().port() == 0) continue; // the kernel picks a distinct port for each
                String first = seen.putIfAbsent(b.address(), b.where());
                if (first == null) continue;
                if (firstClash.putIfAbsent(b.where(), "'bind' address " + b.address() + " is already bound at " + first) != null) {
                    moreClashes.merge(b.where(), 1, Integer::sum);
                }
            }
        }
        firstClash.forEach((where, clash) -> {
            Integer more = moreClashes.get(where);
            diag.errorAt(lineOf(where), clash + (more == null ? "" : " (and " + more + " more of this line's addresses are bound twice)"));
        });
    }

    private static int lineOf(String where) {
        int colon = where.lastIndexOf(':');
        try {
            return Integer.parseInt(where.substring(colon + 1));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * HAProxy warns when a proxy lacks the timeouts that bound its connections; without them a
     * vanished peer holds a connection (and its fds) until TCP keepalive or forever.
     */
    private void warnMissingTimeouts(ProxyDraft p) {
        if (p.kind == Kind.DEFAULTS) return;
        if (p.kind.backend && p.timeouts.connectMs() == 0) {
            diag.warn(p.line, "proxy '" + p.name + "' has no 'timeout connect': a connection attempt to an unreachable server"
                    + " may hang until the kernel gives up");
        }
        if (p.kind.frontend && p.timeouts.clientMs() == 0) {
            diag.warn(p.line, "proxy '" + p.name + "' has no 'timeout client': connections may stay open forever");
        }
        if (p.kind.backend && p.timeouts.serverMs() == 0) {
            diag.warn(p.line, "proxy '" + p.name + "' has no 'timeout server': connections may stay open forever");
        }
    }
}
