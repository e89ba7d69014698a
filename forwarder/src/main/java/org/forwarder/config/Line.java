package org.forwarder.config;

import java.util.List;

/**
 * One non-empty configuration line: its number and words. A keyword may span several words
 * ({@code timeout connect}, {@code no option splice-auto}); {@link #keyword(int)} and
 * {@link #args(int)} split the line at a given keyword length.
 */
record Line(int number, List<String> words) {

    String first() {
        return words.getFirst();
    }

    /** The word at {@code i}, or null past the end. */
    String word(int i) {
        return i < words.size() ? words.get(i) : null;
    }

    /** The first {@code n} words joined by spaces (fewer if the line is shorter): the keyword as written. */
    String keyword(int n) {
        return String.join(" ", words.subList(0, Math.min(n, words.size())));
    }

    /** The words after a keyword of {@code n} words. */
    List<String> args(int n) {
        return words.subList(Math.min(n, words.size()), words.size());
    }
}
