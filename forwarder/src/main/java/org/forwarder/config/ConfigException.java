package org.forwarder.config;

import java.util.List;

/**
 * A configuration that cannot be used. Holds every problem found (not just the first), each
 * already formatted as {@code FILE:LINE: 'keyword' problem}; the message is all of them, one a line.
 */
public final class ConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    private final List<String> errors;

    public ConfigException(List<String> errors) {
        super(String.join("\n", errors));
        if (errors.isEmpty()) throw new IllegalArgumentException("a ConfigException needs at least one error");
        this.errors = List.copyOf(errors);
    }

    public ConfigException(String error) {
        this(List.of(error));
    }

    /** The problems found, in the order met. */
    public List<String> errors() {
        return errors;
    }
}
