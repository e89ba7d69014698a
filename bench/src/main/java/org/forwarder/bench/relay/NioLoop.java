package org.forwarder.bench.relay;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * One selector thread of {@link NioRelay}. Loop 0 also accepts and deals new connections round
 * robin; a connection handed to another loop goes through that loop's queue and a wakeup, so
 * each connection is only ever touched by its own thread. Direct buffers are kept in a per-loop
 * free list so connection churn does not lean on the Cleaner to give native memory back.
 */
final class NioLoop implements Runnable {
    private static final int FREE_BUFFERS_KEPT = 1024;

    final Selector selector;
    private final InetSocketAddress target;
    private final ConcurrentLinkedQueue<SocketChannel> incoming = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<ByteBuffer> freeBuffers = new ArrayDeque<>();
    private final Consumer<SelectionKey> onKey = this::onKey;
    private ServerSocketChannel server;
    private NioLoop[] loops;
    private int next;
    private volatile boolean running = true;

    NioLoop(InetSocketAddress target) throws IOException {
        this.selector = Selector.open();
        this.target = target;
    }

    /** Makes this loop the acceptor, dealing connections over {@code all}. Before the thread starts. */
    void acceptFor(ServerSocketChannel server, NioLoop[] all) throws IOException {
        this.server = server;
        this.loops = all;
        server.register(selector, SelectionKey.OP_ACCEPT, this);
    }

    void hand(SocketChannel ch) {
        incoming.add(ch);
        selector.wakeup();
    }

    void stop() {
        running = false;
        selector.wakeup();
    }

    @Override
    public void run() {
        try {
            while (running) {
                selector.select(onKey);
                SocketChannel ch;
                while ((ch = incoming.poll()) != null) adopt(ch);
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("nio relay loop: " + e);
        } finally {
            for (SelectionKey k : selector.keys()) {
                if (k.attachment() instanceof NioConnection.End e) e.connection().abort();
            }
            SocketChannel ch;
            while ((ch = incoming.poll()) != null) closeQuietly(ch);
            try {
                selector.close();
            } catch (IOException ignored) {
                // exiting anyway
            }
        }
    }

    private void onKey(SelectionKey k) {
        if (!k.isValid()) return;
        if (k.attachment() instanceof NioConnection.End e) {
            e.connection().ready(e, k.readyOps());
        } else {
            acceptAll();
        }
    }

    private void acceptAll() {
        for (int i = 0; i < 64; i++) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                return; // e.g. EMFILE: the listen queue keeps the client until a later round
            }
            if (ch == null) return;
            NioLoop to = loops[next];
            next = (next + 1) % loops.length;
            if (to == this) adopt(ch);
            else to.hand(ch);
        }
    }

    private void adopt(SocketChannel ch) {
        try {
            new NioConnection(this, ch, target);
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
        }
    }

    ByteBuffer takeBuffer() {
        ByteBuffer b = freeBuffers.poll();
        return b != null ? b.clear() : ByteBuffer.allocateDirect(NioRelay.BUFFER_BYTES);
    }

    void giveBack(ByteBuffer b) {
        if (b != null && freeBuffers.size() < FREE_BUFFERS_KEPT) freeBuffers.push(b);
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing more to release
        }
    }
}
