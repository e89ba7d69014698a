package org.forwarder.config;

import java.util.List;

/**
 * What a frontend logs: one line per connection, in {@code format} (null: no line; see
 * {@code option tcplog} and {@code log-format}), to each of {@code targets} (its own {@code log}
 * lines and, with {@code log global}, the global ones); {@code dontLogNull} leaves out the
 * connections whose client sent nothing.
 */
public record LogSettings(List<LogTarget> targets, LogFormat format, boolean dontLogNull) {

    public static final LogSettings NONE = new LogSettings(List.of(), null, false);

    public LogSettings {
        targets = List.copyOf(targets);
    }

    /** True when connections of this frontend produce lines that go somewhere. */
    public boolean active() {
        return format != null && !targets.isEmpty();
    }
}
