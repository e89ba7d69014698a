package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The exporter's HTTP/1.x, answered as HAProxy 2.6.12 answers for its exporter frontend: 200 on
 * /metrics (HEAD without body), 503 with the connection kept on another path, 400 and close for
 * what is not an HTTP/1.x request or a head over the bound, close for HTTP/1.0 and
 * {@code Connection: close}; pipelined requests answered in order; the idle timeout and maxconn;
 * every fd back after the stop.
 */
class PrometheusHttpTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private Fw fw;
    private int port;

    private void start(String exporterSettings) throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        fw = Peers.startText(cleanup, Peers.oneServer(echo.port(), "10s") + """
                frontend prometheus
                    bind 127.0.0.1:0
                    mode http
                    http-request use-service prometheus-exporter if { path /metrics }
                    no log
                """ + exporterSettings);
        port = fw.fw.metricsAddresses().getFirst().port();
    }

    private Socket client() throws IOException {
        Socket s = cleanup.add(new Socket());
        Peers.connect(s, port);
        s.setSoTimeout(5_000);
        return s;
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
    }

    /** True when the peer closed (EOF) within the socket's read timeout. */
    private static boolean closedByPeer(Socket s) throws IOException {
        try {
            return s.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }

    @Test
    void otherPathIs503AndTheConnectionStays() throws Exception {
        start("");
        Socket s = client();
        PrometheusTest.Answer a = PrometheusTest.request(s, "GET /stats HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 503 Service Unavailable", a.status());
        assertTrue(a.body().contains("No server is available to handle this request."), a.body());
        PrometheusTest.Answer b = PrometheusTest.request(s, "GET /metrics HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 200 OK", b.status());
    }

    @Test
    void headHasNoBody() throws Exception {
        start("");
        Socket s = client();
        PrometheusTest.Answer a = PrometheusTest.request(s, "HEAD /metrics HTTP/1.1\r\n\r\n");
        assertEquals("HTTP/1.1 200 OK", a.status());
        assertTrue(Integer.parseInt(a.headers().get("content-length")) > 1000);
        // the next answer starts right away: no body bytes were sent for HEAD
        assertEquals("HTTP/1.1 200 OK", PrometheusTest.request(s, "GET /metrics HTTP/1.1\r\n\r\n").status());
    }

    @Test
    void http10AndConnectionCloseClose() throws Exception {
        start("");
        Socket s = client();
        PrometheusTest.Answer a = PrometheusTest.request(s, "GET /metrics HTTP/1.0\r\n\r\n");
        assertEquals("close", a.headers().get("connection"));
        assertTrue(closedByPeer(s));

        Socket k = client();
        PrometheusTest.Answer b = PrometheusTest.request(k, "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assertEquals("keep-alive", b.headers().get("connection"));
        assertEquals("HTTP/1.1 200 OK", PrometheusTest.request(k, "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n").status());
        assertTrue(closedByPeer(k));
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        start("");
        Socket s = client();
        send(s, "GET /nope HTTP/1.1\r\n\r\nGET /metrics?scope=frontend HTTP/1.1\r\n\r\nGET /metrics?scope=server HTTP/1.1\r\nConnection: close\r\n\r\n");
        InputStream in = s.getInputStream();
        assertEquals("HTTP/1.1 503 Service Unavailable", PrometheusTest.read(in, false).status());
        PrometheusTest.Answer fe = PrometheusTest.read(in, false);
        assertTrue(fe.body().contains("haproxy_frontend_bytes_in_total{proxy=\"l\"}"), fe.body());
        assertFalse(fe.body().contains("haproxy_server_"), "scope=frontend only");
        assertFalse(fe.body().contains("haproxy_process_"), "scope=frontend only");
        PrometheusTest.Answer sv = PrometheusTest.read(in, false);
        assertTrue(sv.body().contains("haproxy_server_bytes_in_total{proxy=\"l\",server=\"s\"}"), sv.body());
        assertFalse(sv.body().contains("haproxy_frontend_"), "scope=server only");
        assertTrue(closedByPeer(s));
    }

    @Test
    void scopesWithNothingOfOursGiveAnEmptyPage() throws Exception {
        start("");
        Socket s = client();
        for (String q : new String[]{"scope=", "scope=listener", "scope=sticktable"}) {
            PrometheusTest.Answer a = PrometheusTest.request(s, "GET /metrics?" + q + " HTTP/1.1\r\n\r\n");
            assertEquals("HTTP/1.1 200 OK", a.status(), q);
            assertEquals("", a.body(), q);
        }
        PrometheusTest.Answer all = PrometheusTest.request(s, "GET /metrics?no-maint&scope=* HTTP/1.1\r\n\r\n");
        assertTrue(all.body().contains("haproxy_process_nbthread ") && all.body().contains("haproxy_server_status{"), all.body());
    }

    @Test
    void badRequestsGet400AndClose() throws Exception {
        start("");
        for (String bad : new String[]{"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics?scope=bogus HTTP/1.1\r\n\r\n",
                "GET /metrics HTTP/1.1\r\nbad header\r\n\r\n"}) {
            Socket s = client();
            PrometheusTest.Answer a = PrometheusTest.request(s, bad);
            assertEquals("HTTP/1.1 400 Bad request", a.status(), bad);
            assertEquals("close", a.headers().get("connection"));
            assertTrue(closedByPeer(s), bad);
        }
    }

    @Test
    void aHeadOverTheBoundGets400() throws Exception {
        start("");
        Socket s = client();
        String big = "GET /metrics HTTP/1.1\r\nX-Long: " + "a".repeat(20_000) + "\r\n\r\n";
        PrometheusTest.Answer a = PrometheusTest.request(s, big);
        assertEquals("HTTP/1.1 400 Bad request", a.status());
        assertTrue(closedByPeer(s));
    }

    @Test
    void anIdleScraperIsClosedAfterTimeoutClient() throws Exception {
        start("    timeout client 300ms\n");
        Socket s = client();
        assertEquals("HTTP/1.1 200 OK", PrometheusTest.request(s, "GET /metrics HTTP/1.1\r\n\r\n").status());
        long t0 = System.nanoTime();
        assertTrue(closedByPeer(s), "closed within the read timeout");
        assertTrue(System.nanoTime() - t0 >= 200_000_000L, "not before the idle timeout");
    }

    @Test
    void maxconnBoundsConcurrentScrapers() throws Exception {
        start("    maxconn 2\n");
        Socket a = client();
        Socket b = client();
        assertEquals("HTTP/1.1 200 OK", PrometheusTest.request(a, "GET /metrics HTTP/1.1\r\n\r\n").status());
        assertEquals("HTTP/1.1 200 OK", PrometheusTest.request(b, "GET /metrics HTTP/1.1\r\n\r\n").status());
        Socket c = client(); // in the kernel's backlog: not accepted while two are connected
        c.setSoTimeout(500);
        send(c, "GET /metrics HTTP/1.1\r\n\r\n");
        assertThrows(SocketTimeoutException.class, () -> c.getInputStream().read());
        a.close();
        c.setSoTimeout(5_000);
        assertEquals("HTTP/1.1 200 OK", PrometheusTest.read(c.getInputStream(), false).status());
    }

    @Test
    void anExporterThatCannotBeBoundFailsTheStartAndLeavesNothingOpen() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Peers.warmUpJdkIo();
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, Peers.LOOPBACK)) {
            Map<String, Integer> before = Peers.fdKinds();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Peers.startText(cleanup,
                    Peers.oneServer(echo.port(), "10s") + """
                            frontend prometheus
                                bind 127.0.0.1:%d
                                mode http
                                http-request use-service prometheus-exporter if { path /metrics }
                            """.formatted(taken.getLocalPort())));
            assertEquals("Prometheus exporter frontend 'prometheus' bind 127.0.0.1:" + taken.getLocalPort()
                    + " (it.cfg:10): bind: " + org.forwarder.sys.Errno.describe(-org.forwarder.sys.Errno.EADDRINUSE), e.getMessage());
            Peers.awaitFdsBackTo(before, 4, Duration.ofSeconds(5));
            Peers.waitUntil("no forwarder thread left", Duration.ofSeconds(5), () -> Thread.getAllStackTraces().keySet().stream()
                    .noneMatch(t -> t.getName().startsWith("forwarder-")));
        }
    }

    @Test
    void everyFdIsBackAfterTheStop() throws Exception {
        Map<String, Integer> baseline = Peers.fdKinds();
        start("");
        for (int i = 0; i < 3; i++) {
            Socket s = client();
            PrometheusTest.request(s, "GET /metrics HTTP/1.1\r\n\r\n");
        }
        fw.fw.close();
        cleanup.close();
        Peers.awaitFdsBackTo(baseline, 4, Duration.ofSeconds(5));
    }
}
