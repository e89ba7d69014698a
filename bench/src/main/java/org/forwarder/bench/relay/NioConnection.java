package org.forwarder.bench.relay;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

/**
 * One relayed connection of {@link NioRelay}: the accepted client socket and the backend socket,
 * each with the buffer of bytes read from it and not yet written to the other side.
 *
 * <p>Why it is shaped this way: back-pressure comes from interest ops alone (a side is read only
 * while its buffer has room, so a slow writer stops the reader without any queue); a buffer stays
 * in fill mode between events and is flipped/compacted around each write (compact moves bytes
 * inside the buffer, no allocation). An EOF is forwarded as shutdownOutput only once its buffer
 * has been written out, so no byte is lost on a half-close; any I/O error resets both sides
 * (SO_LINGER 0), as a proxy must not turn a reset into a clean end of stream.
 */
final class NioConnection {
    private final NioLoop loop;
    private final End client;
    private final End backend;
    private boolean connected;
    private boolean closed;

    NioConnection(NioLoop loop, SocketChannel clientChannel, InetSocketAddress target) throws IOException {
        this.loop = loop;
        SocketChannel backendChannel = SocketChannel.open();
        client = new End(clientChannel);
        backend = new End(backendChannel);
        client.peer = backend;
        backend.peer = client;
        Selector selector = loop.selector;
        try {
            clientChannel.configureBlocking(false);
            clientChannel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            backendChannel.configureBlocking(false);
            backendChannel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            client.in = loop.takeBuffer();
            backend.in = loop.takeBuffer();
            // The client is not read until the backend is there to take its bytes.
            client.key = clientChannel.register(selector, 0, client);
            if (backendChannel.connect(target)) {
                backend.key = backendChannel.register(selector, 0, backend);
                connected = true;
                updateInterest();
            } else {
                backend.key = backendChannel.register(selector, SelectionKey.OP_CONNECT, backend);
            }
        } catch (IOException | RuntimeException e) {
            abort();
            throw e;
        }
    }

    /** Called by the loop with the ready ops of one end's key. */
    void ready(End e, int ops) {
        if (closed) return;
        try {
            if ((ops & SelectionKey.OP_CONNECT) != 0) {
                if (!backend.channel.finishConnect()) return;
                connected = true;
            }
            if ((ops & SelectionKey.OP_READ) != 0) read(e);
            if (!closed && (ops & SelectionKey.OP_WRITE) != 0) flushTo(e);
            if (!closed) updateInterest();
        } catch (IOException | RuntimeException ex) {
            abort();
        }
    }

    private void read(End e) throws IOException {
        int n = e.channel.read(e.in);
        if (n < 0) e.inputEof = true;
        if (n != 0) flushTo(e.peer);
    }

    /** Writes what {@code dst}'s peer has buffered into {@code dst}; forwards its EOF once drained. */
    private void flushTo(End dst) throws IOException {
        ByteBuffer b = dst.peer.in;
        if (b.position() > 0) {
            b.flip();
            dst.channel.write(b);
            b.compact();
        }
        if (b.position() == 0 && dst.peer.inputEof && !dst.outputShut) {
            dst.channel.shutdownOutput();
            dst.outputShut = true;
            if (client.outputShut && backend.outputShut) close(false);
        }
    }

    private void updateInterest() {
        if (!connected) return;
        client.updateInterest();
        backend.updateInterest();
    }

    /** Resets both sides: an error on one is not a clean end on the other. */
    void abort() {
        close(true);
    }

    private void close(boolean reset) {
        if (closed) return;
        closed = true;
        client.close(reset);
        backend.close(reset);
        loop.giveBack(client.in);
        loop.giveBack(backend.in);
        client.in = null;
        backend.in = null;
    }

    /** One side of the connection. */
    final class End {
        final SocketChannel channel;
        SelectionKey key;
        End peer;
        /** Bytes read from this side, waiting to be written to the peer; kept in fill mode. */
        ByteBuffer in;
        boolean inputEof;
        boolean outputShut;

        End(SocketChannel channel) {
            this.channel = channel;
        }

        NioConnection connection() {
            return NioConnection.this;
        }

        void updateInterest() {
            int ops = 0;
            if (!inputEof && in.hasRemaining()) ops |= SelectionKey.OP_READ;
            if (peer.in.position() > 0 && !outputShut) ops |= SelectionKey.OP_WRITE;
            if (key.interestOps() != ops) key.interestOps(ops);
        }

        void close(boolean reset) {
            try {
                if (reset && channel.isOpen()) channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            } catch (IOException | RuntimeException ignored) {
                // the socket is already gone; closing it is all that is left
            }
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to release
            }
        }
    }
}
