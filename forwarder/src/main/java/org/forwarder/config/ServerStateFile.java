package org.forwarder.config;

/**
 * Global {@code server-state-file <path>} and {@code server-state-base <dir>}: where the
 * server state saved before a reload is read from (null: not set). A relative {@code file}
 * is taken under {@code base} when set, as in HAProxy.
 */
public record ServerStateFile(String base, String file) {

    public static final ServerStateFile NONE = new ServerStateFile(null, null);

    /** The global state file's path, or null when {@code server-state-file} is not set. */
    public String path() {
        if (file == null) return null;
        if (file.startsWith("/") || base == null) return file;
        return base.endsWith("/") ? base + file : base + "/" + file;
    }
}
