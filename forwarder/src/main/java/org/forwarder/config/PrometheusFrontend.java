package org.forwarder.config;

import org.forwarder.config.ProxyDraft.Kind;

import java.util.List;

/**
 * Recognises HAProxy's own Prometheus exporter frontend, the one shape of {@code mode http}
 * forwarder accepts:
 * <pre>
 * frontend prometheus
 *     bind 127.0.0.1:8405
 *     mode http
 *     http-request use-service prometheus-exporter if { path /metrics }
 *     no log
 * </pre>
 * Why only that shape: forwarder has no HTTP proxy; anything else said in {@code mode http}
 * (another path or rule, a backend behind it, {@code mode http} in defaults, a backend or a
 * listen) would be silently not done, so it is an error naming the line. The lines are noted in
 * the {@link ProxyDraft} while reading ({@link #mode}, {@link #httpRequest}) and
 * the whole is judged once the section is complete ({@link #assemble}).
 */
final class PrometheusFrontend {

    static final List<String> USE_SERVICE =
            List.of("http-request", "use-service", "prometheus-exporter", "if", "{", "path", PrometheusConfig.PATH, "}");
    private static final String SHAPE = "'" + String.join(" ", USE_SERVICE) + "'";

    private PrometheusFrontend() {}

    /** {@code mode http}: only in a frontend (judged at the end); an error elsewhere. */
    static void modeHttp(ProxyDraft p, Line line, Diagnostics diag) {
        if (p.kind == Kind.FRONTEND) {
            p.modeHttpLine = line.number();
            return;
        }
        diag.error(line.number(), "mode", "'http' is not supported: forwarder only supports 'mode tcp' (and 'mode http'"
                + " only in a 'frontend' serving the Prometheus exporter, not in '" + p.kind.keyword + "')");
    }

    /** {@code http-request ...}: only the exporter's rule, once, in a frontend. */
    static void httpRequest(ProxyDraft p, Line line, Diagnostics diag) {
        if (!line.words().equals(USE_SERVICE)) {
            diag.error(line.number(), "http-request", "is not supported: the only 'http-request' rule forwarder "
                    + "accepts is " + SHAPE + " (HAProxy's Prometheus exporter)");
        } else if (p.kind != Kind.FRONTEND) {
            diag.error(line.number(), "http-request", "is only accepted in a 'frontend' (the Prometheus exporter), "
                    + "not in '" + p.kind.keyword + "'");
        } else if (p.useServiceLine != 0) {
            diag.error(line.number(), "http-request", "is already given for " + p.label() + " at line "
                    + p.useServiceLine + ": the exporter frontend takes it once");
        } else {
            p.useServiceLine = line.number();
        }
    }

    /** {@code no log}: only in the exporter frontend (judged at the end). */
    /** Whether {@code fe} has any line of the exporter's shape, and is to be judged by {@link #assemble}. */
    static boolean claims(ProxyDraft fe) {
        return fe.modeHttpLine != 0 || fe.useServiceLine != 0;
    }

    /** The exporter {@code fe} describes, or null after reporting why it is not the accepted shape. */
    static PrometheusConfig assemble(ProxyDraft fe, Diagnostics diag) {
        boolean ok = true;
        if (fe.modeHttpLine == 0) {
            diag.error(fe.useServiceLine, "http-request", "is only accepted in the Prometheus exporter frontend, which has 'mode http': "
                    + fe.label() + " forwards in 'mode tcp'");
            return null;
        }
        if (fe.useServiceLine == 0) {
            diag.error(fe.modeHttpLine, "mode", "'http' is only accepted for HAProxy's Prometheus exporter: "
                    + fe.label() + " needs " + SHAPE + " (forwarder does not proxy HTTP)");
            ok = false;
        }
        if (fe.defaultBackend != null) {
            diag.error(fe.defaultBackendLine, "default_backend", "backend '" + fe.defaultBackend + "' cannot be used by "
                    + fe.label() + ", which serves the Prometheus exporter ('mode http' at line " + fe.modeHttpLine
                    + "): the exporter frontend has no backend");
            ok = false;
        }
        if (fe.optionLine != 0) {
            diag.error(fe.optionLine, "option", "is not accepted in " + fe.label()
                    + ", which serves the Prometheus exporter ('mode http' at line " + fe.modeHttpLine + ")");
            ok = false;
        }
        if (fe.binds.isEmpty()) {
            if (!fe.brokenBind) {
                diag.errorAt(fe.line, "'frontend' section '" + fe.name + "' has no 'bind' line: it would not listen anywhere");
            }
            ok = false;
        }
        if (!ok) return null;
        return new PrometheusConfig(fe.name, diag.where(fe.line), fe.binds,
                fe.maxconn > 0 ? fe.maxconn : PrometheusConfig.DEFAULT_MAXCONN,
                fe.timeouts.clientMs() > 0 ? fe.timeouts.clientMs() : PrometheusConfig.DEFAULT_TIMEOUT_MS);
    }
}
