package org.forwarder.bench.load;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * One thread of the echo server: a selector over its share of the connections; loop 0 also owns
 * the listening socket and deals accepted connections round robin to the loops.
 *
 * <p>Why so: thousands of mostly idle connections must cost little, so a connection is a channel,
 * its key and a small record; the read buffer is one per loop. What is read is written straight
 * back; only if the socket will not take it all is the rest kept in a buffer of the connection's
 * own (allocated then, kept), and reading stops until it is gone: the echo never grows memory
 * without bound and never drops a byte. On end of stream the connection is closed once everything
 * read has been echoed.
 */
final class EchoLoop implements Runnable {
    private static final int READ_BUFFER = 64 * 1024;
    private static final int ACCEPTS_PER_WAKE = 256;

    private static final class Conn {
        final SocketChannel ch;
        ByteBuffer pending;
        boolean eof;

        Conn(SocketChannel ch) {
            this.ch = ch;
        }
    }

    final Selector selector;
    private final ConcurrentLinkedQueue<SocketChannel> handoff = new ConcurrentLinkedQueue<>();
    private final ByteBuffer buf = ByteBuffer.allocateDirect(READ_BUFFER);
    private ServerSocketChannel server;
    private EchoLoop[] loops;
    private int nextLoop;
    volatile boolean stop;

    volatile long accepted;
    volatile long closed;
    volatile long errors;
    volatile long bytes;
    private long bytesLocal;
    /** The first unexpected failure of the loop itself, if any. */
    volatile Throwable failure;

    EchoLoop() throws IOException {
        selector = Selector.open();
    }

    /** Makes this loop the acceptor for {@code server}, dealing connections to {@code all}. */
    void acceptFor(ServerSocketChannel server, EchoLoop[] all) throws IOException {
        this.server = server;
        this.loops = all;
        server.register(selector, SelectionKey.OP_ACCEPT, null);
    }

    @Override
    public void run() {
        Consumer<SelectionKey> onReady = this::onReady;
        try {
            while (!stop) {
                selector.select(onReady, 100);
                SocketChannel ch;
                while ((ch = handoff.poll()) != null) adopt(ch);
                if (bytesLocal != 0) {
                    bytes += bytesLocal;
                    bytesLocal = 0;
                }
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
        } finally {
            for (SelectionKey k : selector.keys()) {
                if (k.attachment() instanceof Conn c) closeConn(c, false);
            }
            SocketChannel ch;
            while ((ch = handoff.poll()) != null) closeQuietly(ch);
            try {
                selector.close();
            } catch (IOException e) {
                if (failure == null) failure = e;
            }
        }
    }

    private void onReady(SelectionKey key) {
        if (key.attachment() == null) {
            accept();
            return;
        }
        Conn c = (Conn) key.attachment();
        try {
            if (key.isWritable()) flush(c, key);
            if (key.isValid() && key.isReadable()) echo(c, key);
        } catch (IOException e) {
            closeConn(c, true);
        } catch (CancelledKeyException e) {
            // closed earlier in this pass
        }
    }

    private void accept() {
        for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                errors++;   // EMFILE and the like: count, and let the next wake try again
                return;
            }
            if (ch == null) return;
            accepted++;
            EchoLoop to = loops[nextLoop];
            nextLoop = (nextLoop + 1) % loops.length;
            if (to == this) {
                adopt(ch);
            } else {
                to.handoff.add(ch);
                to.selector.wakeup();
            }
        }
    }

    private void adopt(SocketChannel ch) {
        try {
            ch.configureBlocking(false);
            ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            ch.register(selector, SelectionKey.OP_READ, new Conn(ch));
        } catch (IOException e) {
            errors++;
            closeQuietly(ch);
        }
    }

    private void echo(Conn c, SelectionKey key) throws IOException {
        buf.clear();
        int n = c.ch.read(buf);
        if (n < 0) {
            c.eof = true;
            if (c.pending == null || !c.pending.hasRemaining()) closeConn(c, false);
            else key.interestOps(SelectionKey.OP_WRITE);
            return;
        }
        if (n == 0) return;
        bytesLocal += n;
        buf.flip();
        c.ch.write(buf);
        if (buf.hasRemaining()) {
            if (c.pending == null) c.pending = ByteBuffer.allocate(READ_BUFFER);
            c.pending.clear();
            c.pending.put(buf).flip();
            key.interestOps(SelectionKey.OP_WRITE);   // stop reading until the echo is out
        }
    }

    private void flush(Conn c, SelectionKey key) throws IOException {
        c.ch.write(c.pending);
        if (c.pending.hasRemaining()) return;
        if (c.eof) closeConn(c, false);
        else key.interestOps(SelectionKey.OP_READ);
    }

    private void closeConn(Conn c, boolean failed) {
        if (failed) errors++;
        if (c.ch.isOpen()) {
            closed++;
            closeQuietly(c.ch);
        }
    }

    private void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            errors++;
        }
    }
}
