package org.forwarder.config;

import java.util.List;
import java.util.Objects;

/**
 * The global {@code log} lines (where the process's events go, and what {@code log global} in a
 * proxy means) and the program name that syslog headers carry ({@code log-tag}, by default the
 * program's name, as HAProxy's is "haproxy").
 */
public record GlobalLogs(List<LogTarget> targets, String tag) {

    public static final String DEFAULT_TAG = "forwarder";
    public static final GlobalLogs NONE = new GlobalLogs(List.of(), DEFAULT_TAG);

    public GlobalLogs {
        targets = List.copyOf(targets);
        Objects.requireNonNull(tag, "tag");
    }
}
