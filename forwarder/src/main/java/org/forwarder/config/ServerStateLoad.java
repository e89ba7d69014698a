package org.forwarder.config;

import java.util.Objects;

/**
 * A backend's {@code load-server-state-from-file global|local|none} and
 * {@code server-state-file-name [<name>|use-backend-name]} (HAProxy's seamless reload: servers
 * start in the state a previous process saved with {@code show servers state}). Parsed here,
 * loaded elsewhere. {@code fileName} null means the backend's name.
 */
public record ServerStateLoad(Mode mode, String fileName) {

    public enum Mode { NONE, GLOBAL, LOCAL }

    /** HAProxy's default: no state loaded. */
    public static final ServerStateLoad NONE = new ServerStateLoad(Mode.NONE, null);

    public ServerStateLoad {
        Objects.requireNonNull(mode, "mode");
        if (fileName != null && fileName.isEmpty()) throw new IllegalArgumentException("empty server state file name");
    }

    /**
     * The file a {@code local} backend reads: {@code fileName} (or {@code backendName}); a
     * relative name is taken under {@code base} (global {@code server-state-base}) when set.
     */
    public String localFile(String backendName, String base) {
        String name = fileName != null ? fileName : backendName;
        if (name.startsWith("/") || base == null) return name;
        return base.endsWith("/") ? base + name : base + "/" + name;
    }
}
