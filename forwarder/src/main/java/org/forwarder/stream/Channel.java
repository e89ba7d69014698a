package org.forwarder.stream;

import org.forwarder.io.BufferPool;
import org.forwarder.io.BufferWaiter;
import org.forwarder.io.PipePool;
import org.forwarder.io.RawSock;
import org.forwarder.io.Sock;
import org.forwarder.poll.FdTab;
import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.MemorySegment;

/**
 * One direction of a stream: bytes read from {@code src} and written to {@code dst}, through a
 * pooled buffer (copy) or a pooled pipe (splice), never both at once: a direction splices only
 * while its buffer is empty and copies only while its pipe is empty, so bytes cannot overtake
 * each other. The FIN is forwarded only once both are empty.
 *
 * <p>The reader is re-armed by the writer only when the writer moved bytes: a failed or empty
 * send never wakes the receive side (HAProxy's 1.5 splice livelock came from exactly that).
 *
 * <p>How a direction ends:
 * <pre>
 *   src says            what happens                                   then, once buffer and pipe are empty
 *   recv/splice 0       srcShut                                        FIN (shutdown SHUT_WR) to dst
 *   error / reset       srcShut; the bytes read before it stay         reset to dst (the stream aborts)
 *   -                   dst failed: {@link #drop} (bytes for a peer    -
 *                       that reset cannot be delivered)
 * </pre>
 * A short read after the peer's FIN (RDHUP) does not end the direction by itself: the next recv
 * decides, because a read also stops short at a TCP urgent mark with bytes still behind it.
 *
 * <p>Urgent (out-of-band) data: with SO_OOBINLINE off (the default), the urgent byte is not part
 * of the stream, as for a reader on a direct connection; recv steps over it and the bytes on both
 * sides of the mark are forwarded in order. splice() cannot step over the mark (it reports EAGAIN,
 * or 0 after a FIN, while epoll keeps saying readable), so a splice that moves nothing on a socket
 * epoll called readable, or that reports end of stream, is retried once with recv.
 */
public final class Channel extends BufferWaiter {
    /** Directions: client to server, server to client. */
    public static final int REQUEST = 0;
    public static final int RESPONSE = 1;
    /** Stop splicing in once the pipe holds about 16 full segments; then push them out. */
    static final int SPLICE_FULL_HINT = 16 * 1448;
    /** Consecutive reads that fill the whole buffer before splice-auto calls it a fast streamer. */
    private static final int STREAMER_READS = 2;
    /** Receive/forward rounds per wake-up, so one busy stream cannot starve the others. */
    private static final int MAX_ROUNDS = 8;

    private final ChannelOwner s;
    private final Syscalls sys;
    private final Conn src;
    private final Conn dst;
    private final int dir;
    private final boolean urgent;
    private final FdTab fdt;
    private final RawSock raw;
    private final BufferPool pool;
    private final PipePool pipes;
    private final CounterBlock<ProcessCounter> stats;
    private final ProcessCounter copied;
    private final ProcessCounter spliced;

    private int bufId = -1;
    private MemorySegment buf;
    private int head;
    private int tail;

    private long pipe = -1;
    private int pipeLen;
    private boolean spliceWanted;
    private boolean spliceAuto;
    private boolean spliceDisabled;
    private int fullReads;

    /** End of stream read from src. */
    boolean srcShut;
    /** FIN sent to dst. */
    boolean dstShut;

    /** End of stream (or an error) read from src. */
    public boolean srcShut() { return srcShut; }
    /** This direction is complete: FIN (or the reset) passed on to dst, or dropped. */
    public boolean dstShut() { return dstShut; }
    /** Reading paused until the writer makes room. */
    private boolean roomWait;
    /** Reading paused until the buffer pool grants a buffer. */
    private boolean bufferWait;
    /** dst failed: nothing more is read, held or sent here. */
    private boolean dropped;
    private boolean finSent;
    /** The last read filled the whole buffer: more bytes are probably waiting right behind. */
    private boolean lastReadFull;
    /** A send said MSG_MORE: dst may hold a partial segment until we push. */
    private boolean corked;

    /**
     * Every mutable field above, for a new stream ({@code splice}, {@code spliceAuto}: its
     * frontend's options): a channel is pooled with its session and its previous stream
     * {@link #release released} everything. The {@link BufferWaiter} part is left by
     * {@link BufferPool#cancel} (called again here, a no-op then): out of the pool's queue, no
     * buffer granted.
     */
    public void init(boolean splice, boolean spliceAuto) {
        pool.cancel(this);
        bufId = -1;
        buf = null;
        head = 0;
        tail = 0;
        pipe = -1;
        pipeLen = 0;
        this.spliceWanted = splice;
        this.spliceAuto = spliceAuto;
        spliceDisabled = false;
        fullReads = 0;
        srcShut = false;
        dstShut = false;
        roomWait = false;
        bufferWait = false;
        dropped = false;
        finSent = false;
        lastReadFull = false;
        corked = false;
    }

