package org.forwarder.stream;

import org.forwarder.poll.FdHandler;

/** One socket of a stream (the client's or the server's); routes its fd events to its owner. */
public final class Conn implements FdHandler {
    private final ChannelOwner owner;
    public final boolean isClient;
    public int fd = -1;
    /**
     * Start of the wait for this peer to send, in poller milliseconds: the last byte read from it,
     * the last byte written to it (as in HAProxy, writing to a side also refreshes its read
     * timeout), or the moment reading it resumed after we had held it back.
     */
    public long readSince;
    /** Start of the wait for this peer to take bytes: the last write to it, or when bytes for it arrived. */
    public long writeSince;
    /** The peer reset the connection (or an I/O error): nothing more is sent to it. */
    public boolean failed;

    /** Every mutable field above, for a new stream (the object is pooled with its session): socket {@code fd}, or -1. */
    public void init(int fd) {
        this.fd = fd;
        this.readSince = 0;
        this.writeSince = 0;
        this.failed = false;
    }

    public Conn(ChannelOwner owner, boolean isClient) {
        this.owner = owner;
        this.isClient = isClient;
    }

    @Override
    public void onIo(int fd) {
        owner.onIo(this);
    }

    @Override
    public String toString() {
        return (isClient ? "client" : "server") + " fd " + fd;
    }
}
