package org.forwarder.stream;

import org.forwarder.io.BufferPool;
import org.forwarder.io.BufferWaiter;
import org.forwarder.io.PipePool;
import org.forwarder.io.RawSock;
import org.forwarder.poll.FdTab;
import org.forwarder.stats.Stats;
import org.forwarder.sys.Errno;

import java.lang.foreign.MemorySegment;

/**
 * One direction of a stream: bytes read from {@code src} and written to {@code dst}, through a
 * pooled buffer (copy) or a pooled pipe (splice), never both at once: a direction splices only
 * while its buffer is empty and copies only while its pipe is empty, so bytes cannot overtake
 * each other. The FIN is forwarded only once both are empty.
 *
 * <p>The reader is re-armed by the writer only when the writer moved bytes: a failed or empty
 * send never wakes the receive side (HAProxy's 1.5 splice livelock came from exactly that).
 */
final class Channel extends BufferWaiter {
    /** Stop splicing in once the pipe holds about 16 full segments; then push them out. */
    static final int SPLICE_FULL_HINT = 16 * 1448;
    /** Consecutive reads that fill the whole buffer before splice-auto calls it a fast streamer. */
    private static final int STREAMER_READS = 2;
    /** Receive/forward rounds per wake-up, so one busy stream cannot starve the others. */
    private static final int MAX_ROUNDS = 8;

    private final Stream s;
    private final Conn src;
    private final Conn dst;
    private final int dir;
    private final boolean urgent;
    private final FdTab fdt;
    private final RawSock raw;
    private final BufferPool pool;
    private final PipePool pipes;
    private final Stats stats;

    private int bufId = -1;
    private MemorySegment buf;
    private int head;
    private int tail;

    private long pipe = -1;
    private int pipeLen;
    private boolean spliceWanted;
    private final boolean spliceAuto;
    private boolean spliceDisabled;
    private int fullReads;

    /** End of stream read from src. */
    boolean srcShut;
    /** FIN sent to dst. */
    boolean dstShut;
    /** Reading paused until the writer makes room. */
    private boolean roomWait;
    /** The last read filled the whole buffer: more bytes are probably waiting right behind. */
    private boolean lastReadFull;
    /** A send said MSG_MORE: dst may hold a partial segment until we push. */
    private boolean corked;

    Channel(Stream s, Conn src, Conn dst, int dir, boolean splice, boolean spliceAuto) {
        this.s = s;
        this.src = src;
        this.dst = dst;
        this.dir = dir;
        // responses release server slots, which queued requests wait for: they may use the reserve
        this.urgent = dir == Stats.RESPONSE;
        this.fdt = s.worker.fdTab();
        this.raw = s.worker.raw();
        this.pool = s.worker.buffers();
        this.pipes = s.worker.pipes();
        this.stats = s.worker.stats();
        this.spliceWanted = splice;
        this.spliceAuto = spliceAuto;
    }

    boolean isEmpty() {
        return head == tail && pipeLen == 0;
    }

    /** src is readable: read and forward, a bounded number of rounds. */
    void onReadable() {
        for (int round = 0; round < MAX_ROUNDS && !s.closed; round++) {
            long got = receiveOnce();
            if (got <= 0 || s.closed || !s.established) break; // before connect, hold the bytes
            forward();
            if (s.closed || !isEmpty()) break; // dst is full: its writability resumes us
        }
        if (!s.closed) afterIo();
    }

    /** dst is writable. */
    void onWritable() {
        forward();
        if (!s.closed) afterIo();
    }

    /** Forwards the FIN once everything before it is out. */
    void afterIo() {
        if (srcShut && !dstShut && s.established && isEmpty()) {
            shutdownDst();
        }
    }

    // ---- receiving -----------------------------------------------------------------------

    private long receiveOnce() {
        if (srcShut || !fdt.recvReady(src.fd)) return 0;
        if (spliceWanted && !spliceDisabled && head == tail && (pipe >= 0 || takePipe())) {
            return spliceIn();
        }
        if (pipeLen > 0) {
            pauseRecv(); // bytes in the pipe go first
            return 0;
        }
        return copyIn();
    }

    private long copyIn() {
        if (bufId < 0 && !takeBuffer()) return 0;
        int room = (int) buf.byteSize() - tail;
        if (room == 0) {
            pauseRecv();
            return 0;
        }
        long n = raw.recv(src.fd, buf, tail, room);
        if (n > 0) {
            tail += (int) n;
            stats.bytesCopied[dir] += n;
            src.lastIo = s.now();
            lastReadFull = n == room;
            if (n == room && room == buf.byteSize()) {
                if (++fullReads >= STREAMER_READS && spliceAuto) spliceWanted = true;
            } else {
                fullReads = 0;
            }
            if (n < room && fdt.peerShutWrite(src.fd)) {
                readShut(); // drained after a FIN: the next recv would only say 0
            }
            return n;
        }
        if (n == RawSock.AGAIN) {
            lastReadFull = false;
            uncork();
            releaseBufferIfEmpty();
            return 0;
        }
        if (n == RawSock.SHUT) {
            readShut();
            return 0;
        }
        s.abort();
        return 0;
    }

    /** The bytes MSG_MORE promised are not coming now: let the kernel send what it holds. */
    private void uncork() {
        if (corked && s.established) {
            corked = false;
            raw.push(dst.fd);
        }
    }

