package org.forwarder.metrics;

import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Set;

/**
 * What the exporter frontend answers, as HAProxy 2.6 does for the accepted configuration: the
 * page on {@code /metrics} with any method ({@code HEAD} without the body), 503 with HAProxy's
 * "no server" page on any other path (no backend takes it), 400 with HAProxy's page for a
 * request that is not HTTP/1.x or a bad {@code scope}, then close. Why Content-Length where
 * HAProxy sends chunks: the page is made whole before the first byte is sent anyway, and
 * Prometheus reads either.
 */
final class HttpAnswers {
    private static final String BAD_BODY = "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n";
    private static final String UNAVAILABLE_BODY =
            "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";

    /** HAProxy's 400 page, with which the connection closes. */
    static final byte[] BAD_REQUEST = ascii("HTTP/1.1 400 Bad request\r\nContent-length: " + BAD_BODY.length()
            + "\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n" + BAD_BODY);

    private HttpAnswers() {}

    /** HAProxy's 503 page for a path the exporter does not serve. */
    static byte[] unavailable(HttpRequest r) {
        return ascii("HTTP/1.1 503 Service Unavailable\r\ncontent-length: " + UNAVAILABLE_BODY.length()
                + "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n" + connection(r) + "\r\n"
                + (r.method().equals("HEAD") ? "" : UNAVAILABLE_BODY));
    }

    /** The 200 answer carrying {@code page}. */
    static byte[] metrics(HttpRequest r, String page) {
        byte[] body = page.getBytes(StandardCharsets.UTF_8);
        byte[] head = ascii("HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\n"
                + "content-length: " + body.length + "\r\n" + connection(r) + "\r\n");
        if (r.method().equals("HEAD")) return head;
        byte[] out = new byte[head.length + body.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(body, 0, out, head.length, body.length);
        return out;
    }

    /** HAProxy says {@code close} when it will close, {@code keep-alive} to an HTTP/1.0 client it keeps. */
    private static String connection(HttpRequest r) {
        if (!r.keepAlive()) return "connection: close\r\n";
        return r.http10() ? "connection: keep-alive\r\n" : "";
    }

    /**
     * The sections HAProxy's {@code scope} parameters select (all without any), or null for a
     * scope it does not know (a 400). {@code scope=*} is everything; a repeated parameter adds.
     */
    static Set<MetricsText.Section> scopes(String query) {
        if (query.isEmpty()) return EnumSet.allOf(MetricsText.Section.class);
        Set<MetricsText.Section> out = EnumSet.noneOf(MetricsText.Section.class);
        boolean any = false;
        for (String param : query.split("&")) {
            if (!param.startsWith("scope=")) continue;
            any = true;
            switch (param.substring("scope=".length())) {
                case "*" -> out.addAll(EnumSet.allOf(MetricsText.Section.class));
                case "global" -> out.add(MetricsText.Section.GLOBAL);
                case "frontend" -> out.add(MetricsText.Section.FRONTEND);
                case "backend" -> out.add(MetricsText.Section.BACKEND);
                case "server" -> out.add(MetricsText.Section.SERVER);
                case "", "listener", "sticktable" -> { } // HAProxy's too; we have none of those figures
                default -> {
                    return null;
                }
            }
        }
        return any ? out : EnumSet.allOf(MetricsText.Section.class);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }
}
