package org.forwarder.config;

import java.util.List;

/**
 * A configuration that cannot be used. Holds every problem found (not just the first), each
 * already formatted as {@code FILE:LINE: 'keyword' problem}; the message is all of them, one a line.
 * Errors quote what the user wrote, which may hold control or bidirectional-format characters
 * (a NEL, an escape sequence, U+202E): those are shown escaped, so that each error stays one
 * line and prints as what it is.
 */
public final class ConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    private final List<String> errors;

    public ConfigException(List<String> errors) {
        List<String> printable = errors.stream().map(ConfigException::printable).toList();
        if (printable.isEmpty()) throw new IllegalArgumentException("a ConfigException needs at least one error");
        super(String.join("\n", printable));
        this.errors = printable;
    }

    public ConfigException(String error) {
        this(List.of(error));
    }

    /** {@code text} with control, line-separator, format and lone surrogate characters escaped as backslash-x HH or backslash-u HHHH. */
    static String printable(String text) {
        StringBuilder sb = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int type = Character.getType(c);
            boolean escape = Character.isISOControl(c) || type == Character.LINE_SEPARATOR
                    || type == Character.PARAGRAPH_SEPARATOR || type == Character.FORMAT
                    || (Character.isSurrogate(c) && !pairedAt(text, i));
            if (escape && sb == null) sb = new StringBuilder(text.length() + 8).append(text, 0, i);
            if (sb == null) continue;
            if (!escape) {
                sb.append(c);
            } else {
                sb.append(c < 0x100 ? String.format("\\x%02x", (int) c) : String.format("\\u%04x", (int) c));
            }
        }
        return sb == null ? text : sb.toString();
    }

    private static boolean pairedAt(String text, int i) {
        char c = text.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(text.charAt(i - 1));
    }

    /** The problems found, in the order met. */
    public List<String> errors() {
        return errors;
    }
}
