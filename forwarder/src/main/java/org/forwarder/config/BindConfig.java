package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.Objects;

/** One listening address of a frontend; {@code where} ("file:line") points at its {@code bind} line for error messages. */
public record BindConfig(SockAddr address, String where) {
    public BindConfig {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(where, "where");
    }
}
