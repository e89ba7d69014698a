package org.forwarder.bench.load;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * Ping-pong on persistent connections: each connection has one message in flight; when its echo
 * is complete and byte-exact, the next message (new content) goes out at once. Latency is from the
 * first write of a message to the last byte of its echo. A connection that fails is counted and
 * closed, not reopened: the run goes on with the others, and the error count says so.
 */
final class PingPongDriver extends Driver {
    private static final class Conn {
        final int id;
        final ByteBuffer send;
        final ByteBuffer recv;
        SocketChannel ch;
        SelectionKey key;
        long seq;
        long startNs;
        long deadlineNs;
        /** A message is out and its echo not complete. */
        boolean waiting;

        Conn(int id, int size) {
            this.id = id;
            this.send = ByteBuffer.allocateDirect(size);
            this.recv = ByteBuffer.allocateDirect(size);
        }
    }

    private final Conn[] conns;
    private int live;
    /** Connections with a message out and its echo not yet complete. */
    private int outstanding;

    /** Drives the connections numbered {@code ids} (numbers make the payloads differ between connections). */
    PingPongDriver(Plan plan, int[] ids) throws IOException {
        super(plan);
        conns = new Conn[ids.length];
        for (int i = 0; i < ids.length; i++) conns[i] = new Conn(ids[i], plan.size());
    }

    @Override
    void begin(long now) {
        for (Conn c : conns) {
            try {
                c.ch = SocketChannel.open();
            } catch (IOException e) {
                errors.add(e);
                continue;
            }
            live++;
            try {
                c.deadlineNs = now + plan.opTimeoutNs();
                boolean done = connect(c.ch);
                c.key = c.ch.register(selector, done ? 0 : SelectionKey.OP_CONNECT, c);
                if (done) send(c);
            } catch (IOException e) {
                fail(c, e);
            }
        }
    }

    @Override
    String stopCondition(long now) {
        // after the window, the echoes still on their way are awaited (or time out): a clean close
        if (now - plan.measureEndNs() >= 0 && outstanding == 0) return "time";
        if (live == 0) return "no-connections";
        return super.stopCondition(now);
    }

    @Override
    void onReady(SelectionKey key) {
        Conn c = (Conn) key.attachment();
        try {
            if (key.isConnectable()) {
                if (c.ch.finishConnect()) send(c);
                return;
            }
            if (key.isWritable()) {
                c.ch.write(c.send);
                if (!c.send.hasRemaining()) key.interestOps(SelectionKey.OP_READ);
                return;
            }
            if (key.isReadable()) receive(c);
        } catch (IOException e) {
            fail(c, e);
        } catch (CancelledKeyException e) {
            // closed earlier in this pass: nothing left to do for it
        }
    }

    /** Starts the next message of {@code c}, unless the measurement window is over. */
    private void send(Conn c) throws IOException {
        if (System.nanoTime() - plan.measureEndNs() >= 0) {
            c.key.interestOps(0);
            return;
        }
        c.seq++;
        c.waiting = true;
        outstanding++;
        Payload.fill(c.send, plan.size(), c.id, c.seq);
        c.recv.clear().limit(plan.size());
        c.startNs = System.nanoTime();
        c.deadlineNs = c.startNs + plan.opTimeoutNs();
        c.ch.write(c.send);
        c.key.interestOps(c.send.hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
    }

    private void receive(Conn c) throws IOException {
        int n = c.ch.read(c.recv);
        if (n < 0) {
            errors.add(ErrorCounts.Kind.SHORT);
            drop(c);
            return;
        }
        if (c.send.hasRemaining()) {
            // echo of bytes not yet (all) sent: a real echo cannot do that
            errors.add(ErrorCounts.Kind.MISMATCH);
            drop(c);
            return;
        }
        if (c.recv.hasRemaining()) return;
        long end = System.nanoTime();
        if (Payload.mismatch(c.send, c.recv, plan.size()) >= 0) {
            errors.add(ErrorCounts.Kind.MISMATCH);
            drop(c);
            return;
        }
        c.waiting = false;
        outstanding--;
        completed(c.startNs, end);
        send(c);
    }

    @Override
    void expire(long now) {
        for (Conn c : conns) {
            if (c.ch != null && (c.waiting || c.seq == 0) && now - c.deadlineNs > 0) {
                errors.add(ErrorCounts.Kind.TIMEOUT);
                drop(c);
            }
        }
    }

    private void fail(Conn c, IOException e) {
        errors.add(e);
        drop(c);
    }

    private void drop(Conn c) {
        if (c.ch == null) return;
        if (c.waiting) {
            c.waiting = false;
            outstanding--;
        }
        close(c.ch);
        c.ch = null;
        c.key = null;
        live--;
    }

    @Override
    void closeAll() {
        for (Conn c : conns) {
            if (c.ch != null) {
                close(c.ch);
                c.ch = null;
            }
        }
    }
}
