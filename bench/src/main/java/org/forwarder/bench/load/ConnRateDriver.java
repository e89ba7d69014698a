package org.forwarder.bench.load;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * Connection churn: each worker slot repeatedly connects, sends one message, reads its echo
 * (byte-exact), closes, and starts over. Latency is from the connect call to the close after the
 * verified echo. A failed attempt is counted by kind and its slot starts again after the next
 * select (never in a tight loop inside one pass), so a refusing target gives a bounded stream of
 * counted errors instead of a stall or a silent zero.
 */
final class ConnRateDriver extends Driver {
    private static final class Slot {
        final int id;
        final ByteBuffer send;
        final ByteBuffer recv;
        SocketChannel ch;
        SelectionKey key;
        long seq;
        long startNs;
        long deadlineNs;
        boolean waiting;

        Slot(int id, int size) {
            this.id = id;
            this.send = ByteBuffer.allocateDirect(size);
            this.recv = ByteBuffer.allocateDirect(size);
        }
    }

    private final Slot[] slots;
    private int waiting;
    /** Slots with a connection open or opening. */
    private int open;

    ConnRateDriver(Plan plan, int[] ids) throws IOException {
        super(plan);
        slots = new Slot[ids.length];
        for (int i = 0; i < ids.length; i++) slots[i] = new Slot(ids[i], plan.size());
    }

    @Override
    void begin(long now) {
        for (Slot s : slots) start(s);
    }

    @Override
    String stopCondition(long now) {
        // after the window, the connections under way finish (or time out): a clean close
        if (now - plan.measureEndNs() >= 0 && open == 0) return "time";
        return super.stopCondition(now);
    }

    /** Opens a new connection for {@code s} and sends its message as soon as it is connected. */
    private void start(Slot s) {
        try {
            s.ch = SocketChannel.open();
        } catch (IOException e) {
            errors.add(e);
            retryLater(s);
            return;
        }
        open++;
        s.seq++;
        Payload.fill(s.send, plan.size(), s.id, s.seq);
        s.recv.clear().limit(plan.size());
        s.startNs = System.nanoTime();
        s.deadlineNs = s.startNs + plan.opTimeoutNs();
        try {
            boolean done = connect(s.ch);
            s.key = s.ch.register(selector, done ? 0 : SelectionKey.OP_CONNECT, s);
            if (done) write(s);
        } catch (IOException e) {
            fail(s, e);
        }
    }

    @Override
    void onReady(SelectionKey key) {
        Slot s = (Slot) key.attachment();
        if (s.ch == null || s.key != key) return;   // a key of an earlier connection of this slot
        try {
            if (key.isConnectable()) {
                if (s.ch.finishConnect()) write(s);
            } else if (key.isWritable()) {
                write(s);
            } else if (key.isReadable()) {
                read(s);
            }
        } catch (IOException e) {
            fail(s, e);
        } catch (CancelledKeyException e) {
            // closed earlier in this pass
        }
    }

    private void write(Slot s) throws IOException {
        s.ch.write(s.send);
        s.key.interestOps(s.send.hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
    }

    private void read(Slot s) throws IOException {
        int n = s.ch.read(s.recv);
        if (n < 0) {
            failKind(s, ErrorCounts.Kind.SHORT);
            return;
        }
        if (s.recv.hasRemaining()) return;
        if (Payload.mismatch(s.send, s.recv, plan.size()) >= 0) {
            failKind(s, ErrorCounts.Kind.MISMATCH);
            return;
        }
        close(s.ch);
        long end = System.nanoTime();
        s.ch = null;
        s.key = null;
        open--;
        completed(s.startNs, end);
        if (end - plan.measureEndNs() < 0) start(s);
    }

    @Override
    void afterSelect(long now) {
        if (waiting == 0 || now - plan.measureEndNs() >= 0) return;
        for (Slot s : slots) {
            if (s.waiting) {
                s.waiting = false;
                waiting--;
                start(s);
            }
        }
    }

    @Override
    void expire(long now) {
        for (Slot s : slots) {
            if (s.ch != null && now - s.deadlineNs > 0) failKind(s, ErrorCounts.Kind.TIMEOUT);
        }
    }

    private void fail(Slot s, IOException e) {
        errors.add(e);
        abandon(s);
    }

    private void failKind(Slot s, ErrorCounts.Kind kind) {
        errors.add(kind);
        abandon(s);
    }

    private void abandon(Slot s) {
        if (s.ch != null) open--;
        close(s.ch);
        s.ch = null;
        s.key = null;
        retryLater(s);
    }

    private void retryLater(Slot s) {
        if (!s.waiting) {
            s.waiting = true;
            waiting++;
        }
    }

    @Override
    void closeAll() {
        for (Slot s : slots) {
            close(s.ch);
            s.ch = null;
        }
    }
}
