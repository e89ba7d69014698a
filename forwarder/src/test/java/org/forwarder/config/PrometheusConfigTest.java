package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HAProxy's Prometheus exporter frontend is accepted word for word; every other use of mode http is an error at its line. */
class PrometheusConfigTest {

    private static final String TCP = """
            defaults
                mode tcp
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend fe
                bind 127.0.0.1:18001
                default_backend be
            backend be
                server s 127.0.0.1:18002
            """; // 10 lines

    private static final String EXPORTER = """
            frontend prometheus
                bind 127.0.0.1:8405
                mode http
                http-request use-service prometheus-exporter if { path /metrics }
                no log
            """; // lines 11-15 after TCP

    @Test
    void haproxysExporterFrontendIsAccepted() throws ConfigException {
        Config c = ConfigParser.parse(TCP + EXPORTER, "p.cfg");
        assertEquals(1, c.prometheus().size());
        PrometheusConfig p = c.prometheus().getFirst();
        assertEquals("prometheus", p.name());
        assertEquals("p.cfg:11", p.where());
        assertEquals("127.0.0.1:8405", p.binds().getFirst().address().toString());
        assertEquals(5000, p.timeoutMs(), "timeout client of the section (here from defaults)");
        assertEquals(PrometheusConfig.DEFAULT_MAXCONN, p.maxconn());
        // not a forwarding frontend
        assertEquals(List.of("fe"), c.frontends().stream().map(FrontendConfig::name).toList());
    }

    @Test
    void maxconnAndTimeoutOfTheSectionApply() throws ConfigException {
        Config c = ConfigParser.parse(TCP + EXPORTER + "    maxconn 3\n    timeout client 2s\n", "p.cfg");
        assertEquals(3, c.prometheus().getFirst().maxconn());
        assertEquals(2000, c.prometheus().getFirst().timeoutMs());
    }

    @Test
    void exampleParses() throws ConfigException {
        Config c = ConfigParser.parse(TestFiles.etc().resolve("examples/prometheus.cfg"));
        assertEquals("prometheus", c.prometheus().getFirst().name());
    }

    @Test
    void fdBudgetCountsTheExporter() throws ConfigException {
        Config with = ConfigParser.parse(TCP + EXPORTER, "p.cfg");
        Config without = ConfigParser.parse(TCP, "p.cfg");
        assertEquals(FdBudget.needed(without) + 1 + PrometheusConfig.DEFAULT_MAXCONN, FdBudget.needed(with));
    }

    private static String error(String text) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(text, "p.cfg"));
        return e.getMessage();
    }

    private static void rejected(String text, String expected) {
        String m = error(text);
        assertTrue(m.contains(expected), () -> "expected\n  " + expected + "\nin\n  " + m);
    }

    @Test
    void anotherPathIsAnError() {
        rejected(TCP + EXPORTER.replace("path /metrics", "path /stats"),
                "p.cfg:14: 'http-request' is not supported: the only 'http-request' rule forwarder accepts is "
                        + "'http-request use-service prometheus-exporter if { path /metrics }'");
    }

    @Test
    void anotherHttpRequestRuleIsAnError() {
        rejected(TCP + EXPORTER + "    http-request deny\n", "p.cfg:16: 'http-request' is not supported");
        rejected(TCP + EXPORTER + "    http-request use-service prometheus-exporter if { path /metrics }\n",
                "p.cfg:16: 'http-request' is already given for frontend 'prometheus' at line 14");
    }

    @Test
    void modeHttpWithoutTheServiceIsAnError() {
        rejected(TCP + EXPORTER.replace("    http-request use-service prometheus-exporter if { path /metrics }\n", ""),
                "p.cfg:13: 'mode' 'http' is only accepted for HAProxy's Prometheus exporter: frontend 'prometheus' needs");
    }

    @Test
    void modeHttpWithABackendIsAnError() {
        rejected(TCP + EXPORTER + "    default_backend be\n",
                "p.cfg:16: 'default_backend' backend 'be' cannot be used by frontend 'prometheus', which serves the "
                        + "Prometheus exporter");
        // inherited from defaults, as HAProxy refuses a tcp backend behind an http frontend
        rejected(TCP.replace("    mode tcp\n", "    mode tcp\n    default_backend be\n") + EXPORTER,
                "p.cfg:3: 'default_backend' backend 'be' cannot be used by frontend 'prometheus'");
    }

    @Test
    void modeHttpInDefaultsBackendOrListenIsAnError() {
        rejected(TCP.replace("    mode tcp\n", "    mode http\n"),
                "p.cfg:2: 'mode' 'http' is not supported: forwarder only supports 'mode tcp' (and 'mode http' only in a"
                        + " 'frontend' serving the Prometheus exporter, not in 'defaults')");
        rejected(TCP + "    mode http\n", "p.cfg:11: 'mode' 'http' is not supported");
        rejected(TCP + "listen l\n    bind 127.0.0.1:18003\n    mode http\n    server s 127.0.0.1:1\n",
                "p.cfg:13: 'mode' 'http' is not supported: forwarder only supports 'mode tcp' (and 'mode http' only in a"
                        + " 'frontend' serving the Prometheus exporter, not in 'listen')");
    }

    @Test
    void theServiceInATcpFrontendIsAnError() {
        // 'no log' is a logging keyword of every section (see LogConfigTest); the rule is the exporter's alone
        rejected(TCP.replace("    default_backend be\n",
                        "    default_backend be\n    http-request use-service prometheus-exporter if { path /metrics }\n"),
                "p.cfg:9: 'http-request' is only accepted in the Prometheus exporter frontend");
    }

    @Test
    void optionsInTheExporterAreAnError() {
        rejected(TCP + EXPORTER + "    option splice-auto\n", "p.cfg:16: 'option' is not accepted in frontend 'prometheus'");
    }

    @Test
    void exporterWithoutBindIsAnError() {
        rejected(TCP + EXPORTER.replace("    bind 127.0.0.1:8405\n", ""),
                "p.cfg:11: 'frontend' section 'prometheus' has no 'bind' line");
    }

    @Test
    void exporterAloneHasNothingToForward() {
        rejected(EXPORTER, "no 'listen' or 'frontend' section: there is nothing to forward");
    }

    @Test
    void exporterBindClashingWithAForwardingBindIsAnError() {
        rejected(TCP + EXPORTER.replace("8405", "18001"), "p.cfg:12: 'bind' address 127.0.0.1:18001 is already bound at p.cfg:7");
    }
}