    private long spliceIn() {
        int cap = pipes.capacity(pipe);
        long total = 0;
        while (true) {
            int room = cap - pipeLen;
            if (pipeLen >= SPLICE_FULL_HINT || room <= 0) {
                pauseRecv();
                break;
            }
            long n = raw.spliceIn(src.fd, PipePool.writeFd(pipe), room);
            if (n > 0) {
                pipeLen += (int) n;
                total += n;
                stats.bytesSpliced[dir] += n;
                src.lastIo = s.now();
                continue;
            }
            if (n == RawSock.AGAIN) {
                // splice cannot tell "no data" from "pipe full": with bytes in the pipe, wait for
                // the writer to drain it; with an empty pipe, the socket really is empty
                if (pipeLen > 0) {
                    pauseRecv();
                } else {
                    fdt.cantRecv(src.fd);
                    uncork(); // copied sends before the switch to splice may still be held
                }
                break;
            }
            if (n == RawSock.SHUT) {
                readShut();
                break;
            }
            int e = raw.lastErrno();
            if (e == Errno.EBADF || e == Errno.EINVAL || e == Errno.ENOSYS) {
                // the kernel refuses splice on this stream: both directions carry on with
                // recv/send; bytes already in a pipe are sent first, so nothing is lost
                s.spliceFailed();
                return total > 0 ? total : (pipeLen == 0 ? copyIn() : 0);
            }
            s.abort();
            return 0;
        }
        if (pipeLen == 0) releasePipe();
        return total;
    }

    /** No more splicing in this direction; a pipe still holding bytes drains first. */
    void disableSplice() {
        spliceDisabled = true;
        if (pipeLen == 0) releasePipe();
    }

    private void readShut() {
        srcShut = true;
        fdt.stopRecv(src.fd);
        releaseBufferIfEmpty();
        s.halfClosed();
    }

    private void pauseRecv() {
        roomWait = true;
        fdt.stopRecv(src.fd);
    }

    /** Called only after the writer moved bytes. */
    private void resumeRecv() {
        if (!roomWait || srcShut) return;
        boolean room = pipeLen > 0 ? pipeLen < SPLICE_FULL_HINT : (bufId < 0 || tail < buf.byteSize());
        if (room) {
            roomWait = false;
            fdt.wantRecv(src.fd);
        }
    }

    // ---- sending -------------------------------------------------------------------------

    /** Sends what is held to dst, if dst can take it. */
    void forward() {
        if (!s.established) return;
        if (pipeLen > 0) spliceOut();
        else if (head < tail) copyOut();
    }

    private void copyOut() {
        if (!dstReady()) return;
        // after a full read more is coming: let the kernel merge our 16 KiB sends into full
        // segments (fewer packets, acks and peer wake-ups per byte); a short read sends plainly,
        // which also pushes anything held before
        boolean more = lastReadFull && !srcShut;
        long n = raw.send(dst.fd, buf, head, tail - head, more);
        if (n > 0) {
            corked = more;
            head += (int) n;
            if (head == tail) releaseBufferIfEmpty();
            else compactIfWorthIt();
        }
        afterSend(n);
    }

    private void compactIfWorthIt() {
        // after a partial send into a full buffer, move the small remainder down so reading
        // can go on while the peer drains; at most half a buffer is copied
        int size = (int) buf.byteSize();
        if (tail == size && head >= size / 2) {
            MemorySegment.copy(buf, head, buf, 0, tail - head);
            tail -= head;
            head = 0;
        }
    }

    private void spliceOut() {
        if (!dstReady()) return;
        long n = raw.spliceOut(PipePool.readFd(pipe), dst.fd, pipeLen);
        if (n > 0) {
            pipeLen -= (int) n;
            if (pipeLen == 0) releasePipe();
        }
        afterSend(n);
    }

    /** Whether dst may be written now; if not, poll it for room. */
    private boolean dstReady() {
        if (fdt.sendReady(dst.fd)) return true;
        fdt.wantSend(dst.fd);
        return false;
    }

    /**
     * After a send or splice-out of {@code n}: poll for room while bytes remain, and wake the
     * reader only when bytes actually moved (a failed or empty send never re-arms it).
     */
    private void afterSend(long n) {
        if (n > 0) {
            dst.lastIo = s.now();
            if (isEmpty()) fdt.stopSend(dst.fd);
            else fdt.wantSend(dst.fd);
            resumeRecv();
        } else if (n == RawSock.AGAIN) {
            fdt.wantSend(dst.fd);
        } else {
            s.abort();
        }
    }

    private void shutdownDst() {
        dstShut = true;
        fdt.stopSend(dst.fd);
        s.worker.sys().shutdown(dst.fd, org.forwarder.linux.Linux.SHUT_WR());
        s.halfClosed();
    }

    // ---- resources -----------------------------------------------------------------------

    private boolean takeBuffer() {
        int id = takeGranted();
        if (id < 0) id = pool.acquire(urgent);
        if (id < 0) {
            pool.await(this, urgent);
            fdt.stopRecv(src.fd);
            uncork(); // the wait may be long
            return false;
        }
        bufId = id;
        buf = pool.segment(id);
        head = tail = 0;
        return true;
    }

    @Override
    protected void onBufferGranted() {
        // the buffer is ours; reading resumes and takes it
        if (!srcShut && !s.closed) fdt.wantRecv(src.fd);
    }

    private void releaseBufferIfEmpty() {
        if (bufId >= 0 && head == tail) {
            pool.release(bufId);
            bufId = -1;
            buf = null;
            head = tail = 0;
        }
    }

    private boolean takePipe() {
        long p = pipes.acquire();
        if (p < 0) return false; // none left: copy this time, try again later
        pipe = p;
        pipeLen = 0;
        return true;
    }

    private void releasePipe() {
        if (pipe >= 0) {
            pipes.release(pipe, pipeLen == 0);
            pipe = -1;
            pipeLen = 0;
        }
    }

    /** Gives everything back (the stream is closing). */
    void release() {
        pool.cancel(this);
        if (bufId >= 0) {
            pool.release(bufId);
            bufId = -1;
            buf = null;
        }
        releasePipe();
    }
}
