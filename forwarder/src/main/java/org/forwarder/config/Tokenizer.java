package org.forwarder.config;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Splits one configuration line into words the way HAProxy reads them: words are separated by
 * spaces or tabs; an unquoted, unescaped {@code #} starts a comment; single quotes keep their
 * content literally; double quotes keep spaces and {@code #} but still honour backslash escapes and
 * expand {@code $NAME} / {@code ${NAME}} from the environment; quoted and unquoted parts next to
 * each other form one word ({@code a"b c"} is {@code ab c}); {@code ""} is an empty word.
 * Backslash escapes outside single quotes: {@code \\ \' \" \# \$ \space}, {@code \t \r \n},
 * {@code \xHH}; a backslash before anything else is kept as written.
 */
final class Tokenizer {

    private final Function<String, String> env;
    /** Where the comment of the last line split began (its length if it had none). */
    private int codeEnd;

    Tokenizer(Function<String, String> env) {
        this.env = env;
    }

    /** The index where the comment of the line last given to {@link #split} starts, or its length if it has none. */
    int codeEnd() {
        return codeEnd;
    }

    /** The words of {@code line}; throws IllegalArgumentException describing a syntax error. */
    List<String> split(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        char quote = 0;          // the open quote character, or 0 outside quotes
        int quoteColumn = 0;
        int i = 0;
        int n = line.length();
        codeEnd = n;
        while (i < n) {
            char c = line.charAt(i);
            if (quote == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
                i++;
                continue;
            }
            if (quote == 0 && c == '#') {
                codeEnd = i;
                break;
            }
            inWord = true;
            if (c == '\'' && quote != '"') {
                quote = quote == 0 ? '\'' : 0;
                quoteColumn = i + 1;
                i++;
            } else if (c == '"' && quote != '\'') {
                quote = quote == 0 ? '"' : 0;
                quoteColumn = i + 1;
                i++;
            } else if (c == '\\' && quote != '\'') {
                i = escape(line, i, word);
            } else if (c == '$' && quote == '"') {
                i = variable(line, i, word);
            } else {
                word.append(c);
                i++;
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unterminated " + (quote == '"' ? "double" : "single")
                    + " quote opened at column " + quoteColumn);
        }
        if (inWord) words.add(word.toString());
        return words;
    }

    /** Appends the character(s) the escape at {@code at} stands for; returns the index after it. */
    private static int escape(String line, int at, StringBuilder out) {
        if (at + 1 >= line.length()) {
            out.append('\\');
            return at + 1;
        }
        char e = line.charAt(at + 1);
        switch (e) {
            case '\\', '\'', '"', '#', '$', ' ' -> out.append(e);
            case 't' -> out.append('\t');
            case 'r' -> out.append('\r');
            case 'n' -> out.append('\n');
            case 'x' -> {
                int hi = at + 2 < line.length() ? Character.digit(line.charAt(at + 2), 16) : -1;
                int lo = at + 3 < line.length() ? Character.digit(line.charAt(at + 3), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("invalid escape at column " + (at + 1)
                            + ": \\x needs two hexadecimal digits");
                }
                out.append((char) (hi * 16 + lo));
                return at + 4;
            }
            default -> out.append('\\').append(e);
        }
        return at + 2;
    }

    /** Expands {@code $NAME} or {@code ${NAME}} at {@code at}; an unset variable expands to nothing, as in HAProxy. */
    private int variable(String line, int at, StringBuilder out) {
        int start = at + 1;
        boolean braced = start < line.length() && line.charAt(start) == '{';
        if (braced) start++;
        int end = start;
        while (end < line.length() && isNameChar(line.charAt(end), end == start)) end++;
        if (braced) {
            if (end >= line.length() || line.charAt(end) != '}' || end == start) {
                throw new IllegalArgumentException("invalid variable reference at column " + (at + 1)
                        + ": expected ${NAME}");
            }
        } else if (end == start) {
            out.append('$');   // a lone dollar is just a dollar
            return at + 1;
        }
        String value = env.apply(line.substring(start, end));
        if (value != null) out.append(value);
        return braced ? end + 1 : end;
    }

    private static boolean isNameChar(char c, boolean first) {
        return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
    }
}
