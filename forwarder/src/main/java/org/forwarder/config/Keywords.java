package org.forwarder.config;

import java.util.Map;
import java.util.Set;

/**
 * Names that HAProxy understands but forwarder does not implement. Knowing them lets the parser
 * say "not supported by forwarder" (the user's file is fine for HAProxy) instead of "unknown
 * keyword" (probably a typo), and give a hint where one helps.
 */
final class Keywords {

    private Keywords() {}

    /** Section headers other than global, defaults, listen, frontend and backend. */
    static final Set<String> OTHER_SECTIONS = Set.of(
            "userlist", "peers", "resolvers", "mailers", "program", "http-errors", "ring", "cache",
            "fcgi-app", "log-forward", "crt-store", "traces", "acme", "namespace_list");

    static final Set<String> GLOBAL_UNSUPPORTED = Set.of(
            "log-send-hostname", "daemon", "master-worker", "mworker-max-reloads", "user",
            "group", "uid", "gid", "chroot", "pidfile", "nbproc", "ulimit-n", "node",
            "description", "quiet", "debug", "zero-warning", "noepoll", "nopoll", "noreuseport",
            "nogetaddrinfo", "maxconnrate", "maxsessrate", "maxsslconn", "maxsslrate", "maxcomprate",
            "maxcompcpuusage", "maxzlibmem", "hard-stop-after", "grace", "lua-load", "lua-prepend-path",
            "setenv", "presetenv", "resetenv", "unsetenv", "localpeer", "external-check", "insecure-fork-wanted", "h1-case-adjust",
            "h1-case-adjust-file", "busy-polling", "expose-experimental-directives", "spread-checks",
            "max-spread-checks", "ca-base", "crt-base", "default-path", "set-dumpable", "strict-limits",
            "thread-groups", "thread-group", "cluster-secret", "fd-hard-limit", "numa-cpu-mapping",
            "profiling.tasks", "unix-bind", "ssl-server-verify", "ssl-engine", "ssl-mode-async",
            "issuers-chain-path", "deviceatlas-json-file", "51degrees-data-file", "wurfl-data-file");

    /** Prefixes of global keyword families (tune.*, ssl-*) where only a few members are supported. */
    static final Set<String> GLOBAL_UNSUPPORTED_PREFIXES = Set.of("tune.", "ssl-", "httpclient.", "ocsp-update.");

    static final Set<String> PROXY_UNSUPPORTED = Set.of(
            "acl", "use_backend", "use-server", "tcp-request", "tcp-response",
            "http-response", "http-after-response", "http-check", "http-reuse", "http-error",
            "stats", "capture", "errorfile", "errorfiles", "errorloc", "errorloc302", "errorloc303",
            "description", "id", "disabled", "enabled", "fullconn", "hash-type", "hash-balance-factor",
            "server-template", "cookie", "stick-table", "stick", "persist",
            "force-persist", "ignore-persist", "source", "monitor-uri", "monitor", "redirect", "rate-limit",
            "dispatch", "unique-id-format", "unique-id-header", "log-format-sd",
            "error-log-format", "log-tag", "log-steps", "backlog", "email-alert", "declare", "filter",
            "compression", "external-check",
            "bind-process", "grace", "max-keep-alive-queue", "guid", "dynamic-cookie-key",
            "http-send-name-header", "retry-on", "srvtcpka-cnt", "srvtcpka-idle", "srvtcpka-intvl",
            "clitcpka-cnt", "clitcpka-idle", "clitcpka-intvl", "default", "contimeout", "clitimeout",
            "srvtimeout", "redispatch");

