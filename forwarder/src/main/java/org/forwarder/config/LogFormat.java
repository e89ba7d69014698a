package org.forwarder.config;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A compiled {@code log-format} (or {@code option tcplog}, which is HAProxy's {@link #TCPLOG}
 * format): literal text and the {@code %} variables that apply to a TCP connection, checked at
 * configuration time so that an unknown variable is an error with its line, never a surprise in
 * the log. Formatting itself is the log writer's job ({@code org.forwarder.log}).
 */
public final class LogFormat {

    /** The variables forwarder fills, by HAProxy's names (configuration manual, section 8.2.4). */
    public enum Var {
        CLIENT_IP("ci"), CLIENT_PORT("cp"), FRONTEND_IP("fi"), FRONTEND_PORT("fp"), SERVER_IP("si"), SERVER_PORT("sp"),
        ACCEPT_DATE("t"), ACCEPT_TS("Ts"), FRONTEND_LOG("ft"), FRONTEND("f"), BACKEND("b"), SERVER("s"),
        T_WAIT("Tw"), T_CONNECT("Tc"), T_TOTAL("Tt"), BYTES_OUT("B"), BYTES_IN("U"), TERM_STATE("ts"),
        ACTCONN("ac"), FECONN("fc"), BECONN("bc"), SRVCONN("sc"), RETRIES("rc"), SRV_QUEUE("sq"),
        BACKEND_QUEUE("bq"), PID("pid"), HOSTNAME("H");

        public final String name;

        Var(String name) {
            this.name = name;
        }

        static Var of(String name) {
            for (Var v : values()) if (v.name.equals(name)) return v;
            return null;
        }
    }

    /** HAProxy's variables that only mean something for HTTP, or for SSL, which forwarder does not do. */
    private static final Set<String> NOT_TCP = Set.of(
            "CC", "CS", "hr", "hrl", "hs", "hsl", "HM", "HP", "HPO", "HQ", "HU", "HV", "r", "ST", "sslc", "sslv",
            "Th", "Ti", "Tq", "TR", "Tr", "Ta", "Td", "tr", "trg", "trl", "tsc", "ID", "rt", "lc", "bi", "bp",
            "ms", "T", "Tl", "st");

    /** HAProxy's tcplog format (its TCP log line), word for word. */
    public static final String TCPLOG_TEXT = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";
    public static final LogFormat TCPLOG = parse(TCPLOG_TEXT);

    /** Literal pieces and variables in order: each element is a byte[] (literal) or a Var. */
    private final Object[] parts;
    private final String text;

    private LogFormat(Object[] parts, String text) {
        this.parts = parts;
        this.text = text;
    }

    /** The pieces: byte[] for literal text, {@link Var} for a variable. */
    public Object[] parts() {
        return parts.clone();
    }

    public int size() {
        return parts.length;
    }

    /** The i-th piece (a byte[] literal or a Var), without copying: for the log writer's loop. */
    public Object part(int i) {
        return parts[i];
    }

    /** True if the format uses {@code v}. */
    public boolean uses(Var v) {
        for (Object p : parts) if (p == v) return true;
        return false;
    }

    public String text() {
        return text;
    }

    /**
     * Compiles {@code text}: {@code %NAME} is a variable (letters and digits), {@code %%} a
     * percent sign. Throws with a one-line reason for an unknown variable, a variable that only
     * HTTP has, {@code %{...}} flags, {@code %[...]} samples, or a lone {@code %}.
     */
    public static LogFormat parse(String text) {
        List<Object> parts = new ArrayList<>();
        StringBuilder lit = new StringBuilder();
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c != '%') {
                lit.append(c);
                i++;
                continue;
            }
            if (i + 1 < text.length() && text.charAt(i + 1) == '%') {
                lit.append('%');
                i += 2;
                continue;
            }
            int start = i + 1;
            if (start < text.length() && (text.charAt(start) == '{' || text.charAt(start) == '[')) {
                throw new IllegalArgumentException(text.charAt(start) == '{'
                        ? "variable flags ('%{...}') are not supported by forwarder, at position " + i
                        : "sample expressions ('%[...]') are not supported by forwarder, at position " + i);
            }
            int end = start;
            while (end < text.length() && Character.isLetterOrDigit(text.charAt(end)) && text.charAt(end) < 128) end++;
            if (end == start) {
                throw new IllegalArgumentException("'%' at position " + i + " is not followed by a variable name (write '%%' for a percent sign)");
            }
            String name = text.substring(start, end);
            Var v = Var.of(name);
            if (v == null) {
                throw new IllegalArgumentException(NOT_TCP.contains(name)
                        ? "variable '%" + name + "' does not apply to 'mode tcp' (supported: " + supported() + ")"
                        : "unknown variable '%" + name + "' (supported: " + supported() + ")");
            }
            if (!lit.isEmpty()) {
                parts.add(lit.toString().getBytes(StandardCharsets.UTF_8));
                lit.setLength(0);
            }
            parts.add(v);
            i = end;
        }
        if (!lit.isEmpty()) parts.add(lit.toString().getBytes(StandardCharsets.UTF_8));
        return new LogFormat(parts.toArray(), text);
    }

    static String supported() {
        StringBuilder sb = new StringBuilder();
        for (Var v : Var.values()) {
            if (!sb.isEmpty()) sb.append(' ');
            sb.append('%').append(v.name);
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return text;
    }
}
