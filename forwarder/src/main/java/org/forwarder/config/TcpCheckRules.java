package org.forwarder.config;

import org.forwarder.config.HealthCheck.TcpCheckRule;
import org.forwarder.config.HealthCheck.TcpCheckRule.Action;

import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Parses one {@code tcp-check} line into a rule: {@code connect [port P]}, {@code send <string>},
 * {@code send-binary <hex>}, {@code expect [!] string|rstring|binary <pattern>}. Why here and
 * not at check time: every mistake a check would only meet on its first run (a bad hex string, a
 * regex that does not compile) becomes a file:line error when the configuration is read.
 * Strings arrive with the tokenizer's escapes already decoded ({@code \r \n \t \\ \xHH}); each
 * character is one byte. Strings are refused past 0x7F: the tokenizer cannot tell {@code \xE9}
 * from a literal U+00E9 in the UTF-8 file (HAProxy would send the byte E9 for the first and the
 * two bytes C3 A9 for the second), so instead of guessing, such bytes go in {@code send-binary}
 * or {@code expect binary}.
 */
final class TcpCheckRules {

    private TcpCheckRules() {}

    /** HAProxy's tcp-check actions that forwarder does not implement. */
    private static final Set<String> ACTIONS_UNSUPPORTED = Set.of(
            "comment", "send-lf", "send-binary-lf", "set-var", "set-var-fmt", "unset-var");
    /** HAProxy's {@code tcp-check connect} options other than {@code port}. */
    private static final Set<String> CONNECT_UNSUPPORTED = Set.of(
            "comment", "addr", "send-proxy", "via-socks4", "ssl", "sni", "alpn", "proto", "linger", "default");
    /** HAProxy's {@code tcp-check expect} matches and options other than string, rstring and binary. */
    private static final Set<String> EXPECT_UNSUPPORTED = Set.of(
            "min-recv", "string-lf", "rbinary", "binary-lf", "comment", "on-success", "on-error", "status-code",
            "ok-status", "error-status", "tout-status");

    /**
     * The rule of {@code line} ({@code tcp-check ...}), to be appended to {@code rules} (the
     * section's rules so far, used to check HAProxy's "a connect must come first" rule).
     *
     * @throws IllegalArgumentException whose message follows the keyword (e.g. {@code 'tcp-check send' ...})
     */
    static TcpCheckRule parse(Line line, List<TcpCheckRule> rules, String where) {
        String action = line.word(1);
        List<String> args = line.args(2);
        if (action == null || !Set.of("connect", "send", "send-binary", "expect").contains(action)) {
            if (action != null && (ACTIONS_UNSUPPORTED.contains(action) || action.startsWith("set-var(")
                    || action.startsWith("set-var-fmt(") || action.startsWith("unset-var("))) {
                throw new IllegalArgumentException("'tcp-check " + action + "' is not supported by forwarder");
            }
            throw new IllegalArgumentException("'tcp-check' only supports 'connect', 'send', 'send-binary' and 'expect'"
                    + (action == null ? "" : ", got '" + action + "'"));
        }
        String kw = "'tcp-check " + action + "'";
        return switch (action) {
            case "connect" -> connect(kw, args, rules, where);
            case "send" -> new TcpCheckRule(Action.SEND, 0, bytes(kw, oneArgument(kw, args, "a string to send")), null, false, where);
            case "send-binary" -> new TcpCheckRule(Action.SEND, 0, hex(kw, oneArgument(kw, args, "a hexadecimal string to send")),
                    null, false, where);
            default -> expect(kw, args, where);
        };
    }