    static final Set<String> OPTION_UNSUPPORTED = Set.of(
            "httplog", "httpslog", "dontlog-normal", "log-separate-errors",
            "logasap", "log-health-checks", "forwardfor", "originalto", "http-server-close",
            "httpclose", "http-keep-alive", "forceclose", "http-pretend-keepalive", "http-no-delay",
            "http-buffer-request", "http-use-proxy-header", "http-ignore-probes",
            "http-restrict-req-hdr-names", "httpchk", "ssl-hello-chk",
            "smtpchk", "ldap-check", "spop-check", "external-check", "tcpka",
            "clitcpka", "srvtcpka", "abortonclose", "independent-streams", "nolinger",
            "persist", "prefer-last-server", "socket-stats", "transparent", "contstats",
            "accept-invalid-http-request", "accept-invalid-http-response", "checkcache", "tcp-smart-accept",
            "tcp-smart-connect", "disable-h2-upgrade", "idle-close-on-response", "h1-case-adjust-bogus-client",
            "h1-case-adjust-bogus-server", "http-drop-request-trailers", "http-drop-response-trailers",
            "accept-unsafe-violations-in-http-request", "accept-unsafe-violations-in-http-response");

    static final Set<String> TIMEOUT_UNSUPPORTED = Set.of("http-request", "http-keep-alive", "tarpit", "client-hs");

    static final Set<String> SERVER_OPTION_UNSUPPORTED = Set.of(
            "send-proxy", "send-proxy-v2", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "proxy-v2-options",
            "ssl", "verify", "verifyhost", "sni", "ca-file", "crt", "alpn", "npn", "check-ssl", "check-sni",
            "no-check-ssl", "resolvers", "resolve-prefer", "resolve-net", "resolve-opts", "init-addr", "cookie",
            "id", "agent-check", "agent-port", "agent-inter", "agent-addr", "agent-send",
            "track", "source", "usesrc", "maxqueue", "minconn", "redir", "tfo", "namespace", "proto",
            "pool-max-conn", "pool-purge-delay", "max-reuse", "tcp-ut", "set-proxy-v2-tlv-fmt", "guid",
            "check-proto", "check-send-proxy", "no-tls-tickets", "ciphers", "ciphersuites", "ws");

    static final Set<String> BIND_OPTION_UNSUPPORTED = Set.of(
            "v4v6", "v6only", "transparent", "interface", "namespace", "name", "id", "nice", "process",
            "thread", "backlog", "maxconn", "mss", "tfo", "defer-accept", "accept-proxy", "accept-netscaler-cip",
            "ssl", "crt", "crt-list", "ca-file", "verify", "alpn", "npn", "strict-sni", "ciphers",
            "ciphersuites", "tcp-ut", "mode", "uid", "gid", "user", "group", "level", "severity-output",
            "expose-fd", "idle-ping", "quic-cc-algo", "quic-force-retry", "shards", "label", "guid-prefix");

    static final Set<String> BALANCE_UNSUPPORTED = Set.of(
            "static-rr", "first", "source", "uri", "url_param", "hdr", "random", "rdp-cookie", "hash",
            "sticky");

    /** Extra advice for unsupported keywords whose purpose has another answer in forwarder. */
    private static final Map<String, String> HINTS = Map.ofEntries(
            Map.entry("daemon", "run it in the foreground under a service manager"),
            Map.entry("master-worker", "run it in the foreground under a service manager"),
            Map.entry("user", "start forwarder as the user it should run as"),
            Map.entry("group", "start forwarder as the user it should run as"),
            Map.entry("uid", "start forwarder as the user it should run as"),
            Map.entry("gid", "start forwarder as the user it should run as"),
            Map.entry("chroot", "use the service manager's sandboxing instead"),
            Map.entry("ulimit-n", "forwarder raises the soft open-file limit itself when maxconn needs it"),
            Map.entry("nbproc", "forwarder runs as a single process"),
            Map.entry("option httplog", "forwarder only supports 'mode tcp'"),
            Map.entry("use_backend", "use 'default_backend'"));

    /** "is not supported by forwarder" plus a hint when one is known for {@code keyword}. */
    static String notSupported(String keyword) {
        String hint = HINTS.get(keyword);
        return "is not supported by forwarder" + (hint == null ? "" : " (" + hint + ")");
    }

    static boolean globalUnsupported(String keyword) {
        if (GLOBAL_UNSUPPORTED.contains(keyword)) return true;
        for (String prefix : GLOBAL_UNSUPPORTED_PREFIXES) {
            if (keyword.startsWith(prefix) && keyword.length() > prefix.length()) return true;
        }
        return false;
    }
}
