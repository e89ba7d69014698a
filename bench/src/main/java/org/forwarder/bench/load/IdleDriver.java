package org.forwarder.bench.load;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * Many idle connections, to measure what an open connection costs the process in the middle.
 * Opens its share with at most {@code inflight} attempts at a time (a burst of thousands of SYNs
 * would overflow the listen backlog and turn into retransmission delays), sends one message on
 * each and verifies its echo (so the far side is connected too), then holds them until released.
 * While held, every connection is watched: an end of stream or an unexpected byte is counted.
 */
final class IdleDriver extends Driver {
    private static final class Conn {
        final int id;
        final ByteBuffer send;
        final ByteBuffer recv;
        SocketChannel ch;
        SelectionKey key;
        long startNs;
        long deadlineNs;
        boolean verified;

        Conn(int id, int size) {
            this.id = id;
            this.send = ByteBuffer.allocateDirect(size);
            this.recv = ByteBuffer.allocateDirect(size);
        }
    }

    private final Conn[] conns;
    private final IdleControl control;
    private final int inflightMax;
    private final long openDeadlineNs;
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(1024);
    private int next;
    private int inflight;
    private long verified;
    private long failed;
    private boolean reported;
    private long heldAtEnd;

    IdleDriver(Plan plan, int[] ids, IdleControl control, int inflightMax, long openDeadlineNs) throws IOException {
        super(plan);
        this.control = control;
        this.inflightMax = inflightMax;
        this.openDeadlineNs = openDeadlineNs;
        conns = new Conn[ids.length];
        for (int i = 0; i < ids.length; i++) conns[i] = new Conn(ids[i], plan.size());
    }

    @Override
    void begin(long now) {
        openMore(now);
        report();
    }

    @Override
    String stopCondition(long now) {
        if (control.released) return "released";
        return super.stopCondition(now);
    }

    private void openMore(long now) {
        while (inflight < inflightMax && next < conns.length && now - openDeadlineNs < 0) {
            Conn c = conns[next++];
            try {
                c.ch = SocketChannel.open();
            } catch (IOException e) {
                errors.add(e);
                failed++;
                continue;
            }
            inflight++;
            Payload.fill(c.send, plan.size(), c.id, 1);
            c.recv.clear().limit(plan.size());
            c.startNs = System.nanoTime();
            c.deadlineNs = c.startNs + plan.opTimeoutNs();
            try {
                boolean done = connect(c.ch);
                c.key = c.ch.register(selector, done ? 0 : SelectionKey.OP_CONNECT, c);
                if (done) write(c);
            } catch (IOException e) {
                fail(c, e);
            }
        }
    }

    @Override
    void onReady(SelectionKey key) {
        Conn c = (Conn) key.attachment();
        if (c.ch == null) return;
        try {
            if (key.isConnectable()) {
                if (c.ch.finishConnect()) write(c);
            } else if (key.isWritable()) {
                write(c);
            } else if (key.isReadable()) {
                if (c.verified) watch(c);
                else read(c);
            }
        } catch (IOException e) {
            fail(c, e);
        } catch (CancelledKeyException e) {
            // closed earlier in this pass
        }
    }

    private void write(Conn c) throws IOException {
        c.ch.write(c.send);
        c.key.interestOps(c.send.hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
    }

    private void read(Conn c) throws IOException {
        int n = c.ch.read(c.recv);
        if (n < 0) {
            failKind(c, ErrorCounts.Kind.SHORT);
            return;
        }
        if (c.recv.hasRemaining()) return;
        if (Payload.mismatch(c.send, c.recv, plan.size()) >= 0) {
            failKind(c, ErrorCounts.Kind.MISMATCH);
            return;
        }
        completed(c.startNs, System.nanoTime());
        c.verified = true;
        verified++;
        inflight--;
    }

    /** A held connection became readable: the far side closed it or sent what nobody asked for. */
    private void watch(Conn c) throws IOException {
        scratch.clear();
        int n = c.ch.read(scratch);
        if (n == 0) return;
        errors.add(n < 0 ? ErrorCounts.Kind.DROPPED : ErrorCounts.Kind.MISMATCH);
        close(c.ch);
        c.ch = null;
    }

    @Override
    void afterSelect(long now) {
        openMore(now);
        report();
    }

    /** Tells the main thread once that this driver is done opening. */
    private void report() {
        if (reported || inflight > 0) return;
        if (next < conns.length && System.nanoTime() - openDeadlineNs < 0) return;
        if (next < conns.length) {   // the open phase ran out of time: the rest were never tried
            for (int i = next; i < conns.length; i++) errors.add(ErrorCounts.Kind.TIMEOUT);
            failed += conns.length - next;
            next = conns.length;
        }
        reported = true;
        control.doneOpening(verified, failed);
    }

    @Override
    void expire(long now) {
        for (Conn c : conns) {
            if (c.ch != null && !c.verified && now - c.deadlineNs > 0) failKind(c, ErrorCounts.Kind.TIMEOUT);
        }
        report();
    }

    private void fail(Conn c, IOException e) {
        errors.add(e);
        abandon(c);
    }

    private void failKind(Conn c, ErrorCounts.Kind kind) {
        errors.add(kind);
        abandon(c);
    }

    private void abandon(Conn c) {
        close(c.ch);
        c.ch = null;
        if (!c.verified) {
            inflight--;
            failed++;
        }
    }

    /** Connections verified and still open when the driver stopped. */
    long held() {
        return heldAtEnd;
    }

    @Override
    void closeAll() {
        for (Conn c : conns) if (c.ch != null && c.verified) heldAtEnd++;
        if (!reported) {
            reported = true;
            control.doneOpening(verified, failed + (conns.length - verified - failed));
        }
        for (Conn c : conns) {
            close(c.ch);
            c.ch = null;
        }
    }
}