    private static TcpCheckRule connect(String kw, List<String> args, List<TcpCheckRule> rules, String where) {
        int port = 0;
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            if (!option.equals("port")) {
                throw new IllegalArgumentException(kw + (CONNECT_UNSUPPORTED.contains(option)
                        ? " option '" + option + "' is not supported by forwarder"
                        : " expects 'port' but got '" + option + "' as argument"));
            }
            if (port != 0) throw new IllegalArgumentException(kw + " option 'port' is given twice");
            if (i + 1 >= args.size()) throw new IllegalArgumentException(kw + " option 'port' expects a port number");
            String value = args.get(++i);
            try {
                port = Values.integer(value, 1, 65535);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(kw + " expects a valid TCP port (from range 1 to 65535), got '" + value + "'");
            }
        }
        if (!rules.isEmpty() && rules.getFirst().action() != Action.CONNECT) {
            throw new IllegalArgumentException(kw + " must also be the first step when there is a 'connect' step"
                    + " in the tcp-check ruleset (the first rule, at " + rules.getFirst().where() + ", is not a connect)");
        }
        return new TcpCheckRule(Action.CONNECT, port, null, null, false, where);
    }

    private static TcpCheckRule expect(String kw, List<String> args, String where) {
        int i = 0;
        boolean negate = false;
        String match = i < args.size() ? args.get(i) : null;
        if ("!".equals(match)) {
            negate = true;
            match = ++i < args.size() ? args.get(i) : null;
        } else if (match != null && match.startsWith("!") && match.length() > 1) {
            negate = true;
            match = match.substring(1);
        }
        if (match == null) {
            throw new IllegalArgumentException(kw + " expects [!] string, rstring or binary and a pattern");
        }
        Action action = switch (match) {
            case "string" -> Action.EXPECT_STRING;
            case "rstring" -> Action.EXPECT_RSTRING;
            case "binary" -> Action.EXPECT_BINARY;
            default -> throw new IllegalArgumentException(kw + (EXPECT_UNSUPPORTED.contains(match)
                    ? " '" + match + "' is not supported by forwarder"
                    : " only supports '[!]string', '[!]rstring' and '[!]binary', got '" + match + "'"));
        };
        List<String> rest = args.subList(i + 1, args.size());
        if (rest.isEmpty() || rest.getFirst().isEmpty()) {
            throw new IllegalArgumentException(kw + " '" + match + "' expects a <pattern> as argument");
        }
        if (rest.size() > 1) {
            String extra = rest.get(1);
            throw new IllegalArgumentException(kw + (EXPECT_UNSUPPORTED.contains(extra)
                    ? " option '" + extra + "' is not supported by forwarder"
                    : " takes one pattern (escape spaces as '\\ '), got '" + extra + "' after it"));
        }
        String pattern = rest.getFirst();
        return switch (action) {
            case EXPECT_STRING -> new TcpCheckRule(action, 0, bytes(kw, pattern), null, negate, where);
            case EXPECT_BINARY -> new TcpCheckRule(action, 0, hex(kw, pattern), null, negate, where);
            default -> {
                try {
                    Pattern.compile(pattern);
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException(kw + " regex '" + pattern + "' is invalid (" + e.getDescription()
                            + (e.getIndex() >= 0 ? " near index " + e.getIndex() : "") + ")");
                }
                yield new TcpCheckRule(action, 0, null, pattern, negate, where);
            }
        };
    }

    private static String oneArgument(String kw, List<String> args, String expected) {
        if (args.isEmpty() || args.getFirst().isEmpty()) throw new IllegalArgumentException(kw + " expects " + expected);
        if (args.size() > 1) {
            String extra = args.get(1);
            throw new IllegalArgumentException(kw + (extra.equals("comment")
                    ? " option 'comment' is not supported by forwarder"
                    : " takes one argument (escape spaces as '\\ '), got '" + extra + "' after it"));
        }
        return args.getFirst();
    }

    /** The bytes of a decoded string: one per character, which must be ASCII (see the class comment). */
    static byte[] bytes(String kw, String text) {
        byte[] out = new byte[text.length()];
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c > 0x7F) {
                throw new IllegalArgumentException(kw + " '" + text + "' has a byte or character above 0x7F (U+"
                        + String.format("%04X", (int) c) + "): write non-ASCII data in hexadecimal with"
                        + " 'tcp-check send-binary' or 'tcp-check expect binary'");
            }
            out[i] = (byte) c;
        }
        return out;
    }

    /** HAProxy's binary strings: an even number of hexadecimal digits. */
    static byte[] hex(String kw, String text) {
        if (text.length() % 2 != 0) {
            throw new IllegalArgumentException(kw + " '" + text + "' invalid binary string (an even number of hex digit is expected)");
        }
        byte[] out = new byte[text.length() / 2];
        for (int i = 0; i < text.length(); i++) {
            int d = Character.digit(text.charAt(i), 16);
            if (d < 0 || text.charAt(i) > 0x7F) {
                throw new IllegalArgumentException(kw + " '" + text + "' invalid binary string (an hex digit is expected (found '"
                        + text.charAt(i) + "'))");
            }
            out[i / 2] = (byte) (out[i / 2] << 4 | d);
        }
        return out;
    }
}
