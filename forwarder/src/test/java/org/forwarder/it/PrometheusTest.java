package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Prometheus exporter against a live forwarder: scrapes on one keep-alive connection before
 * and after a known transfer through a copying and a splicing frontend, parsed and checked
 * (byte counters moved by exactly the bytes sent each way; names, HELP, TYPE and labels as HAProxy
 * 2.6.12's exporter, captured in the test resources), and the page fed to {@code promtool check
 * metrics}.
 */
class PrometheusTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final int COPY_BYTES = 300_000;
    private static final int SPLICE_BYTES = 1_000_000;

    private Fw start() throws Exception {
        TestServer echo1 = cleanup.add(new TestServer("reply1", 50, SINK_THEN_REPLY));
        TestServer echo2 = cleanup.add(new TestServer("reply2", 50, SINK_THEN_REPLY));
        return Peers.startText(cleanup, Peers.defaults("10s") + """
                frontend copy
                    bind 127.0.0.1:0
                    default_backend be_copy
                frontend spliced
                    bind 127.0.0.1:0
                    default_backend be_splice
                backend be_copy
                    server s1 127.0.0.1:%d
                backend be_splice
                    option splice-request
                    option splice-response
                    server s2 127.0.0.1:%d
                frontend prometheus
                    bind 127.0.0.1:0
                    mode http
                    http-request use-service prometheus-exporter if { path /metrics }
                    no log
                """.formatted(echo1.port(), echo2.port()));
    }

    /** One HTTP answer: status line, headers (lower-case names), body. */
    record Answer(String status, Map<String, String> headers, String body) {}

    static Answer request(Socket s, String request) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return read(s.getInputStream(), request.startsWith("HEAD "));
    }

    static Answer read(InputStream in, boolean head) throws IOException {
        ByteArrayOutputStream h = new ByteArrayOutputStream();
        while (true) {
            int c = in.read();
            if (c < 0) throw new IOException("closed in the answer's head: " + h);
            h.write(c);
            byte[] b = h.toByteArray();
            int n = b.length;
            if (n >= 4 && b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n') break;
            if (n > 8192) throw new IOException("head too long");
        }
        String[] lines = h.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).toLowerCase(), lines[i].substring(colon + 1).strip());
        }
        int len = Integer.parseInt(headers.get("content-length"));
        byte[] body = head ? new byte[0] : Peers.readExactly(in, len);
        return new Answer(lines[0], headers, new String(body, StandardCharsets.UTF_8));
    }

    /** A parsed page: "name{labels}" -> value, and per family its HELP and TYPE. */
    record Page(Map<String, Double> samples, Map<String, String> types, Map<String, String> helps) {
        double get(String key) {
            Double v = samples.get(key);
            assertNotNull(v, () -> "no sample " + key);
            return v;
        }

        double sum(String family) {
            double s = 0;
            for (Map.Entry<String, Double> e : samples.entrySet()) {
                if (e.getKey().equals(family) || e.getKey().startsWith(family + "{")) s += e.getValue();
            }
            return s;
        }
    }

    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    static Page parse(String text) {
        Map<String, Double> samples = new LinkedHashMap<>();
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, String> helps = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("# HELP ")) {
                String[] w = line.split(" ", 4);
                helps.put(w[2], w.length > 3 ? w[3] : "");
            } else if (line.startsWith("# TYPE ")) {
                String[] w = line.split(" ");
                assertEquals(4, w.length, line);
                assertTrue(types.putIfAbsent(w[2], w[3]) == null, () -> "TYPE given twice: " + line);
            } else if (!line.isEmpty()) {
                Matcher m = SAMPLE.matcher(line);
                assertTrue(m.matches(), () -> "not a sample line: " + line);
                String family = m.group(1);
                assertTrue(types.containsKey(family), () -> "sample before its TYPE: " + line);
                assertTrue(helps.containsKey(family), () -> "sample without HELP: " + line);
                String key = family + (m.group(2) == null ? "" : m.group(2));
                assertTrue(samples.put(key, Double.parseDouble(m.group(3))) == null, () -> "sample twice: " + line);
            }
        }
        return new Page(samples, types, helps);
    }

    /** HAProxy 2.6.12's page for a TCP frontend/backend/server and its exporter (test resources). */
    static Page haproxy() throws IOException {
        try (InputStream in = PrometheusTest.class.getResourceAsStream("/prometheus/haproxy-2.6.12-metrics.txt")) {
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /**
     * Reads the request to its end, then answers a third of its length in bytes made from that
     * length: the two directions differ in size, so a counter of the wrong direction shows.
     */
    static final Peers.Behaviour SINK_THEN_REPLY = (s, i) -> {
        long n = s.getInputStream().transferTo(OutputStream.nullOutputStream());
        s.getOutputStream().write(reply((int) n));
    };

    static byte[] reply(int requestBytes) {
        byte[] b = new byte[requestBytes / 3];
        new Random(requestBytes).nextBytes(b);
        return b;
    }

    private static void transfer(int port, int bytes, long seed) throws IOException {
        byte[] data = new byte[bytes];
        new Random(seed).nextBytes(data);
        byte[] expected = reply(bytes);
        try (Socket c = new Socket()) {
            Peers.connect(c, port);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    c.getOutputStream().write(data);
                    c.shutdownOutput();
                } catch (IOException ignored) {
                    // the read below fails then
                }
            });
            byte[] got = c.getInputStream().readAllBytes();
            writer.join();
            assertArrayEquals(Peers.sha256().digest(expected), Peers.sha256().digest(got), "the answer's bytes differ");
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void countersMoveByExactlyTheBytesSentAndThePageIsHaproxys() throws Exception {
        Fw fw = start();
        int copyPort = fw.fw.boundAddresses().get(0).port();
        int splicePort = fw.fw.boundAddresses().get(1).port();
        int metricsPort = fw.fw.metricsAddresses().getFirst().port();
        try (Socket s = new Socket()) {
            Peers.connect(s, metricsPort);
            Answer a1 = request(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals("HTTP/1.1 200 OK", a1.status());
            assertEquals("text/plain; version=0.0.4", a1.headers().get("content-type"));
            assertFalse(a1.headers().containsKey("connection"), "HTTP/1.1 keeps the connection by default");
            Page before = parse(a1.body());

            transfer(copyPort, COPY_BYTES, 1);
            transfer(splicePort, SPLICE_BYTES, 2);
            fw.awaitIdle(Duration.ofSeconds(10));

            Answer a2 = request(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); // the same connection
            assertEquals("HTTP/1.1 200 OK", a2.status());
            Page after = parse(a2.body());

            for (String[] p : new String[][]{{"copy", "be_copy", "s1", "" + COPY_BYTES}, {"spliced", "be_splice", "s2", "" + SPLICE_BYTES}}) {
                double in = Double.parseDouble(p[3]);
                double out = reply(Integer.parseInt(p[3])).length;
                String fe = "{proxy=\"" + p[0] + "\"}";
                String be = "{proxy=\"" + p[1] + "\"}";
                String sv = "{proxy=\"" + p[1] + "\",server=\"" + p[2] + "\"}";
                for (String key : new String[]{"haproxy_frontend_bytes_in_total" + fe, "haproxy_backend_bytes_in_total" + be,
                        "haproxy_server_bytes_in_total" + sv}) {
                    assertEquals(in, after.get(key) - before.get(key), key);
                }
                for (String key : new String[]{"haproxy_frontend_bytes_out_total" + fe, "haproxy_backend_bytes_out_total" + be,
                        "haproxy_server_bytes_out_total" + sv}) {
                    assertEquals(out, after.get(key) - before.get(key), key);
                }
                assertEquals(1, after.get("haproxy_frontend_sessions_total" + fe) - before.get("haproxy_frontend_sessions_total" + fe));
                assertEquals(1, after.get("haproxy_server_sessions_total" + sv) - before.get("haproxy_server_sessions_total" + sv));
                assertEquals(1, after.get("haproxy_frontend_status{proxy=\"" + p[0] + "\",state=\"UP\"}"));
                assertEquals(1, after.get("haproxy_server_status{proxy=\"" + p[1] + "\",server=\"" + p[2] + "\",state=\"UP\"}"));
            }
            double requests = COPY_BYTES + SPLICE_BYTES;
            double responses = reply(COPY_BYTES).length + reply(SPLICE_BYTES).length;
            for (String dir : new String[]{"request", "response"}) {
                double copied = after.get("forwarder_" + dir + "_bytes_copied_total") - before.get("forwarder_" + dir + "_bytes_copied_total");
                double spliced = after.get("forwarder_" + dir + "_bytes_spliced_total") - before.get("forwarder_" + dir + "_bytes_spliced_total");
                assertEquals(dir.equals("request") ? requests : responses, copied + spliced, dir + " bytes copied + spliced");
                assertTrue(spliced > 0, dir + " bytes went through pipes");
                assertTrue(copied >= (dir.equals("request") ? COPY_BYTES : reply(COPY_BYTES).length),
                        dir + " bytes of the copying frontend were copied");
            }
            assertEquals(requests + responses, after.get("haproxy_process_bytes_out_total") - before.get("haproxy_process_bytes_out_total"));
            assertEquals(after.get("haproxy_process_spliced_bytes_out_total") - before.get("haproxy_process_spliced_bytes_out_total"),
                    after.get("forwarder_request_bytes_spliced_total") + after.get("forwarder_response_bytes_spliced_total")
                            - before.get("forwarder_request_bytes_spliced_total") - before.get("forwarder_response_bytes_spliced_total"));
            // loop activity: one series per loop, and the splices were counted
            int loops = fw.fw.loops();
            for (int i = 0; i < loops; i++) assertTrue(after.samples().containsKey("forwarder_loop_poll_passes_total{loop=\"" + i + "\"}"));
            assertFalse(after.samples().containsKey("forwarder_loop_poll_passes_total{loop=\"" + loops + "\"}"));
            assertTrue(after.sum("forwarder_loop_splice_calls_total") > before.sum("forwarder_loop_splice_calls_total"));
            assertTrue(after.sum("forwarder_loop_recv_calls_total") > before.sum("forwarder_loop_recv_calls_total"));
            assertEquals(loops, after.get("haproxy_process_nbthread"));

            checkNamesAgainstHaproxy(after);
            promtool(a2.body());
        }
    }

    /** Every haproxy_* family is HAProxy's, with its HELP and TYPE, and its label names. */
    /** What the runtime API changes (server state, weight, limits) is what the page shows. */
    @Test
    void thePageShowsWhatTheRuntimeApiChanged(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, "global\n    stats socket " + dir.resolve("a.sock") + " level admin\n"
                + Peers.defaults("10s") + """
                frontend fe
                    bind 127.0.0.1:0
                    default_backend be
                backend be
                    server s1 127.0.0.1:%d
                    server s2 127.0.0.1:%d
                frontend prometheus
                    bind 127.0.0.1:0
                    mode http
                    http-request use-service prometheus-exporter if { path /metrics }
                    no log
                """.formatted(echo.port(), echo.port()));
        int metricsPort = fw.fw.metricsAddresses().getFirst().port();
        assertEquals("\n\n\n", CliClient.ask(dir.resolve("a.sock"),
                "set server be/s1 state maint; set weight be/s2 7; set maxconn frontend fe 33\n"), "three empty answers");
        try (Socket s = new Socket()) {
            Peers.connect(s, metricsPort);
            Page p = parse(request(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").body());
            assertEquals(1, p.get("haproxy_server_status{proxy=\"be\",server=\"s1\",state=\"MAINT\"}"));
            assertEquals(0, p.get("haproxy_server_status{proxy=\"be\",server=\"s1\",state=\"UP\"}"));
            assertEquals(1, p.get("haproxy_server_status{proxy=\"be\",server=\"s2\",state=\"UP\"}"));
            assertEquals(7, p.get("haproxy_server_weight{proxy=\"be\",server=\"s2\"}"));
            assertEquals(1, p.get("haproxy_backend_active_servers{proxy=\"be\"}"));
            assertEquals(7, p.get("haproxy_backend_weight{proxy=\"be\"}"));
            assertEquals(33, p.get("haproxy_frontend_limit_sessions{proxy=\"fe\"}"));
        }
    }

    private static void checkNamesAgainstHaproxy(Page ours) throws IOException {
        Page h = haproxy();
        int families = 0;
        for (Map.Entry<String, String> e : ours.types().entrySet()) {
            String name = e.getKey();
            if (name.startsWith("forwarder_")) {
                assertEquals(name.endsWith("_total") ? "counter" : "gauge", e.getValue(), name);
                continue;
            }
            assertTrue(name.startsWith("haproxy_"), name);
            assertTrue(h.types().containsKey(name), () -> name + " is not a metric of HAProxy's exporter");
            assertEquals(h.types().get(name), e.getValue(), name + " TYPE");
            assertEquals(h.helps().get(name), ours.helps().get(name), name + " HELP");
            assertEquals(labelNames(h, name), labelNames(ours, name), name + " label names");
            families++;
        }
        assertTrue(families > 60, "families: " + families);
        // the figures HAProxy users graph first are all there
        for (String must : new String[]{"haproxy_process_current_connections", "haproxy_frontend_bytes_in_total",
                "haproxy_backend_current_queue", "haproxy_server_status", "haproxy_backend_total_time_average_seconds"}) {
            assertTrue(ours.types().containsKey(must), must);
        }
    }

    private static String labelNames(Page p, String family) {
        for (String key : p.samples().keySet()) {
            if (!key.startsWith(family + "{") && !key.equals(family)) continue;
            StringBuilder sb = new StringBuilder();
            Matcher m = LABEL.matcher(key.substring(family.length()));
            while (m.find()) sb.append(m.group(1)).append(',');
            return sb.toString();
        }
        return "";
    }

    /** {@code promtool check metrics} must accept the page; without promtool, skipped (failed on CI). */
    static void promtool(String page) throws Exception {
        String promtool = null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            File f = new File(dir, "promtool");
            if (f.canExecute()) {
                promtool = f.getPath();
                break;
            }
        }
        if (promtool == null) {
            assertTrue(System.getenv("CI") == null, "promtool is missing on CI (.ci/run installs Debian's 'prometheus')");
            Assumptions.abort("promtool not installed");
        }
        Process p = new ProcessBuilder(promtool, "check", "metrics").redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(page.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
        assertEquals(0, p.exitValue(), "promtool check metrics: " + out);
    }
}
