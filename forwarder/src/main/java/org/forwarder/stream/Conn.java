package org.forwarder.stream;

import org.forwarder.poll.FdHandler;

/** One socket of a stream (the client's or the server's); routes its fd events to the stream. */
final class Conn implements FdHandler {
    final Stream stream;
    final boolean isClient;
    int fd = -1;
    /** Last time bytes moved on this socket, in poller milliseconds. */
    long lastIo;

    Conn(Stream stream, boolean isClient) {
        this.stream = stream;
        this.isClient = isClient;
    }

    @Override
    public void onIo(int fd) {
        stream.onIo(this);
    }

    @Override
    public String toString() {
        return (isClient ? "client" : "server") + " fd " + fd;
    }
}
