package org.forwarder.metrics;

import org.forwarder.io.ArraySend;
import org.forwarder.io.LingeringClose;
import org.forwarder.poll.FdHandler;
import org.forwarder.poll.FdTab;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;

/**
 * One scraper's HTTP/1.x connection. Bytes go into a bounded head buffer ({@link #HEAD_MAX});
 * each complete request head is answered ({@link HttpAnswers}) and the connection kept for the
 * next request unless the client or the answer closes it. A head longer than the buffer gets
 * HAProxy's 400 and the close. While an answer waits for the client to read it, nothing more is
 * read, so a client that never reads holds at most one page. A connection idle for the
 * frontend's timeout (nothing received and nothing sent) is closed.
 */
final class HttpConnection extends org.forwarder.poll.Task implements FdHandler {
    static final int HEAD_MAX = 8 * 1024;

    private final Exporter owner;
    private final Syscalls sys;
    private final FdTab fdTab;
    private final int fd;
    private final byte[] in = new byte[HEAD_MAX];
    private int inLen;
    private byte[] out;
    private int outOff;
    private boolean closing;   // answer what is pending, then close
    private boolean closed;
    private boolean lingering; // answered, write side shut: discard input until the client closes

    HttpConnection(Exporter owner, int fd) {
        this.owner = owner;
        this.sys = owner.poller.sys();
        this.fdTab = owner.poller.fdTab();
        this.fd = fd;
    }

    void start() {
        fdTab.register(fd, this, true, true);
        fdTab.wantRecv(fd);
        armTimer();
    }

    private void armTimer() {
        owner.poller.timers().schedule(this, owner.poller.now() + owner.config.timeoutMs());
    }

    @Override
    protected void onTimer(long nowMs) {
        close();
    }

    /** Woken to answer the next pipelined request (see {@link #onIo}). */
    @Override
    protected void run() {
        onIo(0);
    }

    /**
     * Answers at most one request per call: a client that pipelines many requests of a large page
     * gets the next one at the end of the loop's pass (woken through the run queue), so the stats
     * sockets and the other scrapers on this loop are served in between.
     */
    @Override
    public void onIo(int ignored) {
        if (closed) return;
        if (lingering) {
            discard();
            return;
        }
        boolean answered = false;
        while (!closed) {
            if (pending()) {
                flush();
                if (closed || pending()) return;
            }
            if (closing) {
                finish();
                return;
            }
            if (answered && inLen > 0) {
                owner.poller.wake(this); // the next request after the others had their turn
                return;
            }
            if (answerBuffered()) {
                answered = true;
                continue;
            }
            int room = HEAD_MAX - inLen;
            if (room == 0) { // a head longer than we take
                answer(HttpAnswers.BAD_REQUEST, false);
                continue;
            }
            long n = sys.recv(fd, owner.io, 0, Math.min(room, Exporter.IO_CHUNK), SockConst.MSG_DONTWAIT);
            if (n == -Errno.EAGAIN) {
                fdTab.cantRecv(fd);
                return;
            }
            if (n == -Errno.EINTR) continue;
            if (n <= 0) { // peer closed or error
                close();
                return;
            }
            MemorySegment.copy(owner.io, ValueLayout.JAVA_BYTE, 0, in, inLen, (int) n);
            inLen += (int) n;
            armTimer();
        }
    }

    /** Answers the first complete request in the buffer, if there is one; true if it did. */
    private boolean answerBuffered() {
        int blank = 0; // empty lines before a request line are ignored, as HAProxy (and RFC 9112) does
        while (blank < inLen && (in[blank] == '\r' || in[blank] == '\n')) blank++;
        if (blank > 0) {
            System.arraycopy(in, blank, in, 0, inLen - blank);
            inLen -= blank;
        }
        if (inLen == 0) return false;
        HttpRequest r = HttpRequest.parse(in, inLen);
        if (r == null) return false;
        if (r.bad()) {
            answer(HttpAnswers.BAD_REQUEST, false);
            return true;
        }
        System.arraycopy(in, r.length(), in, 0, inLen - r.length());
        inLen -= r.length();
        if (!r.path().equals(org.forwarder.config.PrometheusConfig.PATH)) {
            answer(HttpAnswers.unavailable(r), r.keepAlive());
            return true;
        }
        Set<MetricsText.Section> scopes = HttpAnswers.scopes(r.query());
        if (scopes == null) {
            answer(HttpAnswers.BAD_REQUEST, false);
            return true;
        }
        answer(HttpAnswers.metrics(r, owner.scrape.text(scopes)), r.keepAlive());
        return true;
    }

    private void answer(byte[] bytes, boolean keep) {
        out = bytes;
        outOff = 0;
        if (!keep) {
            closing = true;
            inLen = 0; // what follows a closing answer is never read
        }
    }

    private boolean pending() {
        return out != null && outOff < out.length;
    }

    private void flush() {
        int sent = ArraySend.send(sys, fdTab, fd, out, outOff, out.length, owner.io, Exporter.IO_CHUNK);
        if (sent < 0) {
            close();
            return;
        }
        if (sent > outOff) armTimer(); // the client reads: it is not idle
        outOff = sent;
        if (outOff < out.length) return; // the rest when the socket has room
        out = null;
        outOff = 0;
        fdTab.stopSend(fd);
        fdTab.mayRecv(fd); // the next request may already wait in the socket
    }

    /**
     * Closes once everything is answered. If the client sent bytes we did not read, a plain
     * close would reset the connection and could destroy the answer in flight: then shut the
     * write side and read and drop what comes until the client closes (or the timeout).
     */
    private void finish() {
        if (!LingeringClose.unread(sys, fd, owner.io)) { // nothing unread (or the peer is gone): a plain close loses nothing
            close();
            return;
        }
        lingering = true;
        LingeringClose.shutWrite(sys, fdTab, fd);
        discard();
    }

    private void discard() {
        if (LingeringClose.discard(sys, fdTab, fd, owner.io, Exporter.IO_CHUNK)) close();
    }

    void close() {
        if (closed) return;
        closed = true;
        owner.poller.timers().cancel(this);
        fdTab.unregister(fd);
        sys.close(fd);
        owner.closed(this);
    }
}
