package org.forwarder.metrics;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One HTTP/1.x request head, parsed from the bytes received so far: the request line and the
 * headers up to the empty line. Only what the exporter needs is kept: method, path, query,
 * whether the client wants the connection kept (HTTP/1.1 unless {@code Connection: close};
 * HTTP/1.0 only with {@code Connection: keep-alive}) and whether a body follows (which we do
 * not read: the connection is then closed after the answer).
 *
 * <p>{@link #parse} returns null while the head is incomplete, and {@link #BAD} for anything
 * that is not an HTTP/1.x request head (as HAProxy, which answers 400 and closes).
 */
record HttpRequest(String method, String path, String query, boolean keepAlive, boolean http10, boolean body,
                   int length) {

    static final HttpRequest BAD = new HttpRequest("", "", "", false, false, false, -1);

    boolean bad() {
        return length < 0;
    }

    /** The request whose head starts at {@code buf[0]} among {@code len} bytes; null if incomplete. */
    static HttpRequest parse(byte[] buf, int len) {
        int end = headEnd(buf, len);
        if (end < 0) return null;
        String head = new String(buf, 0, end, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r?\n", -1);
        String[] rl = lines[0].split(" ", -1);
        if (rl.length != 3 || rl[0].isEmpty() || rl[1].isEmpty()) return BAD;
        if (!token(rl[0])) return BAD;
        String version = rl[2];
        if (!version.matches("HTTP/[0-9]\\.[0-9]")) return BAD;
        boolean http10 = version.equals("HTTP/1.0") || version.startsWith("HTTP/0.");
        String target = rl[1];
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c <= ' ' || c >= 127) return BAD;
        }
        if (!target.startsWith("/")) {
            // absolute form: keep the path only
            int scheme = target.indexOf("://");
            if (scheme < 0) return BAD;
            int slash = target.indexOf('/', scheme + 3);
            target = slash < 0 ? "/" : target.substring(slash);
        }
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        String query = q < 0 ? "" : target.substring(q + 1);
        boolean close = false;
        boolean keepAlive = false;
        boolean body = false;
        for (int i = 1; i < lines.length; i++) {
            String l = lines[i];
            if (l.isEmpty()) continue;
            int colon = l.indexOf(':');
            if (colon <= 0 || !token(l.substring(0, colon))) return BAD;
            String name = l.substring(0, colon).toLowerCase(Locale.ROOT);
            String value = l.substring(colon + 1).strip().toLowerCase(Locale.ROOT);
            switch (name) {
                case "connection" -> {
                    for (String t : value.split(",")) {
                        String tok = t.strip();
                        if (tok.equals("close")) close = true;
                        else if (tok.equals("keep-alive")) keepAlive = true;
                    }
                }
                case "content-length" -> {
                    if (!value.matches("[0-9]+")) return BAD;
                    if (!value.matches("0+")) body = true;
                }
                case "transfer-encoding" -> body = true;
                default -> { }
            }
        }
        boolean keep = !close && (!http10 || keepAlive) && !body;
        return new HttpRequest(rl[0], path, query, keep, http10, body, end);
    }

    /** The index just past the empty line that ends the head, or -1. */
    private static int headEnd(byte[] b, int len) {
        for (int i = 0; i < len; i++) {
            if (b[i] != '\n') continue;
            if (i + 1 < len && b[i + 1] == '\n') return i + 2;
            if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
        }
        return -1;
    }

    /** An HTTP token (method, header name). */
    private static boolean token(String s) {
        if (s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) return false;
        }
        return true;
    }
}
