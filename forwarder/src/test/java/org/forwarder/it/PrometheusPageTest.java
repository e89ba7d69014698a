package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exporter answers as HAProxy 2.6.12 does where the review found differences (an empty line before the request line), and a busy page passes promtool without duplicates. */
class PrometheusPageTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    private int port;

    private void start(String timeout) throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, Peers.oneServer(echo.port(), timeout) + """
                frontend prometheus
                    bind 127.0.0.1:0
                    mode http
                    http-request use-service prometheus-exporter if { path /metrics }
                    no log
                """);
        port = fw.fw.metricsAddresses().getFirst().port();
    }

    private Socket client() throws IOException {
        Socket s = cleanup.add(new Socket());
        Peers.connect(s, port);
        s.setSoTimeout(5_000);
        return s;
    }

    /** RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line; HAProxy 2.6.12 answers 200. */
    @Test
    void emptyLineBeforeTheRequestLine() throws Exception {
        start("10s");
        Socket s = client();
        PrometheusTest.Answer a = PrometheusTest.request(s, "\r\nGET /metrics?scope=global HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 200 OK", a.status());
    }

    /** A client that trickles one byte every 400 ms with timeout client 1s: the head is never complete. */
    @Test
    void complexPagePassesPromtoolWithoutDuplicates() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, "global\n    nbthread 2\n" + Peers.defaults("10s") + """
                listen l.x-1
                    bind 127.0.0.1:0
                    balance roundrobin
                    server s1 127.0.0.1:%d maxconn 3
                    server s2 127.0.0.1:%d
                    server s3 127.0.0.1:%d
                frontend fe_only
                    bind 127.0.0.1:0
                    default_backend be
                backend be
                    server a 127.0.0.1:%d
                frontend prometheus
                    bind 127.0.0.1:0
                    mode http
                    http-request use-service prometheus-exporter if { path /metrics }
                    no log
                """.formatted(echo.port(), echo.port(), echo.port(), echo.port()));
        port = fw.fw.metricsAddresses().getFirst().port();
        Socket s = client();
        PrometheusTest.Answer a = PrometheusTest.request(s, "GET /metrics HTTP/1.1\r\n\r\n");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String line : a.body().split("\n")) {
            if (line.startsWith("#") || line.isEmpty()) continue;
            String key = line.substring(0, line.lastIndexOf(' '));
            assertTrue(seen.add(key), "duplicate series " + key);
        }
        PrometheusTest.promtool(a.body());
    }
}
