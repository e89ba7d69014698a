package org.forwarder.config;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects the errors and warnings of one parse, so that a single run reports every problem
 * (like {@code haproxy -c}) instead of stopping at the first.
 */
final class Diagnostics {

    private final String source;
    private final List<String> errors = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();

    /** {@code source} is the file name, or a description such as "command line". */
    Diagnostics(String source) {
        this.source = source;
    }

    /** "file:line", or just the source when there are no lines (line <= 0). */
    String where(int line) {
        return line > 0 ? source + ":" + line : source;
    }

    /** Records {@code FILE:LINE: 'keyword' problem}. */
    void error(int line, String keyword, String problem) {
        errors.add(where(line) + ": '" + keyword + "' " + problem);
    }

    /** Records {@code FILE:LINE: message} for problems that are not about one keyword. */
    void errorAt(int line, String message) {
        errors.add(where(line) + ": " + message);
    }

    void warn(int line, String message) {
        warnings.add(ConfigException.printable(where(line) + ": " + message));
    }

    boolean hasErrors() {
        return !errors.isEmpty();
    }

    List<String> errors() {
        return errors;
    }

    List<String> warnings() {
        return warnings;
    }

    void throwIfErrors() throws ConfigException {
        if (!errors.isEmpty()) throw new ConfigException(errors);
    }
}