    /** Direction {@code dir} from {@code src} to {@code dst}; {@link #init} starts each stream. */
    public Channel(ChannelOwner s, IoContext io, Conn src, Conn dst, int dir) {
        this.s = s;
        this.src = src;
        this.dst = dst;
        this.dir = dir;
        // responses release server slots, which queued requests wait for: they may use the reserve
        this.urgent = dir == RESPONSE;
        this.fdt = io.fdTab();
        this.sys = io.sys();
        this.raw = io.raw();
        this.pool = io.buffers();
        this.pipes = io.pipes();
        this.stats = io.stats();
        this.copied = dir == REQUEST ? ProcessCounter.REQUEST_BYTES_COPIED : ProcessCounter.RESPONSE_BYTES_COPIED;
        this.spliced = dir == REQUEST ? ProcessCounter.REQUEST_BYTES_SPLICED : ProcessCounter.RESPONSE_BYTES_SPLICED;
    }

    public boolean isEmpty() {
        return head == tail && pipeLen == 0;
    }

    /** Bytes held here for dst (buffer and pipe). */
    public long pending() {
        return (long) (tail - head) + pipeLen;
    }

    /** src is being read and its silence is its own (we are not holding it back). */
    public boolean isReading() {
        return !srcShut && !roomWait && !bufferWait;
    }

    /** We stopped reading src while it may have more to send (no room, no buffer). */
    public boolean isHeldBack() {
        return !srcShut && (roomWait || bufferWait);
    }

    /** src is readable: read and forward, a bounded number of rounds. */
    public void onReadable() {
        for (int round = 0; round < MAX_ROUNDS && !s.isClosed(); round++) {
            long got = receiveOnce();
            if (got <= 0 || s.isClosed() || !s.isConnected()) break; // before connect, hold the bytes
            forward();
            if (s.isClosed() || !isEmpty()) break; // dst is full: its writability resumes us
        }
        if (!s.isClosed()) afterIo();
    }

    /** dst is writable. */
    public void onWritable() {
        forward();
        if (!s.isClosed()) afterIo();
    }

    /** Forwards the end of src once everything before it is out: a FIN, or the reset src sent. */
    public void afterIo() {
        if (srcShut && !dstShut && s.isConnected() && isEmpty()) {
            if (src.failed) {
                dstShut = true;
                s.passResetOn(dst);
            } else {
                shutdownDst();
            }
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
        boolean wasEmpty = isEmpty();
        long n = raw.recv(src.fd, buf, tail, room);
        if (n > 0) {
            tail += (int) n;
            bytesIn(n, copied, wasEmpty);
            lastReadFull = n == room;
            if (n == room && room == buf.byteSize()) {
                if (++fullReads >= STREAMER_READS && spliceAuto) spliceWanted = true;
            } else {
                fullReads = 0;
            }
            if (n < room && fdt.peerShutWrite(src.fd)) {
                // after a FIN a short read usually means drained, but it also stops at an urgent
                // mark with bytes behind it, and epoll has nothing new to say: ask recv once more
                fdt.mayRecv(src.fd);
            }
            return n;
        }
        if (n == RawSock.AGAIN && src.failed) {
            // never expected (a reset socket ends in 0), but its fd is out of epoll: an EAGAIN
            // here would be retried from the fd cache forever, so take it as the end
            srcError();
            return 0;
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
        srcError();
        return 0;
    }

    /**
     * {@code n} bytes arrived from src (copied or spliced, as {@code kind} counts them): counted,
     * src's read timeout restarts, and dst's write wait starts if the channel was empty.
     */
    private void bytesIn(long n, ProcessCounter kind, boolean wasEmpty) {
        stats.add(kind, n);
        s.bytesRead(dir, n, kind == spliced);
        long now = s.now();
        src.readSince = now;
        if (wasEmpty) {
            dst.writeSince = now;
            s.rearmTimer(); // a write timeout may now come before the armed deadline
        }
    }

    /**
     * recv or splice reported an error (a reset): every byte src sent before it has been read, so
     * the direction ends like a FIN, except that dst will get a reset once those bytes are out.
     */
    private void srcError() {
        srcShut = true;
        fdt.stopRecv(src.fd);
        s.peerFailed(src);
    }

    /** The bytes MSG_MORE promised are not coming now: let the kernel send what it holds. */
    private void uncork() {
        if (corked && s.isConnected()) {
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
            boolean wasEmpty = isEmpty();
            long n = raw.spliceIn(src.fd, PipePool.writeFd(pipe), room);
            if (n > 0) {
                if (total == 0) fdt.inEventConsumed(src.fd);
                pipeLen += (int) n;
                total += n;
                bytesIn(n, spliced, wasEmpty);
                continue;
            }
            if (n == RawSock.AGAIN || n == RawSock.SHUT) {
                if (pipeLen > 0) {
                    // "pipe full" and "no data" look alike (and so do "end" and "urgent mark"):
                    // let the writer drain the pipe, then ask again
                    pauseRecv();
                    break;
                }
                releasePipe();
                if (n == RawSock.AGAIN && !src.failed && !fdt.inEvent(src.fd)) {
                    fdt.cantRecv(src.fd); // empty, as expected: wait for epoll
                    uncork(); // copied sends before the switch to splice may still be held
                    return total;
                }
                return spliceStalled();
            }
            int e = raw.lastErrno();
            if (e == Errno.EBADF || e == Errno.EINVAL || e == Errno.ENOSYS) {
                // the kernel refuses splice on this stream: both directions carry on with
                // recv/send; bytes already in a pipe are sent first, so nothing is lost
                s.spliceFailed();
                return total > 0 ? total : (pipeLen == 0 ? copyIn() : 0);
            }
            srcError();
            return total;
        }
        return total;
    }

    /**
     * splice moved nothing into an empty pipe although epoll called the socket readable, or it
     * reported the end of the stream. Both happen at a TCP urgent mark, which splice cannot step
     * over (recv can). A one-byte peek, needing no buffer, tells which: bytes behind the mark,
     * or the end, are read with recv (which also consumes an urgent byte right before the FIN:
     * a socket closed with that byte unread would send a reset instead of a FIN, destroying what
     * is still queued toward its peer); otherwise there was nothing after all.
     */
    private long spliceStalled() {
        long p = raw.peek(src.fd);
        if (p > 0 || p == RawSock.SHUT) return copyIn();
        if (p == RawSock.AGAIN && !src.failed) {
            uncork(); // peek marked the fd not ready: epoll will say when bytes come
        } else {
            srcError(); // an error; or EAGAIN on a reset socket, which can only end
        }
        return 0;
    }

    /** No more splicing in this direction; a pipe still holding bytes drains first. */
    public void disableSplice() {
        spliceDisabled = true;
        if (pipeLen == 0) releasePipe();
    }

    private void readShut() {
        srcShut = true;
        fdt.stopRecvAtEnd(src.fd);
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
            resumed();
        }
    }

    /** Reading src again after we held it back: its read timeout starts now, not when we stopped. */
    private void resumed() {
        src.readSince = s.now();
        fdt.wantRecv(src.fd);
        s.rearmTimer();
    }

    // ---- sending -------------------------------------------------------------------------

    /** Sends what is held to dst, if dst can take it. */
    private void forward() {
        if (!s.isConnected() || dropped) return;
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
            // an emptied pipe stays with this direction while src keeps sending: the next
            // splice-in takes it back when src has run dry
            if (pipeLen == 0 && (srcShut || spliceDisabled)) releasePipe();
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
            long now = s.now();
            dst.writeSince = now;
            dst.readSince = now; // as HAProxy does: a peer that takes our bytes is not idle
            if (isEmpty()) fdt.stopSend(dst.fd);
            else fdt.wantSend(dst.fd);
            resumeRecv();
        } else if (n == RawSock.AGAIN) {
            fdt.wantSend(dst.fd);
        } else {
            s.peerFailed(dst); // the bytes dst sent before its reset still go the other way
        }
    }

    /**
     * dst failed (reset): what is held for it can never be delivered, and src is not read for it
     * any more. The stream resets src once the other direction has delivered what dst sent.
     */
    public void drop() {
        if (dropped) return;
        dropped = true;
        srcShut = true;
        dstShut = true;
        roomWait = false;
        if (src.fd >= 0) fdt.stopRecv(src.fd);
        if (dst.fd >= 0) fdt.stopSend(dst.fd);
        release();
    }

    private void shutdownDst() {
        dstShut = true;
        finSent = true;
        fdt.stopSend(dst.fd);
        // The last FIN of a stream goes out with close(), right after (halfClosed ends the stream):
        // the other direction read dst to its end, so dst's receive queue is empty and close()
        // sends a FIN, not a reset. One shutdown() fewer per connection.
        if (!s.otherFinSent(this)) Sock.shutdownWrite(sys, dst.fd);
        s.halfClosed();
    }

    /** This direction passed a FIN on to dst (not a reset, not dropped). */
    public boolean finSent() { return finSent; }

    // ---- resources -----------------------------------------------------------------------

    private boolean takeBuffer() {
        int id = takeGranted();
        if (id < 0) id = pool.acquire(urgent);
        if (id < 0) {
            pool.await(this, urgent);
            bufferWait = true;
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
        bufferWait = false;
        if (!srcShut && !s.isClosed()) resumed();
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

    /** Gives everything back (the stream is closing, or dst failed). */
    public void release() {
        bufferWait = false;
        pool.cancel(this);
        if (bufId >= 0) {
            pool.release(bufId);
            bufId = -1;
            buf = null;
        }
        head = tail = 0; // what it held is gone: the channel is empty now
        releasePipe();
    }
}
